import Channel
import HTTP2
import Testing
import UVLoop

/// A client and a server `HTTP2Session` joined in memory: `pump` moves each one's output into the
/// other until neither has anything left to say. No sockets, no loop.
@Suite struct HTTP2SessionTests {
    static let requestHeaders: [(String, String)] = [
        (":method", "POST"), (":scheme", "http"), (":path", "/grpc.testing.TestService/UnaryCall"),
        (":authority", "127.0.0.1"), ("content-type", "application/grpc"), ("te", "trailers"),
        ("x-custom-bin", "AAEC/w"),
    ]
    static let responseHeaders: [(String, String)] = [(":status", "200"), ("content-type", "application/grpc")]
    static let trailers: [(String, String)] = [("grpc-status", "0"), ("grpc-message", "done"), ("x-trailer", "t")]

    /// A pair of connected sessions and what each one reported.
    final class Pair {
        let client: Peer
        let server: Peer
        let clientSession: HTTP2Session
        let serverSession: HTTP2Session

        /// `pool`: both sessions take submitted blocks without a copy (as the gateway's do).
        init(client clientSettings: HTTP2LocalSettings = HTTP2LocalSettings(),
             server serverSettings: HTTP2LocalSettings = HTTP2LocalSettings(), pool: MetadataPool? = nil) {
            client = Peer()
            server = Peer()
            clientSession = HTTP2Session(role: .client, delegate: client, settings: clientSettings, headerPool: pool)
            serverSession = HTTP2Session(role: .server, delegate: server, settings: serverSettings, headerPool: pool)
        }

        /// Moves bytes both ways until both sessions are idle; returns the bytes moved.
        @discardableResult
        func pump(sourceLocation: SourceLocation = #_sourceLocation) -> Int {
            let buffer = OutputBuffer()
            var moved = 0
            for _ in 0 ..< 1000 {
                var progress = false
                for (from, to) in [(clientSession, serverSession), (serverSession, clientSession)] {
                    buffer.reset()
                    let produceError = from.produce(into: buffer, limit: 1 << 20)
                    #expect(produceError == nil, "produce: \(produceError!)", sourceLocation: sourceLocation)
                    guard buffer.count > 0 else { continue }
                    progress = true
                    moved += buffer.count
                    let receiveError = to.receive(buffer.bytes)
                    #expect(receiveError == nil, "receive: \(receiveError!)", sourceLocation: sourceLocation)
                }
                if !progress {
                    #expect(!clientSession.wantsWrite && !serverSession.wantsWrite, sourceLocation: sourceLocation)
                    return moved
                }
            }
            Issue.record("the sessions never went idle", sourceLocation: sourceLocation)
            return moved
        }

        func submitRequest(_ body: Body, endStream: Bool = false) -> Int32 {
            let id = clientSession.submitRequest(headers(HTTP2SessionTests.requestHeaders), source: body.pointer,
                                                 endStream: endStream)
            #expect(id > 0)
            client.bodies.append(body)
            return id
        }
    }

    // MARK: the cases

    /// A request with a body, then a response with a body and trailers: headers (in order, byte for
    /// byte), every DATA byte, the trailers and END_STREAM each reach the other side once.
    @Test func requestAndResponseWithTrailersArriveIntact() {
        let pair = Pair()
        pair.client.autoConsume = true
        pair.server.autoConsume = true
        let requestBytes = pattern(100_000, seed: 1)  // several DATA frames of at most 16 KiB
        let id = pair.submitRequest(Body(requestBytes, finished: true))
        pair.pump()

        #expect(pair.server.opened == [id])
        let request = pair.server.stream(id)
        #expect(request.headers.map(\.0) == Self.requestHeaders.map(\.0))
        #expect(request.headers.map(\.1) == Self.requestHeaders.map(\.1))
        #expect(request.headerBlocks == [.request])
        #expect(request.data == requestBytes)
        #expect(request.remoteEnded)
        #expect(request.closedWith == nil, "the server has not answered yet")

        let responseBytes = pattern(70_000, seed: 2)
        let response = Body(responseBytes, finished: true, trailers: Self.trailers)
        pair.server.bodies.append(response)
        pair.serverSession.submitResponse(streamID: id, headers(Self.responseHeaders), hasBody: true,
                                          source: response.pointer)
        pair.pump()

        let answer = pair.client.stream(id)
        #expect(answer.headers.map(\.0) == Self.responseHeaders.map(\.0))
        #expect(answer.trailers.map(\.0) == Self.trailers.map(\.0))
        #expect(answer.trailers.map(\.1) == Self.trailers.map(\.1))
        #expect(answer.headerBlocks == [.response, .trailers])
        #expect(answer.trailersEndedStream)
        #expect(answer.data == responseBytes)
        #expect(!answer.remoteEnded, "END_STREAM came on the trailers, not on a DATA frame")
        #expect(answer.closedWith == 0)
        #expect(pair.server.stream(id).closedWith == 0)
        #expect(pair.client.opened == [], "a client session never reports peer-opened streams")
    }

    /// With the worker's pool, nghttp2 gets a submitted block's bytes without a copy: given back
    /// before its frame is produced, the block is not handed out again (its bytes would become
    /// another head's), the peer still gets every field byte for byte, and once the frame is out
    /// the block is back in the pool.
    @Test func heldBlockGoesBackToThePoolOnlyOnceItsFrameIsSent() {
        let pool = MetadataPool()
        let pair = Pair(pool: pool)
        pair.server.autoConsume = true
        let block = pool.take()
        for (name, value) in Self.requestHeaders { block.append(name, value) }
        let body = Body([], finished: true)
        pair.client.bodies.append(body)
        let id = pair.clientSession.submitRequest(block, source: body.pointer, endStream: true)
        #expect(id > 0)
        #expect(block.holds == 1)
        pool.give(block)
        let other = pool.take()
        #expect(other !== block, "a block nghttp2 still points into is not handed out again")
        other.append("x-other", "written while the request waits")
        pair.pump()
        #expect(pair.server.stream(id).headers.map(\.0) == Self.requestHeaders.map(\.0))
        #expect(pair.server.stream(id).headers.map(\.1) == Self.requestHeaders.map(\.1))
        #expect(block.holds == 0)
        #expect(pool.take() === block, "given back to the pool once its HEADERS frame was serialized")

        // The response head and trailers the server submits are held and given back the same way.
        let head = pool.take()
        for (name, value) in Self.responseHeaders { head.append(name, value) }
        let trailers = pool.take()
        for (name, value) in Self.trailers { trailers.append(name, value) }
        pair.serverSession.submitResponse(streamID: id, head, hasBody: false, source: nil)
        #expect(head.holds == 1)
        pool.give(head)
        pair.pump()
        #expect(pair.client.stream(id).headers.map(\.1) == Self.responseHeaders.map(\.1))
        #expect(head.holds == 0 && pool.take() === head)
        pool.give(trailers)
        #expect(pool.take() === trailers, "a block never submitted goes back at once")
    }

    /// A deferred data source sends nothing, however often the session is pumped, until `resumeData`.
    @Test func deferredSourceSendsNothingUntilResumed() {
        let pair = Pair()
        pair.server.autoConsume = true
        let body = Body([], finished: false)
        let id = pair.submitRequest(body)
        pair.pump()
        #expect(pair.server.stream(id).headerBlocks == [.request])
        #expect(body.readyCalls == 1, "asked once, then deferred")

        let bytes = pattern(40_000, seed: 3)
        body.available = bytes
        body.finished = true
        pair.pump()
        #expect(pair.server.stream(id).data.isEmpty, "DATA without resumeData")
        #expect(!pair.server.stream(id).remoteEnded)
        #expect(body.readyCalls == 1)

        pair.clientSession.resumeData(streamID: id)
        pair.pump()
        #expect(pair.server.stream(id).data == bytes)
        #expect(pair.server.stream(id).remoteEnded)
    }

    /// Manual flow control: a receiver that never consumes stops the sender after exactly its
    /// initial stream window; each `consume` lets that many more bytes through.
    @Test func unconsumedWindowStopsTheSender() {
        let window: Int32 = 65_535
        let pair = Pair(server: HTTP2LocalSettings(initialStreamWindow: window))
        let bytes = pattern(200_000, seed: 4)
        let id = pair.submitRequest(Body(bytes, finished: true))
        pair.pump()
        #expect(pair.server.stream(id).data.count == Int(window))
        pair.pump()
        #expect(pair.server.stream(id).data.count == Int(window), "more bytes without a consume")

        pair.serverSession.consume(streamID: id, Int(window))
        pair.pump()
        #expect(pair.server.stream(id).data.count == 2 * Int(window))
        #expect(!pair.server.stream(id).remoteEnded)

        pair.server.autoConsume = true
        pair.serverSession.consume(streamID: id, Int(window))
        pair.pump()
        #expect(pair.server.stream(id).data == bytes)
        #expect(pair.server.stream(id).remoteEnded)
    }

    /// The same in the other direction: the client not consuming a response body stalls the server.
    @Test func unconsumedWindowStopsTheResponse() {
        let window: Int32 = 65_535
        let pair = Pair(client: HTTP2LocalSettings(initialStreamWindow: window))
        pair.server.autoConsume = true
        let id = pair.submitRequest(Body([], finished: true))
        pair.pump()
        let bytes = pattern(150_000, seed: 5)
        let response = Body(bytes, finished: true, trailers: Self.trailers)
        pair.server.bodies.append(response)
        pair.serverSession.submitResponse(streamID: id, headers(Self.responseHeaders), hasBody: true,
                                          source: response.pointer)
        pair.pump()
        #expect(pair.client.stream(id).data.count == Int(window))
        #expect(pair.client.stream(id).trailers.isEmpty)

        pair.client.autoConsume = true
        pair.clientSession.consume(streamID: id, Int(window))
        pair.pump()
        #expect(pair.client.stream(id).data == bytes)
        #expect(pair.client.stream(id).trailersEndedStream)
    }

    /// RST_STREAM from either side reaches the other side's `http2StreamClosed` with its error code;
    /// other streams on the connection go on.
    @Test(arguments: [(HTTP2Session.Role.client, HTTP2ErrorCode.cancel), (.server, .cancel), (.client, .internalError),
                      (.server, .refusedStream)])
    func resetReachesThePeer(by role: HTTP2Session.Role, error: HTTP2ErrorCode) {
        let errorCode = error.rawValue
        let pair = Pair()
        pair.server.autoConsume = true
        let reset = pair.submitRequest(Body([], finished: false))  // stays open: the source defers
        let other = pair.submitRequest(Body([], finished: false))
        pair.pump()
        #expect(pair.server.opened == [reset, other])

        let (resetter, resetterSession, peer) = role == .client
            ? (pair.client, pair.clientSession, pair.server)
            : (pair.server, pair.serverSession, pair.client)
        resetterSession.resetStream(streamID: reset, errorCode: errorCode)
        pair.pump()
        #expect(peer.stream(reset).closedWith == errorCode)
        #expect(resetter.stream(reset).closedWith == errorCode)
        #expect(peer.stream(other).closedWith == nil)
        #expect(resetter.stream(other).closedWith == nil)

        // The other stream still works.
        pair.client.bodies[1].available = [1, 2, 3]
        pair.client.bodies[1].finished = true
        pair.clientSession.resumeData(streamID: other)
        pair.pump()
        #expect(pair.server.stream(other).data == [1, 2, 3])
        #expect(pair.server.stream(other).remoteEnded)
    }

    /// GOAWAY from the server names the last stream it processed.
    @Test func goAwayReachesTheClient() {
        let pair = Pair()
        let first = pair.submitRequest(Body([], finished: true))
        let second = pair.submitRequest(Body([], finished: true))
        pair.pump()
        #expect(pair.client.settingsReceived == 1)
        #expect(pair.server.settingsReceived == 1)
        pair.serverSession.submitGoAway()
        pair.pump()
        #expect(pair.client.goAways.count == 1)
        #expect(pair.client.goAways.first?.lastStreamID == max(first, second))
        #expect(pair.client.goAways.first?.errorCode == HTTP2ErrorCode.noError.rawValue)
    }
}

// MARK: test doubles

/// One side's outgoing body: the bytes available so far, whether they are all, and trailers.
final class Body {
    var available: [UInt8]
    var finished: Bool
    let trailers: [(String, String)]?
    private var offset = 0
    private(set) var readyCalls = 0

    init(_ bytes: [UInt8], finished: Bool, trailers: [(String, String)]? = nil) {
        available = bytes
        self.finished = finished
        self.trailers = trailers
    }

    /// The data source pointer given to the session (the owner keeps the Body alive).
    var pointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ source: UnsafeMutableRawPointer?) -> Body {
        Unmanaged<Body>.fromOpaque(source!).takeUnretainedValue()
    }

    func ready(_ session: HTTP2Session, streamID: Int32, maxLength: Int) -> HTTP2DataReady {
        readyCalls += 1
        let left = available.count - offset
        let n = min(left, maxLength)
        guard n == left, finished else { return n > 0 ? .bytes(n, end: .none) : .deferred }
        if let trailers {
            session.submitTrailer(streamID: streamID, headers(trailers))
            return .bytes(n, end: .trailers)
        }
        return .bytes(n, end: .endStream)
    }

    func write(into: UnsafeMutableRawBufferPointer) {
        available.withUnsafeBytes { src in
            into.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset ..< offset + into.count]))
        }
        offset += into.count
    }
}

/// Records what one session reports, per stream, and serves its bodies.
final class Peer: HTTP2SessionDelegate {
    struct Stream {
        var headers: [(String, String)] = []
        var trailers: [(String, String)] = []
        var headerBlocks: [HTTP2HeadersKind] = []
        var trailersEndedStream = false
        var data: [UInt8] = []
        var remoteEnded = false
        var closedWith: UInt32?
    }

    var streams: [Int32: Stream] = [:]
    var opened: [Int32] = []
    var bodies: [Body] = []
    var goAways: [(lastStreamID: Int32, errorCode: UInt32)] = []
    var settingsReceived = 0
    /// Give every received DATA byte back to the sender's window at once.
    var autoConsume = false

    func stream(_ id: Int32) -> Stream { streams[id] ?? Stream() }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {
        opened.append(streamID)
    }

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let field = (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        // Fields of the second block (after the response or request headers) are trailers.
        if streams[streamID, default: Stream()].headerBlocks.isEmpty {
            streams[streamID, default: Stream()].headers.append(field)
        } else {
            streams[streamID, default: Stream()].trailers.append(field)
        }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        streams[streamID, default: Stream()].headerBlocks.append(kind)
        if kind == .trailers { streams[streamID, default: Stream()].trailersEndedStream = endStream }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        streams[streamID, default: Stream()].data.append(contentsOf: bytes)
        if autoConsume { session.consume(streamID: streamID, bytes.count) }
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        streams[streamID, default: Stream()].remoteEnded = true
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        #expect(streams[streamID]?.closedWith == nil, "stream \(streamID) closed twice")
        streams[streamID, default: Stream()].closedWith = errorCode
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {
        goAways.append((lastStreamID, errorCode))
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        settingsReceived += 1
    }

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        Body.from(source).ready(session, streamID: streamID, maxLength: maxLength)
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        Body.from(source).write(into: into)
    }
}

func headers(_ fields: [(String, String)]) -> Metadata {
    let h = Metadata()
    for (name, value) in fields { h.append(name, value) }
    return h
}

/// Deterministic bytes that do not line up with frame or window sizes.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0 ..< count).map { UInt8(truncatingIfNeeded: $0 % 251) &+ seed }
}

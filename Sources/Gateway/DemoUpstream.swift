import Channel
import Glibc
import HTTP2
import Transcoding
import UVLoop

/// The demo gRPC service `trestle.demo.v1.Echo` (routes/demo.proto), served by the project's own
/// HTTP/2 code: a fast upstream for tests and benchmarks.
///
/// - `Echo` (unary): the request's message and payload back (a request with only those fields is
///   echoed byte for byte: EchoRequest and EchoResponse share those field numbers); `response_size`
///   sets the reply's payload size, `delay_ms` delays the reply, `status` answers that status
///   instead (with google.rpc details when `with_details`).
/// - `Expand` (server streaming): `count` replies, `index` 0…count-1, each after `delay_ms`,
///   then `status` (OK by default).
/// - `Collect` (client streaming): one reply once the stream ends: the messages joined by spaces,
///   `index` = how many there were.
/// - `Chat` (bidi): every request byte echoed as it arrives, with back-pressure (full duplex).
public enum DemoUpstream {
    public static func run(host: String, port: UInt16, workers: Int) -> Int32 {
        guard let addr = ResolvedAddress(ip: host, port: port) else {
            printStderr("trestle demo-upstream: \(host) is not an IP address")
            return 1
        }
        signal(SIGPIPE, SIG_IGN)
        var servers: [DemoServer] = []
        do {
            for _ in 0 ..< max(1, workers) { servers.append(try DemoServer(address: addr)) }
        } catch {
            printStderr("trestle demo-upstream: cannot listen on \(host):\(port): \(error)")
            return 1
        }
        for s in servers.dropFirst() { s.start() }
        printStderr("trestle demo-upstream: ready listen=\(addr) workers=\(servers.count)")
        servers[0].runHere()
        return 0
    }

    /// Starts the service on its own threads (for `trestle demo`, beside the gateway) and returns
    /// once it listens; the threads run until the process exits.
    public static func startInBackground(host: String, port: UInt16, workers: Int) throws {
        guard let addr = ResolvedAddress(ip: host, port: port) else {
            throw DemoError("the demo service needs an IP address, not \(host)")
        }
        signal(SIGPIPE, SIG_IGN)
        do {
            for _ in 0 ..< max(1, workers) { try DemoServer(address: addr).start() }
        } catch {
            throw DemoError("cannot listen on \(host):\(port) for the demo service: \(error)")
        }
    }
}

public struct DemoError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

final class DemoServer {
    let loop: Loop
    let flushQueue: FlushQueue
    private var listener: TCPListener!
    private var thread = pthread_t()
    var connections: [ObjectIdentifier: DemoConnection] = [:]

    init(address: ResolvedAddress) throws {
        loop = try Loop()
        flushQueue = FlushQueue(loop: loop)
        listener = try TCPListener(loop: loop, address: address, reusePort: true) { [unowned self] l in
            guard let tcp = l.accept() else { return }
            let c = DemoConnection(server: self, tcp: tcp)
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    func start() {
        pthread_create(&thread, nil, { arg in
            Unmanaged<DemoServer>.fromOpaque(arg!).takeRetainedValue().runHere()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
    }

    func runHere() { loop.run() }
}

/// One call on the demo service. `Chat` (and a plain `Echo`) relay request bytes straight back;
/// the other methods read whole messages and answer per `EchoRequest`'s fields.
final class DemoStream {
    let id: Int32
    var method: DemoMethod = .unknown
    /// Response bytes (gRPC-framed) waiting for the session to pull them.
    var queue = ByteQueue()
    /// Request bytes of a message-level method (their frames decoded at the end of the request).
    var request: [UInt8] = []
    var requestEnded = false
    /// The response's end is decided: trailers follow the queued bytes.
    var ended = false
    var trailers: Metadata?
    var timer: Timer?
    var expandLeft = 0
    var expandIndex: Int32 = 0
    var expand = DemoRequest()
    /// Expand without delay: replies are produced when the queue runs low.
    var expandOnDemand = false
    init(id: Int32) { self.id = id }
}

enum DemoMethod { case echo, expand, collect, chat, unknown }

/// The fields of `trestle.demo.v1.EchoRequest` (routes/demo.proto) the service acts on.
struct DemoRequest {
    var message: [UInt8] = []
    var payload: [UInt8] = []
    var responseSize = 0
    var delayMs = 0
    var count = 0
    var statusCode: Int?
    var statusMessage = ""
    var withDetails = false
    /// Only `message` and `payload` set: the bytes can be echoed as they are.
    var isPlain = true

    init() {}

    init(_ raw: UnsafeRawBufferPointer) throws(TranscodeError) {
        var r = ProtoReader(raw)
        while let (n, w) = try r.readTag() {
            switch (n, w) {
            case (1, .lengthDelimited): message = Array(try r.readLengthDelimited())
            case (2, .lengthDelimited): payload = Array(try r.readLengthDelimited())
            case (3, .varint): responseSize = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (4, .varint): delayMs = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (5, .varint): count = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (6, .lengthDelimited):
                isPlain = false
                var s = ProtoReader(try r.readLengthDelimited())
                statusCode = 0
                while let (sn, sw) = try s.readTag() {
                    switch (sn, sw) {
                    case (1, .varint): statusCode = Int(Int32(truncatingIfNeeded: try s.readVarint()))
                    case (2, .lengthDelimited): statusMessage = String(decoding: try s.readLengthDelimited(), as: UTF8.self)
                    case (3, .varint): withDetails = try s.readVarint() != 0
                    default: try s.skip(sw, number: sn)
                    }
                }
            default:
                try r.skip(w, number: n)
            }
        }
    }

    /// `EchoResponse{message, payload (or response_size bytes), index}`, gRPC-framed.
    func response(index: Int32) -> [UInt8] {
        var w = ProtoWriter(capacity: message.count + max(payload.count, responseSize) + 16)
        if !message.isEmpty { w.appendTag(1, .lengthDelimited); w.appendLengthDelimited(message) }
        if responseSize > 0 {
            w.appendTag(2, .lengthDelimited)
            w.appendLengthDelimited([UInt8](repeating: UInt8(ascii: "x"), count: min(responseSize, 64 << 20)))
        } else if !payload.isEmpty {
            w.appendTag(2, .lengthDelimited); w.appendLengthDelimited(payload)
        }
        if index != 0 { w.appendTag(7, .varint); w.appendVarint(UInt64(UInt32(bitPattern: index))) }
        var framed: [UInt8] = []
        framed.reserveCapacity(w.bytes.count + 5)
        GRPCFrame.writeHeader(compressed: false, length: UInt32(w.bytes.count), into: &framed)
        framed.append(contentsOf: w.bytes)
        return framed
    }

    /// The trailers that end the call: OK, or the status asked for (with google.rpc details).
    func trailers() -> Metadata {
        let t = Metadata(reservingBytes: 128, fields: 3)
        guard let code = statusCode, code != 0 else {
            t.append("grpc-status", "0")
            return t
        }
        t.append("grpc-status", String(code))
        t.append("grpc-message", GRPCStatusMessage.encode(statusMessage))
        if withDetails {
            // google.rpc.Status{code, message, details: [Any(google.rpc.ErrorInfo{reason, domain})]}
            var info = ProtoWriter()
            info.appendTag(1, .lengthDelimited); info.appendLengthDelimited(Array("DEMO_ERROR".utf8))
            info.appendTag(2, .lengthDelimited); info.appendLengthDelimited(Array("trestle.demo".utf8))
            var any = ProtoWriter()
            any.appendTag(1, .lengthDelimited); any.appendLengthDelimited(Array("type.googleapis.com/google.rpc.ErrorInfo".utf8))
            any.appendTag(2, .lengthDelimited); any.appendLengthDelimited(info.bytes)
            var status = ProtoWriter()
            status.appendTag(1, .varint); status.appendVarint(UInt64(UInt32(bitPattern: Int32(code))))
            status.appendTag(2, .lengthDelimited); status.appendLengthDelimited(Array(statusMessage.utf8))
            status.appendTag(3, .lengthDelimited); status.appendLengthDelimited(any.bytes)
            var text: [UInt8] = []
            status.bytes.withUnsafeBytes { Base64.encode($0, into: &text) }
            while text.last == UInt8(ascii: "=") { text.removeLast() }  // gRPC -bin values are unpadded
            t.append("grpc-status-details-bin", String(decoding: text, as: UTF8.self))
        }
        return t
    }
}

final class DemoConnection: TCPStreamDelegate, HTTP2SessionDelegate, Flushable {
    unowned(unsafe) let server: DemoServer
    let tcp: TCPStream
    var session: HTTP2Session!
    var streams: [Int32: DemoStream] = [:]
    var out = OutputBuffer(), writing = OutputBuffer()
    var flushScheduled = false
    private var closed = false

    static let paths: [(path: [UInt8], method: DemoMethod)] = [
        (Array("/trestle.demo.v1.Echo/Echo".utf8), DemoMethod.echo),
        (Array("/trestle.demo.v1.Echo/Chat".utf8), DemoMethod.chat),
        (Array("/trestle.demo.v1.Echo/Expand".utf8), DemoMethod.expand),
        (Array("/trestle.demo.v1.Echo/Collect".utf8), DemoMethod.collect),
    ]

    /// The largest request a message-level method accepts (the rest is RESOURCE_EXHAUSTED).
    static let maxRequest = 16 << 20

    init(server: DemoServer, tcp: TCPStream) {
        self.server = server
        self.tcp = tcp
        session = HTTP2Session(role: .server, delegate: self,
                               settings: HTTP2LocalSettings(maxConcurrentStreams: 1000, initialStreamWindow: 1 << 20,
                                                            connectionWindow: 1 << 26))
        tcp.delegate = self
        tcp.startReading()
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        if session.receive(bytes) != nil { close(); return }
        server.flushQueue.schedule(self)
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        writing.reset()
        if error != nil { close(); return }
        flush()
    }

    func flush() {
        guard !closed, !tcp.writeInFlight else { return }
        while true {
            if session.produce(into: out, limit: 256 * 1024) != nil { close(); return }
            guard out.count > 0 else { break }
            swap(&out, &writing)
            guard tcp.write(writing.bytes) else { return }
            writing.reset()
        }
        if !session.wantsRead && !session.wantsWrite { close() }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        for s in streams.values { s.timer?.close(); s.timer = nil }
        streams.removeAll()
        session = nil
        tcp.close()
        server.connections.removeValue(forKey: ObjectIdentifier(self))
    }

    private func stream(_ p: UnsafeMutableRawPointer?) -> DemoStream? {
        p.map { Unmanaged<DemoStream>.fromOpaque($0).takeUnretainedValue() }
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {
        let s = DemoStream(id: streamID)
        streams[streamID] = s
        session.setStreamUserData(streamID, Unmanaged.passUnretained(s).toOpaque())
    }

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let s = stream(userData), name.equals(":path") else { return }
        if let m = Self.paths.first(where: { value.elementsEqual($0.path) }) { s.method = m.method }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let s = stream(userData) else { return }
        if kind != .request {
            if endStream { requestEnded(s) }
            return
        }
        let h = Metadata(reservingBytes: 96, fields: 4)
        h.append(":status", "200")
        h.append("content-type", "application/grpc")
        if s.method == .unknown {
            h.append("grpc-status", "12")
            h.append("grpc-message", "method not implemented by the demo service")
            session.submitResponse(streamID: streamID, h, hasBody: false, source: nil)
            return
        }
        session.submitResponse(streamID: streamID, h, hasBody: true, source: userData)
        if endStream { requestEnded(s) }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        guard let s = stream(userData), s.method != .unknown else {
            session.consume(streamID: streamID, bytes.count)
            return
        }
        if s.method == .chat {
            // Byte echo with back-pressure: the window opens as the echo is written.
            s.queue.append(bytes)
            session.resumeData(streamID: streamID)
            return
        }
        session.consume(streamID: streamID, bytes.count)
        guard s.request.count + bytes.count <= Self.maxRequest else {
            s.request = []
            finish(s, status: 8, message: "request larger than the demo service's \(Self.maxRequest) bytes")
            return
        }
        s.request.append(contentsOf: bytes)
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let s = stream(userData) else { return }
        requestEnded(s)
    }

    /// The request is complete: answer per method.
    private func requestEnded(_ s: DemoStream) {
        guard !s.requestEnded else { return }
        s.requestEnded = true
        if s.method == .chat {
            s.ended = true
            session.resumeData(streamID: s.id)
            return
        }
        var messages: [DemoRequest] = []
        var offset = 0
        do throws(TranscodeError) {
            while offset + 5 <= s.request.count {
                let length = Int(s.request[offset + 1]) << 24 | Int(s.request[offset + 2]) << 16
                    | Int(s.request[offset + 3]) << 8 | Int(s.request[offset + 4])
                guard offset + 5 + length <= s.request.count else { break }
                let range = (offset + 5)..<(offset + 5 + length)
                messages.append(try s.request.withTypedThrows { (raw) throws(TranscodeError) in
                    try DemoRequest(UnsafeRawBufferPointer(rebasing: raw[range]))
                })
                offset += 5 + length
            }
        } catch {
            finish(s, status: 3, message: "cannot parse EchoRequest: \(error.message)")
            return
        }
        if offset != s.request.count {
            finish(s, status: 13, message: "the request ended inside a gRPC message")
            return
        }
        switch s.method {
        case .echo:
            guard let first = messages.first, messages.count == 1 else {
                finish(s, status: 12, message: "Echo takes exactly one request message")
                return
            }
            if first.isPlain {
                // The fast path of benchmarks: the request bytes are the response.
                s.request.withUnsafeBytes { s.queue.append($0) }
                finish(s, trailers: first.trailers())
                return
            }
            after(first.delayMs, s) { [unowned self] in
                if first.statusCode == nil || first.statusCode == 0 { self.send(s, first.response(index: 0)) }
                self.finish(s, trailers: first.trailers())
            }
        case .expand:
            s.expand = messages.first ?? DemoRequest()
            s.expandLeft = max(0, min(s.expand.count, 1_000_000))
            expandNext(s)
        case .collect:
            var reply = DemoRequest()
            reply.message = Array(messages.map { String(decoding: $0.message, as: UTF8.self) }.joined(separator: " ").utf8)
            send(s, reply.response(index: Int32(messages.count)))
            finish(s, trailers: reply.trailers())
        case .chat, .unknown:
            break
        }
        s.request = []
    }

    private func expandNext(_ s: DemoStream) {
        guard s.expandLeft > 0 else {
            finish(s, trailers: s.expand.trailers())
            return
        }
        if s.expand.delayMs <= 0 {
            // No delay: replies are made as the session pulls them (`http2DataReady`), so a long
            // stream to a slow client is held back by flow control, not queued whole.
            s.expandOnDemand = true
            session?.resumeData(streamID: s.id)
            return
        }
        after(s.expand.delayMs, s) { [unowned self] in
            s.expandLeft -= 1
            self.send(s, s.expand.response(index: s.expandIndex))
            s.expandIndex += 1
            self.expandNext(s)
        }
    }

    /// Runs `body` after `ms` milliseconds (at once for 0), unless the stream is gone by then.
    private func after(_ ms: Int, _ s: DemoStream, _ body: @escaping () -> Void) {
        guard ms > 0 else { body(); return }
        s.timer?.close()
        s.timer = Timer(loop: server.loop) { [weak self, weak s] in
            guard let self, let s, !self.closed, self.streams[s.id] != nil else { return }
            body()
            self.server.flushQueue.schedule(self)
        }
        s.timer?.start(timeoutMs: UInt64(ms))
    }

    private func send(_ s: DemoStream, _ framed: [UInt8]) {
        framed.withUnsafeBytes { s.queue.append($0) }
        session?.resumeData(streamID: s.id)
    }

    private func finish(_ s: DemoStream, trailers: Metadata) {
        guard !s.ended else { return }
        s.trailers = trailers
        s.ended = true
        session?.resumeData(streamID: s.id)
    }

    private func finish(_ s: DemoStream, status: Int, message: String) {
        var r = DemoRequest()
        r.statusCode = status
        r.statusMessage = message
        finish(s, trailers: r.trailers())
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        if let s = streams.removeValue(forKey: streamID) {
            s.timer?.close()
            s.timer = nil
            if s.method == .chat { session.consumeConnection(s.queue.count) }
        }
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}
    func http2SettingsReceived(_ session: HTTP2Session) {}

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let s = stream(source) else { return .bytes(0, end: .endStream) }
        if s.expandOnDemand {
            while s.queue.count < 64 * 1024 && s.expandLeft > 0 {
                s.expand.response(index: s.expandIndex).withUnsafeBytes { s.queue.append($0) }
                s.expandIndex += 1
                s.expandLeft -= 1
            }
            if s.expandLeft == 0 && !s.ended {
                s.expandOnDemand = false
                s.trailers = s.expand.trailers()
                s.ended = true
            }
        }
        let n = min(s.queue.count, maxLength)
        if n == s.queue.count, s.ended {
            let t = s.trailers ?? {
                let t = Metadata(reservingBytes: 16, fields: 1)
                t.append("grpc-status", "0")
                return t
            }()
            s.trailers = nil
            session.submitTrailer(streamID: streamID, t)
            return .bytes(n, end: .trailers)
        }
        return n > 0 ? .bytes(n, end: .none) : .deferred
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let s = stream(source) else { return }
        s.queue.read(into: into)
        if s.method == .chat { session.consume(streamID: streamID, into.count) }
    }
}

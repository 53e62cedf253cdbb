import Channel
import HTTP1

/// One HTTP/1.1 request and its response (RFC 9112) on a `ServerConnection` in HTTP/1.1 mode, as
/// a `ClientStream`. The connection parses; the exchange starts the call (with the frontend its
/// content type and method ask for: gRPC-Web, gRPC over HTTP/1.1, else JSON), hands it the body, and writes the response into the
/// connection's output: the head once, the body (chunked when its length is not known), the end
/// with trailers where the client sent `TE: trailers`.
///
/// Flow control: body bytes handed to the call and not yet taken (`untaken`) above a high
/// watermark stop the socket from being read; it reads again below the low one. Response bytes
/// wait in the connection's output buffer; the call hears `written` when it drains.
///
/// Owned by the connection while it is the request being served (then kept until the next
/// flush, so that a call finishing inside its own callbacks is not freed under them); it owns
/// the call, which holds it too until `detach()` ends that cycle. Loop-thread only.
final class HTTP1Exchange: ClientStream {
    unowned(unsafe) let conn: ServerConnection
    /// Outlives every connection and call (the exchange may outlive its connection).
    unowned(unsafe) let worker: Worker
    let head: HTTP1RequestHead
    private(set) var call: Call?
    private(set) var requestEnded = false
    private(set) var responseStarted = false
    private(set) var responseEnded = false
    private var chunked = false
    /// The connection closes once this response is written.
    var closeAfterResponse: Bool
    /// Request body bytes handed to the call and not yet taken by it (counted in the worker's
    /// held bytes with the connection's output, `ServerConnection.h1CountHeld`).
    private(set) var untaken = 0
    /// Upstream response window granted beyond the initial one, from the worker's budget;
    /// given back when the exchange is over (`detach`).
    private var responseGrant = 0
    /// Body bytes received so far, and at the connection's last `min_rate` tick.
    private var bytesIn = 0
    private var bytesInAtTick = 0
    /// A chunked body of gRPC-framed messages (gRPC over HTTP/1.1, binary gRPC-Web): its message
    /// boundaries, for `min_rate`, which judges such a body inside a message only.
    private var requestFrames = GRPCFrameTracker()
    private var requestFramed = false
    /// How long no byte moved either way, as of the last tick.
    private var idleMs: UInt64 = 0
    /// A tick has passed since the stream opened (the first one counts no idleness).
    private var ticked = false

    init(conn: ServerConnection, head: HTTP1RequestHead) {
        self.conn = conn
        worker = conn.worker
        self.head = head
        closeAfterResponse = !head.keepAlive
    }

    /// Starts the call for this request; nil: a CORS preflight, answered at once without a call
    /// (`CORSPreflight`).
    func start() -> Call? {
        let request = JSONRequestHead(method: head.method, target: head.target, authority: head.headers.first("Host"),
                                      fields: .http1(head.headers), peer: conn.peerHost, http2Head: nil,
                                      secure: conn.isSecure, clientCertificate: conn.forwardedClientCertificate)
        if head.method == "OPTIONS" && CORSPreflight.isPreflight(request) {
            CORSPreflight.answer(request, snapshot: conn.worker.snapshot, client: self, pool: conn.worker.headerPool)
            return nil
        }
        // gRPC-Web, gRPC over HTTP/1.1, by content type; everything else is JSON.
        var contentType = head.headers.first("Content-Type") ?? ""
        let format = contentType.withUTF8 { CallHeadBuilder.contentType(of: UnsafeRawBufferPointer($0)) }
        requestFramed = head.body == .chunked && (format == .grpc || format == .grpcWeb)
        if format.isGRPCWeb {
            let f = GRPCWebFrontend(pool: conn.worker.headerPool, format: format)
            let call = Call(worker: conn.worker, client: self, frontend: f)
            self.call = call
            f.start(call, request)
            return call
        }
        if format == .grpc {
            // gRPC over HTTP/1.1: framed bodies, streamed both ways.
            let f = GRPCHTTP1Frontend(pool: conn.worker.headerPool)
            let call = Call(worker: conn.worker, client: self, frontend: f)
            self.call = call
            f.start(call, request)
            return call
        }
        let f = JSONFrontend(pool: conn.worker.headerPool)
        let call = Call(worker: conn.worker, client: self, frontend: f)
        self.call = call
        f.start(call, request)
        return call
    }

    // MARK: request, from the connection's parser

    func body(_ bytes: UnsafeRawBufferPointer) {
        untaken += bytes.count
        bytesIn &+= bytes.count
        if requestFramed { _ = requestFrames.feed(bytes) }
        call?.clientData(bytes)
        if untaken > ServerConnection.untakenHighWater { conn.h1PauseReading() }
    }

    func end() {
        requestEnded = true
        call?.clientEnd()
        completeIfDone()
    }

    /// The connection is going away, or refused the rest of the request.
    func clientGone() {
        call?.clientGone()
    }

    /// Lets go of the call (the exchange is over and no call method is running). From here on
    /// the exchange writes nothing: its call may outlive the connection (an attempt holds the
    /// call until its upstream stream closes).
    func detach() {
        call = nil
        detached = true
        worker.returnResponseWindow(responseGrant)
        responseGrant = 0
    }

    deinit {
        // An exchange its connection never detached: the grant goes back.
        worker.returnResponseWindow(responseGrant)
    }

    private var detached = false

    /// The connection's output drained (a socket write completed).
    func written() {
        call?.responseWritten(0)
    }

    private func completeIfDone() {
        guard requestEnded, responseEnded else { return }
        conn.h1ExchangeComplete(self)
    }

    // MARK: ClientStream

    /// Read once: the `TE` lookup goes through the head's String fields.
    private(set) lazy var acceptsTrailers: Bool = head.version == .http11 && head.headers.acceptsTrailers

    var responseBacklog: Int { detached ? 0 : conn.outputBacklog }

    /// One exchange at a time on its connection: up to the whole stream window, as far as the
    /// worker's budget allows.
    func grantResponseWindow(_ wanted: Int) -> Int {
        guard !detached, wanted > 0 else { return 0 }
        let grant = worker.grantResponseWindow(wanted)
        responseGrant += grant
        return grant
    }

    func requestTaken(_ count: Int) {
        guard !detached else { return }
        untaken -= count
        conn.h1CountHeld()
        if untaken < ServerConnection.untakenLowWater && conn.h1Pending.count <= ServerConnection.pendingLimit && !requestEnded {
            conn.h1ResumeReading()
        }
    }

    private(set) var responseStatus = 0
    var httpVersion: StaticString { head.version == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
    var peerText: String? { conn.peerText }
    func withRequestTarget(_ body: (UnsafeRawBufferPointer) -> Void) {
        var target = head.target
        target.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    func sendHead(status: Int, fields: Metadata, contentLength: Int?, endStream: Bool) {
        guard !detached, conn.mode == .http1, !responseStarted else { return }
        responseStarted = true
        responseStatus = status
        // A response that ends before its request did leaves unread body bytes: close after it.
        let bodyless = head.body == .none || head.body == .contentLength(0)
        if !requestEnded && !bodyless && (contentLength != nil || status >= 400) { closeAfterResponse = true }
        if contentLength == nil {
            if head.version == .http11 {
                chunked = true
            } else {
                closeAfterResponse = true  // HTTP/1.0: the body ends when the connection closes
            }
        }
        // Written directly: the fields are the gateway's own and the upstream's, whose names and
        // values nghttp2 has validated (RFC 9113 §8.2.1: no CR, LF or NUL), so they are valid
        // HTTP/1.1 field lines (RFC 9112 §5).
        var b: [UInt8] = []
        swap(&b, &conn.h1HeadScratch)
        b.removeAll(keepingCapacity: true)
        b.append(contentsOf: "HTTP/1.1 ".utf8)
        b.append(contentsOf: String(status).utf8)
        b.append(UInt8(ascii: " "))
        b.append(contentsOf: HTTP1ResponseWriter.reasonPhrase(for: status).utf8)
        b.append(contentsOf: "\r\n".utf8)
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            if name.first == UInt8(ascii: ":") { continue }
            b.append(contentsOf: name)
            b.append(contentsOf: ": ".utf8)
            b.append(contentsOf: value)
            b.append(contentsOf: "\r\n".utf8)
        }
        if let contentLength {
            b.append(contentsOf: "content-length: ".utf8)
            b.append(contentsOf: String(contentLength).utf8)
            b.append(contentsOf: "\r\n".utf8)
        } else if chunked {
            b.append(contentsOf: "transfer-encoding: chunked\r\n".utf8)
        }
        if closeAfterResponse {
            b.append(contentsOf: "connection: close\r\n".utf8)
        } else if head.version == .http10 {
            b.append(contentsOf: "connection: keep-alive\r\n".utf8)
        }
        b.append(contentsOf: "\r\n".utf8)
        b.withUnsafeBytes { conn.out.append($0) }
        swap(&b, &conn.h1HeadScratch)
        conn.scheduleFlush()
        if endStream { sendEnd(trailers: nil) }
    }

    private static let crlfText: StaticString = "\r\n"
    /// Static storage: valid for the process's life.
    private static var crlf: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: crlfText.utf8Start, count: crlfText.utf8CodeUnitCount)
    }

    func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !detached, conn.mode == .http1, !bytes.isEmpty, !responseEnded else { return }
        if chunked {
            // The chunk-size line in a stack buffer (at most 16 hex digits and CRLF): no
            // allocation per chunk.
            withUnsafeTemporaryAllocation(byteCount: 18, alignment: 1) { line in
                var n = 0
                var shift = 60
                while shift > 0 && (bytes.count >> shift) & 15 == 0 { shift -= 4 }
                while shift >= 0 {
                    let d = UInt8((bytes.count >> shift) & 15)
                    line[n] = d < 10 ? 0x30 + d : 0x57 + d  // 0-9, a-f
                    n += 1
                    shift -= 4
                }
                line[n] = 13
                line[n + 1] = 10
                conn.out.append(UnsafeRawBufferPointer(rebasing: line[0 ..< n + 2]))
            }
            conn.out.append(bytes)
            conn.out.append(Self.crlf)
        } else {
            conn.out.append(bytes)
        }
        conn.scheduleFlush()
    }

    func sendEnd(trailers: Metadata?) {
        defer { if let trailers, !detached { conn.worker.headerPool.give(trailers) } }
        guard !detached, conn.mode == .http1, !responseEnded else { return }
        if chunked {
            // The last chunk and the trailer section (RFC 9112 §7.1.2), written directly as the
            // head is (sendHead): the fields are the gateway's own and the upstream's, whose
            // names and values nghttp2 has validated (no CR, LF or NUL).
            var b: [UInt8] = []
            swap(&b, &conn.h1HeadScratch)
            b.removeAll(keepingCapacity: true)
            b.append(contentsOf: "0\r\n".utf8)
            if let trailers, acceptsTrailers {
                for i in 0 ..< trailers.count {
                    let (name, value) = trailers.field(i)
                    if name.first == UInt8(ascii: ":") { continue }
                    b.append(contentsOf: name)
                    b.append(contentsOf: ": ".utf8)
                    b.append(contentsOf: value)
                    b.append(contentsOf: "\r\n".utf8)
                }
            }
            b.append(contentsOf: "\r\n".utf8)
            b.withUnsafeBytes { conn.out.append($0) }
            swap(&b, &conn.h1HeadScratch)
        }
        responseEnded = true
        if !requestEnded && closeAfterResponse {
            // The rest of the request body is not worth reading: close once this is written.
            conn.h1AbandonRequest(self)
        }
        conn.scheduleFlush()
        completeIfDone()
    }
}

extension HTTP1Exchange {
    /// Once per `min_rate_window` (`ServerConnection.streamTick`), while the connection is being
    /// read: a request body under way that moved less than `min_rate` ends the call 408 (the
    /// connection closes after the answer: the rest of the body is not read). Under way: a body
    /// of known length before its end; a chunked body inside a chunk (`insideChunk`) or, for
    /// gRPC-framed content, inside a message. A chunked body between chunks (JSON streaming,
    /// a client stream between messages) may pause.
    ///
    /// `stream_idle_timeout` too: an exchange whose call moved no byte either way (`movedOut`:
    /// the connection's socket, this tick) for that long ends DEADLINE_EXCEEDED, 408.
    func tick(tickMs: UInt64, reading: Bool, insideChunk: Bool, movedOut: UInt64) {
        let moved = bytesIn &- bytesInAtTick
        bytesInAtTick = bytesIn
        guard !detached, let call, !call.isFinished else { return }
        let limits = conn.worker.limits
        // The first tick counts no idleness: part of it may be from before the stream opened,
        // which would end a quiet stream up to a tick before stream_idle_timeout.
        idleMs = moved == 0 && movedOut == 0 ? (ticked ? idleMs + tickMs : 0) : 0
        ticked = true
        if idleMs >= limits.streamIdleTimeoutMs {
            conn.worker.counters.limitHit(.streamIdle)
            closeAfterResponse = true
            call.fail(.deadlineExceeded, "stream idle for \(idleMs)ms (stream_idle_timeout)", httpStatus: 408)
            return
        }
        guard !requestEnded, reading, limits.minRateWindowBytes > 0 else { return }
        switch head.body {
        case .contentLength(let n) where n > 0: break
        case .chunked where insideChunk || (requestFramed && requestFrames.insideMessage): break
        default: return
        }
        guard moved < limits.minRateWindowBytes else { return }
        conn.worker.counters.limitHit(.minRateRequest)
        closeAfterResponse = true
        call.fail(.deadlineExceeded, "request body slower than min_rate: \(moved) bytes in \(tickMs)ms, "
            + "at least \(limits.minRateBytesPerSecond) bytes/s expected", httpStatus: 408)
    }

    /// The response could not reach the client (it stopped reading): the call ends
    /// DEADLINE_EXCEEDED with `message` and writes nothing more.
    func responseNotRead(_ message: String) {
        guard !detached, let call, !call.isFinished else { return }
        call.fail(.deadlineExceeded, message)
    }
}

import Channel
import HTTP2
import UVLoop

/// One client HTTP/2 stream (RFC 9113 §5) on a `ServerConnection`, as a `ClientStream`: it
/// collects the request head through the core's filter as nghttp2 reports each field, starts the
/// call with the frontend its `content-type` asks for (native gRPC, gRPC-Web, else JSON; a CORS preflight is answered without a call), passes request
/// DATA on, and serves the response: headers submitted at once, DATA pulled by nghttp2 from its
/// queue (written into frames without another copy), trailers after the last byte.
///
/// Flow control: the client's window opens only for request bytes the call has taken
/// (`requestTaken`); response bytes leave the queue as nghttp2 frames them, which the call hears
/// as `responseWritten` (the native frontend opens the upstream's window for exactly those).
///
/// Owned by its connection's list of open streams (nghttp2 holds an unretained pointer as the
/// stream's user data) until nghttp2 closes the stream; it owns its call until then (the call
/// holds it too: `closed` lets go of the call, which ends that cycle). Loop-thread only.
final class HTTP2ServerStream: ClientStream {
    /// nil once the connection is gone. Unowned: the connection clears it (`closed`) for every
    /// stream before it goes away.
    private(set) unowned(unsafe) var conn: ServerConnection?
    /// The connection and its session as unmanaged references, valid until `closed` (the
    /// connection closes every stream before it drops its session): the per-call send paths use
    /// them without reference counting.
    private let connRef: Unmanaged<ServerConnection>
    private let sessionRef: Unmanaged<HTTP2Session>
    private var isClosed = false
    /// Strong, as the connection's (`ServerConnection.worker`).
    let worker: Worker
    /// The worker's header pool, for the frontends a stream makes (the per-call paths use the
    /// worker's methods, `Worker.takeBlock` and the like).
    private var pool: MetadataPool { worker.headerPool }
    let streamID: Int32
    private var builder: CallHeadBuilder
    /// The block the builder fills (also `builder.head.metadata`), held here as a `let` so that
    /// appending a field costs no reference counting.
    private let requestBlock: Metadata
    /// The request's header list, counted as it is decoded (an HPACK bomb stops being kept).
    private var headerLimit: HeaderListLimit
    /// The call took the collected head as its upstream head (it gives it back to the pool).
    private var headTaken = false
    /// The request head is complete (later fields are trailers).
    private var headComplete = false
    /// Set with `setCall` (which keeps `callRef` in step).
    private(set) var call: Call?
    /// `call`, unmanaged (valid while `call` holds it), for the per-event paths.
    private var callRef: Unmanaged<Call>?

    /// (Not a `didSet`: reading the new value there to mirror it was a retain and a release.)
    @inline(__always)
    private func setCall(_ c: Call) {
        callRef = Unmanaged.passUnretained(c)
        call = c
    }
    private var requestEnded = false
    /// Client bytes received and not yet given back to the client's window.
    private var unconsumed = 0
    /// Stream 1 of a connection upgraded from HTTP/1.1 (`Upgrade: h2c`): its request body came
    /// in HTTP/1.1, outside any HTTP/2 window, so nothing is consumed for it.
    var windowless = false

    private var responseQueue = ByteQueue()
    private var trailers: Metadata?
    private var headSent = false
    /// The response's end is decided (trailers queued, or a bodyless HEADERS sent).
    private var responseEnded = false

    // Limits (README "Hardening"; `ServerConnection.streamTick` reads these once per window).
    /// Request and response bytes moved so far, and their values at the last tick.
    private(set) var bytesIn = 0
    private(set) var bytesOut = 0
    private var bytesInAtTick = 0
    private var bytesOutAtTick = 0
    /// Milliseconds of ticks in a row in which no byte moved.
    private var idleMs: UInt64 = 0
    /// A tick has passed since the stream opened (the first one counts no idleness).
    private var ticked = false
    /// Response bytes were waiting for the client at the last tick.
    private var responseWaitingAtTick = false
    /// A native gRPC request is "under way" (subject to `min_rate`) inside a message, not
    /// between messages (the call follows the boundaries: `Call.requestInsideMessage`).
    private var requestIsGRPC = false
    /// Upstream response window granted beyond the pool's initial window, from the connection's
    /// response budget (`grantResponseWindow`); given back when the stream closes.
    private var responseGrant = 0
    /// A limit ended the call: reset the stream at the next tick if it is still open.
    private var resetAtNextTick = false

    /// Links in the connection's list of open streams (intrusive and unmanaged: the list owns
    /// one reference to each stream on it, taken in `openStream` and given back when the stream
    /// leaves it, so that linking costs no reference counting).
    var nextOnConnection: Unmanaged<HTTP2ServerStream>?
    var prevOnConnection: Unmanaged<HTTP2ServerStream>?
    var onConnectionList = false

    /// `connection`: unmanaged, the connection that opens the stream (no reference counting to
    /// hand it over).
    init(connection: Unmanaged<ServerConnection>, streamID: Int32) {
        connRef = connection
        self.streamID = streamID
        (conn, sessionRef, worker, headerLimit, requestBlock, builder) = connection._withUnsafeGuaranteedRef { c in
            let block = c.worker.takeBlock()
            var builder = CallHeadBuilder(into: block, profile: .native)
            builder.secure = c.isSecure
            return (c, Unmanaged.passUnretained(c.session.unsafelyUnwrapped), c.worker, c.worker.headerLimit, block, builder)
        }
    }

    deinit {
        // The collected head goes back unless the call took it as its upstream head.
        if !headTaken { worker.giveBlock(requestBlock) }
        if let trailers = trailers.take() { worker.giveBlock(trailers) }
    }

    // MARK: request, from the connection

    /// Names a `Connection` field listed (an h2c upgrade's HTTP/1.1 head).
    func dropFieldsNamed(byConnectionValue value: UnsafeRawBufferPointer) {
        builder.dropFieldsNamed(byConnectionValue: value)
    }

    /// One field of the request head, or of request trailers (counted, never kept: the head
    /// may be on its way upstream, where a session holds it unchanged until it is sent).
    @inline(__always)
    func header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard headerLimit.admit(nameCount: name.count, valueCount: value.count), !headComplete else { return }
        builder.add(name: name, value: value, into: requestBlock)
    }

    /// The request HEADERS are complete: start the call with its frontend.
    func headersComplete(endStream: Bool) {
        guard !isClosed, !headComplete else { return }
        headComplete = true
        requestEnded = endStream
        // `builder.head` is used in place, never copied out (a copy retains and releases its
        // block and strings on every call).
        if headerLimit.isExceeded {
            worker.counters.limitHit(.headerList)
            // Never forwarded: 431 with the gRPC status a gRPC client reads, and a JSON body for others.
            let contentType = builder.head.contentType
            let native = contentType == .grpc
            let f: any Frontend
            if native {
                f = worker.grpcFrontend
            } else if contentType.isGRPCWeb {
                f = GRPCWebFrontend(pool: pool, format: contentType)
            } else {
                f = JSONFrontend(pool: pool)
            }
            let call = Call(worker: worker, client: self, frontend: f)
            setCall(call)
            (f as? JSONFrontend)?.bind(call)
            (f as? GRPCWebFrontend)?.bind(call)
            call.fail(.resourceExhausted, "request headers too large: \(headerLimit.description)", httpStatus: 431)
            if endStream { call.clientEnd() }
            return
        }
        if builder.head.contentType == .grpc {
            requestIsGRPC = true
            // The verified client certificate, after the client's fields (its own claim was dropped).
            if let certificate = connRef._withUnsafeGuaranteedRef({ $0.forwardedClientCertificate }) {
                requestBlock.append("x-forwarded-client-cert", certificate)
            }
            // The call's first reference goes straight to `self.call`; the rest use `callRef`
            // (a local copy would be one more retain and release per call).
            worker.withNativeFrontend { f in
                setCall(Call(worker: worker, client: self, frontend: f))
                callRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { f.start($0, &builder.head) }
            }
        } else if let web = webHead(builder.head, peer: connRef._withUnsafeGuaranteedRef { $0.peerHost }) {
            if !builder.head.contentType.isGRPCWeb {
                // A CORS preflight: answered now, without a call (never counted as one).
                CORSPreflight.answer(web, snapshot: worker.snapshot, client: self, pool: pool)
                return
            }
            let f = GRPCWebFrontend(pool: pool, format: builder.head.contentType)
            let call = Call(worker: worker, client: self, frontend: f)
            setCall(call)
            f.start(call, web)
        } else {
            let f = JSONFrontend(pool: pool)
            let call = Call(worker: worker, client: self, frontend: f)
            setCall(call)
            f.start(call, jsonHead(builder.head, peer: connRef._withUnsafeGuaranteedRef { $0.peerHost }))
        }
        callRef?._withUnsafeGuaranteedRef { call in
            headTaken = call.hasUpstreamHead(requestBlock)
            if endStream { call.clientEnd() }
        }
    }

    /// The head for the gRPC-Web frontend (a gRPC-Web content type) or `CORSPreflight`.
    private func webHead(_ head: CallHead, peer: String?) -> JSONRequestHead? {
        if head.contentType.isGRPCWeb { return jsonHead(head, peer: peer) }
        guard !head.isPost, head.contentType == .none else { return nil }
        let h = jsonHead(head, peer: peer)
        return CORSPreflight.isPreflight(h) ? h : nil
    }

    private func jsonHead(_ head: CallHead, peer: String?) -> JSONRequestHead {
        var method = "", target = "", authority: String?
        let fields = head.metadata
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            guard name.first == UInt8(ascii: ":") else { break }  // pseudo-headers come first (RFC 9113 §8.3)
            if name.equals(":method") {
                method = String(decoding: value, as: UTF8.self)
            } else if name.equals(":path") {
                target = String(decoding: value, as: UTF8.self)
            } else if name.equals(":authority") {
                authority = String(decoding: value, as: UTF8.self)
            }
        }
        return JSONRequestHead(method: method, target: target, authority: authority, fields: .http2(fields),
                               peer: peer, http2Head: head, secure: conn?.isSecure ?? false,
                               clientCertificate: conn?.forwardedClientCertificate)
    }

    func data(_ bytes: UnsafeRawBufferPointer) {
        unconsumed += bytes.count
        bytesIn &+= bytes.count
        connRef._withUnsafeGuaranteedRef { $0.requestHeld += bytes.count }
        worker.countBuffered(bytes.count)
        if let call = callRef {
            call._withUnsafeGuaranteedRef { $0.clientData(bytes) }
        } else {
            requestTaken(bytes.count)
        }
    }

    func remoteEnded() {
        guard !requestEnded else { return }
        requestEnded = true
        callRef?._withUnsafeGuaranteedRef { $0.clientEnd() }
    }

    /// nghttp2 closed the stream (normally, reset by the client, or the connection is gone).
    func closed(errorCode: UInt32) {
        if let c = callRef {
            c._withUnsafeGuaranteedRef { $0.clientGone() }
            callRef = nil
            call = nil  // the call holds this stream: letting go ends the cycle
        }
        // Bytes never taken still count against the connection window (docs/ARCHITECTURE.md §9).
        // (`sessionRef` is valid while `conn` is set: the connection closes its streams first.)
        if !isClosed, !windowless { sessionRef._withUnsafeGuaranteedRef { $0.consumeConnection(unconsumed) } }
        release()
        conn = nil
        isClosed = true
    }

    // MARK: ClientStream

    private(set) var responseStatus = 0
    var httpVersion: StaticString { "HTTP/2" }
    var peerText: String? { connRef._withUnsafeGuaranteedRef { $0.peerText } }
    func withRequestTarget(_ body: (UnsafeRawBufferPointer) -> Void) {
        let field = builder.head.pathField
        body(field >= 0 ? requestBlock.field(field).value : UnsafeRawBufferPointer(start: nil, count: 0))
    }

    func sendHead(status: Int, fields: Metadata, contentLength: Int?, endStream: Bool) {
        guard !isClosed, !headSent else { return }
        headSent = true
        if !fields.isEmpty, case let (name, value) = fields.field(0), name.equals(":status") {
            // A relayed block: its own status (three digits).
            responseStatus = value.count == 3
                ? Int(value[0] &- 48) &* 100 &+ Int(value[1] &- 48) &* 10 &+ Int(value[2] &- 48) : 0
            submitHead(fields, endStream: endStream)
        } else {
            responseStatus = status
            // A translated response: the gateway's own fields, after the :status pseudo-header.
            let h = worker.takeBlock()
            h.append(":status", String(status))
            for i in 0 ..< fields.count {
                let (name, value) = fields.field(i)
                h.append(name: name, value: value)
            }
            if let contentLength { h.append("content-length", String(contentLength)) }
            submitHead(h, endStream: endStream)
            worker.giveBlock(h)
        }
        connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    @inline(__always)
    private func submitHead(_ block: Metadata, endStream: Bool) {
        sessionRef._withUnsafeGuaranteedRef { session in
            if endStream {
                responseEnded = true
                session.submitResponse(streamID: streamID, block, hasBody: false, source: nil)
            } else {
                session.submitResponse(streamID: streamID, block, hasBody: true,
                                       source: Unmanaged.passUnretained(self).toOpaque())
            }
        }
    }

    func sendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !responseEnded else { return }
        responseQueue.append(bytes)
        worker.countBuffered(bytes.count)
        sessionRef._withUnsafeGuaranteedRef { $0.resumeData(streamID: streamID) }
        connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    func sendEnd(trailers: Metadata?) {
        guard !isClosed, !responseEnded else {
            if let trailers { worker.giveBlock(trailers) }
            return
        }
        responseEnded = true
        self.trailers = trailers
        sessionRef._withUnsafeGuaranteedRef { $0.resumeData(streamID: streamID) }
        connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    func requestTaken(_ count: Int) {
        unconsumed -= count
        worker.countBuffered(-count)
        connRef._withUnsafeGuaranteedRef { $0.requestHeld -= count }
        guard !isClosed, !windowless else { return }
        sessionRef._withUnsafeGuaranteedRef { $0.consume(streamID: streamID, count) }
        connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    var responseBacklog: Int { responseQueue.count }

    /// A native gRPC response always ends with trailers (the frontend sends them regardless);
    /// a translated one only to a client that sent `te: trailers`.
    var acceptsTrailers: Bool { builder.head.acceptsTrailers }

    // MARK: response DATA pull, from the connection's session

    func dataReady(maxLength: Int) -> HTTP2DataReady {
        let queued = responseQueue.count
        if queued > 0 {
            let n = min(queued, maxLength)
            if n == queued, responseEnded { return .bytes(n, end: submitTrailers()) }
            return .bytes(n, end: .none)
        }
        if responseEnded { return .bytes(0, end: submitTrailers()) }
        return .deferred
    }

    private func submitTrailers() -> HTTP2DataEnd {
        guard !isClosed, let t = trailers.take() else { return .endStream }
        _ = sessionRef._withUnsafeGuaranteedRef { $0.submitTrailer(streamID: streamID, t) }
        worker.giveBlock(t)
        return .trailers
    }

    func writeData(into: UnsafeMutableRawBufferPointer) {
        responseQueue.read(into: into)
        bytesOut &+= into.count
        worker.countBuffered(-into.count)
        callRef?._withUnsafeGuaranteedRef { $0.responseWritten(into.count) }
    }
}

// MARK: limits (README "Hardening")

extension HTTP2ServerStream {
    /// Gives up what the stream holds in the worker's and the connection's accounts (on close).
    private func release() {
        let held = unconsumed + responseQueue.count
        if held != 0 { worker.countBuffered(-held) }
        connRef._withUnsafeGuaranteedRef {
            $0.requestHeld -= unconsumed
            $0.responseGranted -= responseGrant
        }
        worker.returnResponseWindow(responseGrant)
        unconsumed = 0
        responseGrant = 0
        responseQueue.removeAll()
    }

    /// Upstream window beyond the initial one, up to `wanted` bytes, from what the connection
    /// may still hold (`connection_window`) and the worker may still grant
    /// (`max_buffered_per_worker`): the grant is this stream's until it closes.
    func grantResponseWindow(_ wanted: Int) -> Int {
        guard !isClosed, wanted > 0 else { return 0 }
        return connRef._withUnsafeGuaranteedRef { c in
            let grant = worker.grantResponseWindow(min(wanted, max(0, worker.limits.connectionWindowBytes - c.responseGranted)))
            c.responseGranted += grant
            responseGrant += grant
            return grant
        }
    }

    /// Once per tick of `tickMs` (the connection's sweep): the minimum data rate of a request
    /// under way and of a response waiting for the client, and the idle timeout.
    /// `requestWindowOpen`: the connection could take more request bytes (the gateway is not
    /// holding the client back).
    func tick(tickMs: UInt64, requestWindowOpen: Bool, streamWindow: Int) {
        guard !isClosed else { return }
        if resetAtNextTick {
            sessionRef._withUnsafeGuaranteedRef { $0.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.noError.rawValue) }
            connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
            resetAtNextTick = false
            return
        }
        let limits = worker.limits
        let movedIn = bytesIn &- bytesInAtTick, movedOut = bytesOut &- bytesOutAtTick
        bytesInAtTick = bytesIn
        bytesOutAtTick = bytesOut
        let waiting = responseQueue.count > 0
        defer { responseWaitingAtTick = waiting }
        // The first tick counts no idleness: part of it may be from before the stream opened,
        // which would end a quiet stream up to a tick before stream_idle_timeout.
        idleMs = movedIn == 0 && movedOut == 0 ? (ticked ? idleMs + tickMs : 0) : 0
        ticked = true
        guard let call, !call.isFinished else { return }
        let need = limits.minRateWindowBytes
        if need > 0 {
            // A request under way: inside a gRPC message (or, for other content, anywhere before
            // the end of the body), with room in both windows, moving slower than min_rate.
            let underWay = !requestEnded && (requestIsGRPC ? call.requestInsideMessage : true)
            if underWay && requestWindowOpen && unconsumed < streamWindow / 2 && movedIn < need {
                worker.counters.limitHit(.minRateRequest)
                call.fail(.deadlineExceeded, "request body slower than min_rate: \(movedIn) bytes in \(tickMs)ms, "
                    + "at least \(limits.minRateBytesPerSecond) bytes/s expected", httpStatus: 408)
                resetAtNextTick = true
                return
            }
            // Response bytes waited for the client all window long and it took too few.
            if waiting && responseWaitingAtTick && movedOut < need {
                worker.counters.limitHit(.minRateResponse)
                abort("response not read: \(movedOut) bytes taken by the client in \(tickMs)ms, "
                    + "at least \(limits.minRateBytesPerSecond) bytes/s expected")
                return
            }
        }
        if idleMs >= limits.streamIdleTimeoutMs {
            worker.counters.limitHit(.streamIdle)
            call.fail(.deadlineExceeded, "stream idle for \(idleMs)ms (stream_idle_timeout)", httpStatus: 408)
            resetAtNextTick = true
        }
    }

    /// Ends the call and resets the stream at once (RST_STREAM CANCEL): for a client that does
    /// not read, whose answer could not reach it anyway. What was queued for it is dropped now.
    private func abort(_ message: String) {
        call?.fail(.deadlineExceeded, message)
        let queued = responseQueue.count
        if queued > 0 {
            worker.countBuffered(-queued)
            // The upstream's window for these bytes is given back as if they had been written.
            responseQueue.removeAll()
        }
        sessionRef._withUnsafeGuaranteedRef { $0.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel.rawValue) }
        connRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }
}

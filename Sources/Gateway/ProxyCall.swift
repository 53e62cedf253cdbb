import Channel
import Glibc
import HTTP2
import Upstream

/// One native gRPC call relayed from a client stream to an upstream stream: the request head,
/// the two byte queues in flight (one per direction), and the response's state.
///
/// Messages are relayed as DATA bytes, never reframed or buffered whole: each direction's queue
/// holds at most one stream window, because the sending side's window is opened (`consume`) only
/// for bytes the other side has put into its own DATA frames. Neither direction waits for the other.
///
/// Owned by its server connection (`calls`) until the client stream closes, and by the upstream
/// connection while the upstream stream is open. Loop-thread only.
final class ProxyCall: GatewayCall {
    /// nil once the client connection is gone. Unowned: the connection outlives its calls' link
    /// to it (it clears this in `downstreamClosed` for every call before it goes away).
    private(set) unowned(unsafe) var conn: ServerConnection?
    unowned(unsafe) let worker: Worker
    let streamID: Int32

    // Request head, collected from the client's HEADERS.
    let requestHeaders: HTTP2Headers
    private var routeIndex = -1
    private var service: String?
    private var pathValid = false
    private var isGRPC = false
    private var isPost = false
    private var headerProblem: String?

    // Request body: client -> upstream.
    private var requestQueue = ByteQueue()
    private var requestEnded = false
    /// Client bytes received and not yet given back to the client's window.
    var downUnconsumed = 0

    // Response: upstream -> client.
    private var responseHeaders: HTTP2Headers?
    var trailers: HTTP2Headers?
    var responseQueue = ByteQueue()
    var responseHeadersSent = false
    /// The response's end is decided (trailers known, or a trailers-only response sent).
    var responseEnded = false

    /// Links in the server connection's list of open calls (intrusive; the list holds the strong
    /// references).
    var nextOnConnection: ProxyCall?
    unowned(unsafe) var prevOnConnection: ProxyCall?
    var onConnectionList = false

    /// The call's final gRPC status as relayed or decided here; 255 until known.
    private var finalStatus: UInt8 = 255

    /// Set when the stream carries a JSON request: the stream is handed to this call, and this
    /// object only carries its bytes (ProxyCall+JSON.swift).
    var jsonCall: JSONCall?
    /// Stream 1 of a connection upgraded from HTTP/1.1 (`Upgrade: h2c`): its request body came
    /// in HTTP/1.1, outside any HTTP/2 window, so nothing is consumed for it.
    var windowless = false

    init(conn: ServerConnection, streamID: Int32) {
        self.conn = conn
        self.worker = conn.worker
        self.streamID = streamID
        requestHeaders = conn.worker.headerPool.take()
        let counters = conn.worker.counters
        counters.add(counters.callsStarted)
        counters.add(counters.callsActive, 1)
    }

    deinit {
        let pool = worker.headerPool
        pool.give(requestHeaders)
        if let responseHeaders { pool.give(responseHeaders) }
        if let trailers { pool.give(trailers) }
    }

    // MARK: client side: request

    func downstreamHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if name.first == UInt8(ascii: ":") {
            if name.equals(":path") {
                routePath(value)
            } else if name.equals(":method") {
                isPost = value.equals("POST")
            } else if name.equals(":scheme") {
                // The upstream connection is cleartext h2c.
                requestHeaders.append(":scheme", value: UnsafeRawBufferPointer(staticString: "http"))
                return
            }
            requestHeaders.append(name: name, value: value)
            return
        }
        if name.equals("content-type") {
            isGRPC = value.hasPrefix("application/grpc")
        } else if name.equals("grpc-timeout") {
            // Replaced by the time remaining when the upstream stream opens.
            if let ns = GRPCTimeout.parse(value) {
                clientTimeoutNs = ns
            } else {
                headerProblem = "malformed grpc-timeout \"\(String(decoding: value, as: UTF8.self))\""
            }
            return
        } else if name.equals("te") {
            requestHeaders.append(name: name, value: value)
            return
        } else if MetadataRules.isHopByHop(name) {
            return
        }
        requestHeaders.append(name: name, value: value)
    }

    private func routePath(_ value: UnsafeRawBufferPointer) {
        guard let parts = GRPCPath.split(value) else { return }
        pathValid = true
        let svc = UnsafeRawBufferPointer(rebasing: value[parts.service])
        if let r = worker.router.route(service: svc) {
            routeIndex = r
        } else {
            service = String(decoding: svc, as: UTF8.self)
        }
    }

    /// The request HEADERS are complete: route the call, set its deadline, start the upstream side.
    func requestHeadersComplete(endStream: Bool) {
        guard let conn else { return }
        requestEnded = endStream
        if !isGRPC {
            startJSON(conn: conn, endStream: endStream)
            return
        }
        if !isPost {
            respondTrailersOnly(.invalidArgument, "a gRPC request must be a POST", httpStatus: "405")
            return
        }
        if let headerProblem {
            respondTrailersOnly(.invalidArgument, headerProblem)
            return
        }
        guard pathValid else {
            respondTrailersOnly(.unimplemented, "malformed :path: expected /package.Service/Method")
            return
        }
        guard routeIndex >= 0 else {
            respondTrailersOnly(.unimplemented, "unknown service \(service ?? "")")
            return
        }
        let route = worker.routes[routeIndex]
        armDeadline(now: conn.loopNow, routeTimeoutMs: route.timeoutMs, in: worker.deadlines)
        worker.pools[route.clusterIndex].start(self)
    }

    func downstreamData(_ bytes: UnsafeRawBufferPointer) {
        guard let conn else { return }
        if let jsonCall {
            downUnconsumed += bytes.count
            jsonCall.requestBody(bytes)
            return
        }
        if upstreamDone || responseEnded {
            // Nobody will take these bytes: give the window back at once.
            conn.session?.consume(streamID: streamID, bytes.count)
            return
        }
        requestQueue.append(bytes)
        downUnconsumed += bytes.count
        resumeRequest()
    }

    func downstreamRemoteEnded() {
        guard !requestEnded else { return }
        requestEnded = true
        if let jsonCall {
            jsonCall.requestEnd()
            return
        }
        resumeRequest()
    }

    /// The client stream closed (normally, or reset by the client, or the connection is gone).
    func downstreamClosed(errorCode: UInt32) {
        if let jsonCall {
            // The JSON call counts itself.
            self.jsonCall = nil
            jsonCall.downstreamGone()
        } else {
            // A stream that closed before any status was decided was cancelled by the client.
            worker.counters.finished(status: finalStatus != 255 ? finalStatus : (errorCode != 0 ? 1 : 17))
        }
        if let session = conn?.session, !windowless {
            session.consumeConnection(downUnconsumed)
        }
        downUnconsumed = 0
        requestQueue.removeAll()
        worker.deadlines.remove(self)
        cancelUpstream()
        conn = nil
    }

    // MARK: client side: response DATA pull

    func downstreamDataReady(maxLength: Int) -> HTTP2DataReady {
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
        guard let t = trailers, let session = conn?.session else { return .endStream }
        session.submitTrailer(streamID: streamID, t)
        trailers = nil
        worker.headerPool.give(t)
        return .trailers
    }

    func downstreamWriteData(into: UnsafeMutableRawBufferPointer) {
        responseQueue.read(into: into)
        if let jsonCall {
            jsonCall.downstreamWritable()
            return
        }
        consumeResponse(into.count)
    }

    // MARK: upstream side

    override func upstreamRequestHeaders() -> HTTP2Headers {
        if let conn { appendRemainingTimeout(to: requestHeaders, now: conn.loopNow) }
        return requestHeaders
    }

    override func upstreamRequestHasBody() -> Bool { !(requestEnded && requestQueue.isEmpty) }

    override func upstreamDataReady(maxLength: Int) -> HTTP2DataReady {
        let queued = requestQueue.count
        if queued > 0 {
            let n = min(queued, maxLength)
            return .bytes(n, end: n == queued && requestEnded ? .endStream : .none)
        }
        return requestEnded ? .bytes(0, end: .endStream) : .deferred
    }

    override func upstreamWriteData(into: UnsafeMutableRawBufferPointer) {
        requestQueue.read(into: into)
        downUnconsumed -= into.count
        if let conn, let session = conn.session, !windowless {
            session.consume(streamID: streamID, into.count)
            conn.scheduleFlush()
        }
    }

    override func upstreamHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if MetadataRules.isHopByHop(name) { return }
        if name.equals("grpc-status"), let code = GRPCStatusCode(decimalText: value) {
            finalStatus = code.rawValue
        }
        if responseHeadersReceived {
            if trailers == nil { trailers = worker.headerPool.take() }
            trailers!.append(name: name, value: value)
        } else {
            if responseHeaders == nil { responseHeaders = worker.headerPool.take() }
            responseHeaders!.append(name: name, value: value)
        }
    }

    override func upstreamHeadersComplete(kind: HTTP2HeadersKind, endStream: Bool) {
        guard let conn, let session = conn.session, !responseEnded else { return }
        if kind == .response {
            let responseHeaders = self.responseHeaders ?? worker.headerPool.take()
            self.responseHeaders = responseHeaders
            if endStream {
                // Trailers-only: relayed as one HEADERS frame that ends the stream.
                responseEnded = true
                worker.deadlines.remove(self)
                session.submitResponse(streamID: streamID, responseHeaders, hasBody: false, source: nil)
            } else {
                responseHeadersSent = true
                session.submitResponse(streamID: streamID, responseHeaders, hasBody: true,
                                       source: Unmanaged.passUnretained(self).toOpaque())
            }
            conn.scheduleFlush()
        } else if endStream {
            responseEnded = true
            worker.deadlines.remove(self)
            session.resumeData(streamID: streamID)
            conn.scheduleFlush()
        }
    }

    override func upstreamData(_ bytes: UnsafeRawBufferPointer) {
        guard let conn, let session = conn.session, !responseEnded else {
            consumeResponse(bytes.count)
            return
        }
        responseQueue.append(bytes)
        session.resumeData(streamID: streamID)
        conn.scheduleFlush()
    }

    // MARK: ending the response locally

    /// Ends the response with `status`: trailers-only if nothing was sent yet, else trailers after
    /// the response bytes already queued.
    override var isEnded: Bool { responseEnded }

    override func endCall(_ status: GRPCStatusCode, _ message: String) {
        guard !responseEnded, let conn, let session = conn.session else { return }
        if !responseHeadersSent {
            respondTrailersOnly(status, message)
            return
        }
        finalStatus = status.rawValue
        responseEnded = true
        worker.deadlines.remove(self)
        let t = trailers ?? worker.headerPool.take()
        t.reset()
        t.append("grpc-status", status.decimalText)
        t.append("grpc-message", GRPCStatusMessage.encode(message))
        trailers = t
        session.resumeData(streamID: streamID)
        conn.scheduleFlush()
    }

    private func respondTrailersOnly(_ status: GRPCStatusCode, _ message: String, httpStatus: String = "200") {
        guard !responseEnded, let conn, let session = conn.session else { return }
        responseEnded = true
        finalStatus = status.rawValue
        worker.deadlines.remove(self)
        let h = worker.headerPool.take()
        defer { worker.headerPool.give(h) }
        h.append(":status", httpStatus)
        h.append("content-type", "application/grpc")
        h.append("grpc-status", status.decimalText)
        h.append("grpc-message", GRPCStatusMessage.encode(message))
        session.submitResponse(streamID: streamID, h, hasBody: false, source: nil)
        conn.scheduleFlush()
        cancelUpstream()
    }
}


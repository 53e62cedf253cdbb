import Channel
import HTTP2
import Transport
import UVLoop

/// One HTTP/2 client connection (h2c with prior knowledge, or TLS with ALPN `h2` when the plan
/// has `tls`) carrying up to `slots.count` calls at once, one stream each. Its life (connect,
/// TLS, SETTINGS, ready, draining) is the shared `HTTP2ClientConnection`'s, one per connection
/// attempt; this type carries the calls. Loop-thread only; owned by its worker.
///
/// Per call: one `submitRequest` with a header block built once for the connection (nghttp2
/// copies and HPACK-encodes it), request DATA written without copy from the shared body, the
/// response read in place. Calls are started again only from the flush (the loop's check phase),
/// never inside an nghttp2 callback. A lost connection fails its calls with UNAVAILABLE and
/// comes back after a backoff while the run goes on.
final class HTTP2LoadConnection: LoadConnection, HTTP2ClientConnectionOwner {
    unowned(unsafe) let worker: LoadWorker
    private(set) var slots: [CallSlot] = []
    /// The current connection attempt; nil between attempts.
    private var link: HTTP2ClientConnection?
    private let headers: Metadata
    /// Slots whose call ended during the last input: offered to the worker at the next flush.
    private var ended: [CallSlot] = [], endedDraining: [CallSlot] = []
    private var active = 0
    /// Reconnect backoff.
    private var timer: Timer!
    private var backoffMs: UInt64 = 0
    private var settled = false
    private var isShutDown = false

    init(worker: LoadWorker, slots count: Int) {
        self.worker = worker
        let plan = worker.plan
        headers = Metadata(reservingBytes: 256, fields: 8 + plan.extraHeaders.count)
        headers.append(":method", "POST")
        headers.append(":scheme", plan.tls == nil ? "http" : "https")
        headers.append(":path", plan.path)
        headers.append(":authority", plan.authority)
        for (name, value) in plan.format.requestFields(scenario: plan.scenario) { headers.append(name, value) }
        for (name, value) in plan.extraHeaders { headers.append(name, value) }
        ended.reserveCapacity(count)
        endedDraining.reserveCapacity(count)
        timer = Timer(loop: worker.loop) { [unowned self] in self.timerFired() }
        slots = (0 ..< count).map { _ in
            CallSlot(connection: self, reader: plan.format.makeReader(scenario: plan.scenario), body: worker.body)
        }
    }

    var isReady: Bool { link?.state == .ready }

    // MARK: connecting

    func connect() {
        guard link == nil, !isShutDown else { return }
        let plan = worker.plan
        let name = plan.tlsServerName
        let options = HTTP2ClientConnection.Options(
            address: plan.target, connectTimeoutMs: plan.connectTimeoutMs,
            http2: HTTP2LocalSettings(maxConcurrentStreams: 100, initialStreamWindow: 1 << 24, connectionWindow: 1 << 30),
            tls: plan.tls, serverName: name, sessionKey: plan.tls == nil ? nil : "\(name ?? "")|\(plan.target)")
        let c = HTTP2ClientConnection(owner: self, loop: worker.loop, flushQueue: worker.flushQueue, options: options,
                                      plaintextBuffer: worker.tlsPlaintext)
        link = c
        c.start()
    }

    private func timerFired() {
        if link == nil, worker.wantsConnections { connect() }
    }

    func clientConnectionFailed(_ connection: HTTP2ClientConnection, reason: String) {
        link = nil
        ended.removeAll(keepingCapacity: true)
        worker.connectFailed()
        if !settled {
            settled = true
            worker.connectionSettled(ok: false, error: reason)
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard worker.wantsConnections, !isShutDown else { return }
        backoffMs = backoffMs == 0 ? 50 : min(backoffMs * 2, 1000)
        timer.start(timeoutMs: backoffMs)
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        guard let link, link.settingsReceived() else { return }
        backoffMs = 0
        if !settled {
            settled = true
            worker.connectionSettled(ok: true, error: nil)
        }
        // Slots are offered from the flush, outside this callback.
        for s in slots where !s.active { ended.append(s) }
        link.scheduleFlush()
    }

    // MARK: calls

    func begin(_ slot: CallSlot) {
        guard let link, link.state == .ready, let session = link.session else {
            worker.callEnded(slot, CallResult(code: .unavailable), lost: true)
            return
        }
        let id = session.submitRequest(headers, source: Unmanaged.passUnretained(slot).toOpaque(), endStream: false)
        if id <= 0 {
            // No stream can be opened here any more (stream IDs used up): drain and reconnect.
            link.drain()
            worker.callEnded(slot, CallResult(code: .unavailable), lost: true)
            return
        }
        slot.streamID = id
        active += 1
        if !session.nextStreamIDAvailable { link.markDraining() }
        link.scheduleFlush()
    }

    var hasOpenStreams: Bool { active > 0 }

    /// Inside the connection's flush, before its output: what starts here is written by it.
    func clientConnectionWillFlush(_ connection: HTTP2ClientConnection) {
        guard !ended.isEmpty else { return }
        swap(&ended, &endedDraining)
        for s in endedDraining { worker.slotFreed(s) }
        endedDraining.removeAll(keepingCapacity: true)
    }

    /// The connection is gone: calls in flight end with UNAVAILABLE; reconnect unless the run is
    /// over. `reason` nil: closed on purpose (drained).
    func clientConnectionClosed(_ connection: HTTP2ClientConnection, reason: String?) {
        link = nil
        ended.removeAll(keepingCapacity: true)
        let failed = slots.filter { $0.active }
        active = 0
        for s in failed { worker.callEnded(s, CallResult(code: .unavailable), lost: true) }
        scheduleReconnect()
    }

    func shutdown() {
        isShutDown = true
        timer.close()
        link?.abandon()
        link = nil
        ended.removeAll(keepingCapacity: true)
        active = 0
        let abandoned = slots.filter { $0.active }
        for s in abandoned { worker.callAbandoned(s) }
    }

    // MARK: HTTP/2 events (inside nghttp2 callbacks: record, never start calls)

    @inline(__always)
    private func slot(_ p: UnsafeMutableRawPointer?) -> CallSlot? {
        guard let p else { return nil }
        let s = Unmanaged<CallSlot>.fromOpaque(p).takeUnretainedValue()
        return s.active ? s : nil
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {}

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let s = slot(userData), s.streamID == streamID else { return }
        if !s.headersDone && name.equals(":status") {
            s.reader.httpStatus = ASCII.decimalValue(value) ?? 0
        } else {
            s.reader.field(name: name, value: value, trailer: s.headersDone)
        }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let s = slot(userData), s.streamID == streamID else { return }
        if kind == .response { s.headersDone = true }
        if endStream { responseEnded(session, s) }
    }

    /// The server ended its side (trailers, a trailers-only answer, or DATA with END_STREAM): the
    /// call is over. If the request is not all sent (a ping-pong call answered before its last
    /// message, or any call refused early), the rest is abandoned with RST_STREAM(NO_ERROR), as RFC
    /// 9113 §8.1 allows after a complete response: otherwise the stream stays half-closed, waiting
    /// for request bytes a ping-pong call only sends after another response. NO_ERROR, not
    /// CANCEL: the call completed, and a server counts CANCELs against rapid reset. The stream's
    /// close then records the result.
    private func responseEnded(_ session: HTTP2Session, _ s: CallSlot) {
        guard !s.requestComplete else { return }
        session.resetStream(streamID: s.streamID, errorCode: HTTP2ErrorCode.noError.rawValue)
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        // The generator takes every byte at once: the window opens again as data arrives.
        session.consume(streamID: streamID, bytes.count)
        guard let s = slot(userData), s.streamID == streamID else { return }
        if s.bodyReceived(bytes, worker: worker), s.requestBytesAvailable > 0 {
            session.resumeData(streamID: streamID)
        }
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let s = slot(userData), s.streamID == streamID else { return }
        responseEnded(session, s)
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        guard let s = slot(userData), s.streamID == streamID else { return }
        active -= 1
        var result = s.reader.finish()
        var reset = false
        if errorCode != HTTP2ErrorCode.noError.rawValue && result.missingStatus {
            // RST_STREAM before a status: the code gRPC assigns to the reset (PROTOCOL-HTTP2.md, "Errors").
            result = CallResult(code: .fromHTTP2ErrorCode(errorCode), missingStatus: true)
            reset = true
        }
        worker.callEnded(s, result, reset: reset)
        ended.append(s)
        link?.scheduleFlush()
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {
        link?.markDraining()
    }

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let s = slot(source) else { return .bytes(0, end: .endStream) }
        let n = min(s.requestBytesAvailable, maxLength)
        if n == 0 { return s.requestComplete ? .bytes(0, end: .endStream) : .deferred }
        return .bytes(n, end: s.bytesSent + n >= s.body.totalLength ? .endStream : .none)
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let source else { return }
        let s = Unmanaged<CallSlot>.fromOpaque(source).takeUnretainedValue()
        s.body.copy(from: s.bytesSent, into: into)
        s.bytesSent += into.count
    }
}

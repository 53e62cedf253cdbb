import Channel
import HTTP2
import UVLoop

/// One HTTP/2 client connection (h2c with prior knowledge) carrying up to `slots.count` calls at
/// once, one stream each. Loop-thread only; owned by its worker.
///
/// Per call: one `submitRequest` with a header block built once for the connection (nghttp2
/// copies and HPACK-encodes it), request DATA written without copy from the shared body, the
/// response read in place. Calls are started again only from `flush` (the loop's check phase),
/// never inside an nghttp2 callback. A lost connection fails its calls with UNAVAILABLE and
/// comes back after a backoff while the run goes on.
final class HTTP2LoadConnection: LoadConnection, HTTP2SessionDelegate, TCPStreamDelegate, Flushable {
    enum State { case idle, connecting, handshaking, ready, draining, closed }

    unowned(unsafe) let worker: LoadWorker
    private(set) var slots: [CallSlot] = []
    private var state = State.idle
    private var session: HTTP2Session?
    private var tcp: TCPStream?
    private let headers: Metadata
    private let pump = WritePump()
    var flushScheduled = false
    /// Slots whose call ended during the last input: offered to the worker at the next flush.
    private var ended: [CallSlot] = [], endedDraining: [CallSlot] = []
    private var active = 0
    /// Connect timeout, then reconnect backoff.
    private var timer: Timer!
    private var backoffMs: UInt64 = 0
    private var settled = false

    init(worker: LoadWorker, slots count: Int) {
        self.worker = worker
        let plan = worker.plan
        headers = Metadata(reservingBytes: 256, fields: 8 + plan.extraHeaders.count)
        headers.append(":method", "POST")
        headers.append(":scheme", "http")
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

    var isReady: Bool { state == .ready }

    // MARK: connecting

    func connect() {
        guard state == .idle || state == .closed else { return }
        state = .connecting
        timer.start(timeoutMs: worker.plan.connectTimeoutMs)
        switch TCPStream.connect(loop: worker.loop, to: worker.plan.target, delegate: self) {
        case let .success(stream): tcp = stream
        case let .failure(error): connectFailed("connect to \(worker.plan.target) failed: \(error)")
        }
    }

    func streamConnected(_ stream: TCPStream, error: UVError?) {
        guard state == .connecting else { return }
        if let error {
            connectFailed("connect to \(worker.plan.target) failed: \(error)")
            return
        }
        state = .handshaking
        session = HTTP2Session(role: .client, delegate: self, settings: HTTP2LocalSettings(
            maxConcurrentStreams: 100, initialStreamWindow: 1 << 24, connectionWindow: 1 << 30))
        stream.startReading()
        scheduleFlush()  // our preface and SETTINGS
    }

    private func timerFired() {
        switch state {
        case .connecting, .handshaking:
            connectFailed(state == .handshaking
                ? "\(worker.plan.target) sent no HTTP/2 SETTINGS within \(worker.plan.connectTimeoutMs) ms (not an h2c server?)"
                : "connect to \(worker.plan.target) timed out after \(worker.plan.connectTimeoutMs) ms")
        case .closed, .idle:
            if worker.wantsConnections { connect() }
        case .ready, .draining:
            break
        }
    }

    private func connectFailed(_ reason: String) {
        timer.stop()
        tearDown()
        worker.connectFailed()
        if !settled {
            settled = true
            worker.connectionSettled(ok: false, error: reason)
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard worker.wantsConnections else { return }
        backoffMs = backoffMs == 0 ? 50 : min(backoffMs * 2, 1000)
        timer.start(timeoutMs: backoffMs)
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        guard state == .handshaking else { return }
        timer.stop()
        state = .ready
        backoffMs = 0
        if !settled {
            settled = true
            worker.connectionSettled(ok: true, error: nil)
        }
        // Slots are offered from the flush, outside this callback.
        for s in slots where !s.active { ended.append(s) }
        scheduleFlush()
    }

    // MARK: calls

    func begin(_ slot: CallSlot) {
        guard state == .ready, let session else {
            worker.callEnded(slot, CallResult(code: .unavailable), lost: true)
            return
        }
        let id = session.submitRequest(headers, source: Unmanaged.passUnretained(slot).toOpaque(), endStream: false)
        if id <= 0 {
            // No stream can be opened here any more (stream IDs used up): drain and reconnect.
            state = .draining
            worker.callEnded(slot, CallResult(code: .unavailable), lost: true)
            scheduleFlush()
            return
        }
        slot.streamID = id
        active += 1
        if !session.nextStreamIDAvailable { state = .draining }
        scheduleFlush()
    }

    /// Inside `flush`: what calls start there is written by that same flush.
    private var flushing = false

    @inline(__always)
    private func scheduleFlush() {
        if !flushing { worker.flushQueue.schedule(self) }
    }

    func flush() {
        guard state == .handshaking || state == .ready || state == .draining, let tcp, let session else { return }
        flushing = true
        defer { flushing = false }
        if !ended.isEmpty {
            swap(&ended, &endedDraining)
            for s in endedDraining { worker.slotFreed(s) }
            endedDraining.removeAll(keepingCapacity: true)
        }
        guard self.session != nil else { return }  // a failed begin may have torn the connection down
        let (outcome, failure) = pump.pump(tcp, session: session)
        switch outcome {
        case .writing:
            return
        case .failed:
            lost("HTTP/2 error: \(failure!)")
            return
        case .drained:
            break
        }
        if !session.wantsRead && !session.wantsWrite {
            lost("\(worker.plan.target) ended the HTTP/2 session")
        } else if state == .draining && active == 0 {
            lost(nil)
        }
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        if let err = session.receive(bytes) {
            lost("HTTP/2 protocol error from \(worker.plan.target): \(err)")
            return
        }
        scheduleFlush()
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        if state == .connecting || state == .handshaking {
            connectFailed("\(worker.plan.target) closed the connection during the HTTP/2 handshake")
        } else {
            lost(error.map { "connection to \(worker.plan.target) lost: \($0)" } ?? "\(worker.plan.target) closed the connection")
        }
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if let error {
            lost("write to \(worker.plan.target) failed: \(error)")
            return
        }
        flush()
    }

    /// The connection is gone: calls in flight end with UNAVAILABLE; reconnect unless the run is over.
    /// `reason` nil: closed on purpose (drained).
    private func lost(_ reason: String?) {
        guard state != .closed else { return }
        let failed = tearDown()
        for s in failed { worker.callEnded(s, CallResult(code: .unavailable), lost: true) }
        scheduleReconnect()
    }

    /// Closes the socket and drops the session; returns the slots that had a call in flight.
    @discardableResult
    private func tearDown() -> [CallSlot] {
        state = .closed
        tcp?.close()
        tcp = nil
        session = nil  // breaks the session → delegate cycle
        ended.removeAll(keepingCapacity: true)
        pump.discard()
        active = 0
        return slots.filter { $0.active }
    }

    func shutdown() {
        timer.close()
        let abandoned = tearDown()
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

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {}

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
        scheduleFlush()
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {
        if state == .ready { state = .draining }
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

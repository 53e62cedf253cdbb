import HTTP1
import UVLoop

/// One HTTP/1.1 keep-alive connection carrying one call at a time (no pipelining). A unary
/// request is written whole; a streamed request body is chunked, one chunk per message, released
/// as the scenario allows (all at once, or one per response message in ping-pong), while the
/// response is read — full duplex, as the gateway serves JSON bidi streams over HTTP/1.1.
/// Loop-thread only; owned by its worker.
final class HTTP1LoadConnection: LoadConnection, TCPStreamDelegate, Flushable {
    enum State { case idle, connecting, ready, closed }

    unowned(unsafe) let worker: LoadWorker
    private(set) var slots: [CallSlot] = []
    private unowned(unsafe) var slot: CallSlot!
    private let template: HTTP1RequestTemplate
    private let streamsRequest: Bool
    private var state = State.idle
    private var tcp: TCPStream?
    private var parser = HTTP1ResponseParser()
    /// The call's final response has begun (`.head`) and not ended yet.
    private var inResponse = false
    /// The response just ended: set by `.end`, read after `feed` or `connectionClosed` returns.
    private var responseEnded = false
    /// The final response's head said the connection closes after it.
    private var responseCloses = false
    private let pump = WritePump(capacity: 16 * 1024)
    /// Where requests are written (the pump's collecting buffer).
    private var out: OutputBuffer { pump.out }
    var flushScheduled = false
    private var timer: Timer!
    private var backoffMs: UInt64 = 0
    private var settled = false
    /// The last chunk of the request body has been queued.
    private var requestEnded = false
    /// The call ended during the last input: offer the slot (or reconnect) at the next flush.
    private var endedPending = false
    private var closeAfterResponse = false

    init(worker: LoadWorker) {
        self.worker = worker
        template = worker.http1Template!
        streamsRequest = worker.plan.scenario.streamsRequest
        timer = Timer(loop: worker.loop) { [unowned self] in self.timerFired() }
        let s = CallSlot(connection: self, reader: worker.plan.format.makeReader(scenario: worker.plan.scenario),
                         body: worker.body)
        slots = [s]
        slot = s
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
        timer.stop()
        state = .ready
        backoffMs = 0
        parser = HTTP1ResponseParser()
        stream.startReading()
        if !settled {
            settled = true
            worker.connectionSettled(ok: true, error: nil)
        }
        worker.connectionReady(self)
    }

    private func timerFired() {
        switch state {
        case .connecting:
            connectFailed("connect to \(worker.plan.target) timed out after \(worker.plan.connectTimeoutMs) ms")
        case .closed, .idle:
            if worker.wantsConnections { connect() }
        case .ready:
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
        backoffMs = backoffMs == 0 ? 50 : min(backoffMs * 2, 1000)
        if worker.wantsConnections { timer.start(timeoutMs: backoffMs) }
    }

    // MARK: calls

    func begin(_ slot: CallSlot) {
        guard state == .ready, tcp != nil else {
            worker.callEnded(slot, CallResult(code: .unavailable), lost: true)
            return
        }
        inResponse = false
        closeAfterResponse = false
        if streamsRequest {
            template.streamingHead.withUnsafeBytes { out.append($0) }
            requestEnded = false
            produceBody()
        } else {
            template.unaryRequest.withUnsafeBytes { out.append($0) }
            slot.bytesSent = slot.body.totalLength
            requestEnded = true
        }
        scheduleFlush()
    }

    /// Queues the request messages the scenario allows now, and the last chunk after the last one.
    private func produceBody() {
        let length = slot.body.messageLength
        while slot.requestBytesAvailable >= length && out.count < 256 * 1024 {
            template.chunkPrefix.withUnsafeBytes { out.append($0) }
            out.append(UnsafeRawBufferPointer(slot.body.message))
            HTTP1RequestTemplate.chunkSuffix.withUnsafeBytes { out.append($0) }
            slot.bytesSent += length
        }
        if slot.requestComplete && !requestEnded {
            HTTP1RequestTemplate.lastChunk.withUnsafeBytes { out.append($0) }
            requestEnded = true
        }
    }

    /// Inside `flush`: what calls start there is written by that same flush.
    private var flushing = false

    @inline(__always)
    private func scheduleFlush() {
        if !flushing { worker.flushQueue.schedule(self) }
    }

    func flush() {
        guard state == .ready, let tcp else { return }
        flushing = true
        defer { flushing = false }
        if endedPending {
            endedPending = false
            if closeAfterResponse {
                // The server closes after this response, or the request body was cut short:
                // the connection cannot carry another call. A new one is opened at once.
                tearDown()
                connect()
                return
            }
            worker.slotFreed(slot)
        }
        _ = pump.pump(tcp) { _ in
            if slot.active && !requestEnded { produceBody() }
            return true
        }
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard slot.active else {
            lost("\(worker.plan.target) sent bytes with no request outstanding")
            return
        }
        do {
            let used = try parser.feed(bytes, stopAfterEnd: true) { responseEvent($0) }
            if used < bytes.count {
                lost("\(worker.plan.target) sent bytes after the end of a response")
            }
        } catch {
            lost("malformed HTTP/1.1 response from \(worker.plan.target): \(error.message)")
        }
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        if state == .connecting {
            connectFailed("\(worker.plan.target) closed the connection")
            return
        }
        if slot.active && error == nil && inResponse {
            // A body that the close delimits ends here: the call is complete. Any other response
            // cut short by the close is lost (below).
            responseEnded = false
            try? parser.connectionClosed { responseEvent($0) }
            if responseEnded {
                closeAfterResponse = true
                scheduleFlush()
                return
            }
        }
        lost(slot.active ? (error.map { "connection to \(worker.plan.target) lost: \($0)" }
                                ?? "\(worker.plan.target) closed the connection during a call") : nil)
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if let error {
            lost("write to \(worker.plan.target) failed: \(error)")
            return
        }
        flush()
    }

    /// The connection is gone: the call in flight ends with UNAVAILABLE; reconnect while the run
    /// goes on (at once after an idle close by the server, with backoff after a failure).
    private func lost(_ reason: String?) {
        guard state != .closed else { return }
        let failed = tearDown()
        if let failed { worker.callEnded(failed, CallResult(code: .unavailable), lost: true) }
        guard worker.wantsConnections else { return }
        if reason == nil {
            connect()
        } else {
            backoffMs = backoffMs == 0 ? 50 : min(backoffMs * 2, 1000)
            timer.start(timeoutMs: backoffMs)
        }
    }

    /// Closes the socket; returns the slot if it had a call in flight.
    @discardableResult
    private func tearDown() -> CallSlot? {
        state = .closed
        tcp?.close()
        tcp = nil
        pump.discard()
        endedPending = false
        return slot.active ? slot : nil
    }

    func shutdown() {
        timer.close()
        if let s = tearDown() { worker.callAbandoned(s) }
    }

    // MARK: the response (inside parser.feed: record, never start a call)

    private func responseEvent(_ event: HTTP1ResponseEvent) {
        switch event {
        case .informational:
            break  // 100 Continue and the like: the final response follows
        case .head(let head):
            inResponse = true
            responseCloses = !head.keepAlive
            slot.reader.httpStatus = head.status
            head.headers.forEachField { slot.reader.field(name: $0, value: $1, trailer: false) }
        case .body(let bytes):
            if slot.bodyReceived(bytes, worker: worker) {
                scheduleFlush()  // the next message may go
            }
        case .trailers(let trailers):
            trailers.forEachField { slot.reader.field(name: $0, value: $1, trailer: true) }
        case .end:
            inResponse = false
            responseEnded = true
            let result = slot.reader.finish()
            closeAfterResponse = responseCloses || !requestEnded
            worker.callEnded(slot, result)
            endedPending = true
            scheduleFlush()
        }
    }
}

import TLS
import Glibc
import Synchronization
import UVLoop

/// One load thread: its own uv loop, its own connections and call slots, its own figures.
/// Nothing on the per-call path is shared with other workers; the runner reads `stats` only
/// after the thread has ended (pthread_join).
///
/// Phases: connecting → ready (every connection has connected or failed once; the runner waits
/// for all workers) → running (from the runner's go time) → stopping (no new calls: duration or
/// call budget reached, or a stop request; calls in flight finish) → done (all ended, or the
/// grace after the duration is over and the rest are abandoned).
final class LoadWorker: Flushable {
    enum Phase { case connecting, ready, running, stopping, done }

    let index: Int
    let plan: LoadPlan
    let body: RequestBody
    /// Where this thread's TLS connections decrypt into.
    let tlsPlaintext = TLSPlaintextBuffer()
    /// HTTP/1.1 runs: the request bytes, built once per worker.
    let http1Template: HTTP1RequestTemplate?
    let control: RunControl
    let progress = WorkerProgress()
    let loop: Loop
    private(set) var flushQueue: FlushQueue!
    private var wakeup: Wakeup!
    private var phaseTimer: Timer?
    private var rateTimer: Timer?
    private var connections: [LoadConnection] = []
    /// Read by the runner after the thread has ended.
    private(set) var stats = LoadStats()
    private(set) var firstConnectError: String?
    private var thread = pthread_t()
    var flushScheduled = false

    private(set) var phase = Phase.connecting
    private var settled = 0
    private var finishPending = false
    private var measureStartNs: UInt64 = 0
    private var stopIssuingNs = UInt64.max
    private var hardStopNs = UInt64.max
    /// Recorded calls still to start when `calls` bounds the run.
    private var quota: Int?
    private var active = 0
    private var completedAll = 0
    private var errorsAll = 0

    // Open loop
    private var openLoop = false
    /// Open loop: the schedule still produces calls (false once the call budget is used up).
    private var generating = true
    private var firstIntendedNs: UInt64 = 0
    private var intervalNs = 0.0
    private var nextIndex: UInt64 = 0
    private var nextIntendedNs: UInt64 = 0
    private var freeSlots: [CallSlot] = []
    private var backlog = TimeQueue()
    static let backlogLimit = 1 << 22

    /// Creates the loop and the wakeup on the calling thread (the runner's), so the runner can
    /// signal the worker from the start; everything else is created on the worker's thread.
    init(index: Int, plan: LoadPlan, body: RequestBody, control: RunControl) throws(UVError) {
        self.index = index
        self.plan = plan
        self.body = body
        self.control = control
        http1Template = plan.transport == .http1 ? HTTP1RequestTemplate(plan: plan, body: body) : nil
        loop = try Loop()
        wakeup = Wakeup(loop: loop) { [unowned self] in self.wakeupFired() }
    }

    /// Whether `wakeup` may still be sent to: the runner may signal until it has joined the
    /// thread, and the worker closes its handles before that. Taken on the control path only.
    private let wakeupOpen = Mutex<Bool>(true)

    /// Thread-safe: the runner's way in. Does nothing once the worker has ended.
    func signal() {
        wakeupOpen.withLock { open in
            if open { wakeup.send() }
        }
    }

    func start() {
        thread = startThread { self.runOnThread() }
    }

    func join() { pthread_join(thread, nil) }

    private func runOnThread() {
        flushQueue = FlushQueue(loop: loop)
        let sockets = plan.sockets(ofWorker: index)
        for _ in 0 ..< sockets {
            let c: LoadConnection = plan.transport == .http2
                ? HTTP2LoadConnection(worker: self, slots: plan.slotsPerSocket)
                : HTTP1LoadConnection(worker: self)
            connections.append(c)
        }
        freeSlots.reserveCapacity(sockets * plan.slotsPerSocket)
        for c in connections { c.connect() }
        loop.run()
        loop.closeAllHandles()
        progress.phase.store(WorkerProgress.done, ordering: .releasing)
        control.mainWakeup.send()
    }

    // MARK: signals from the runner

    private func wakeupFired() {
        if control.stopRequested.load(ordering: .relaxed) { requestStop() }
        if phase == .ready {
            let go = control.goNs.load(ordering: .acquiring)
            if go != 0 { beginRun(go) }
        }
    }

    private func beginRun(_ go: UInt64) {
        phase = .running
        measureStartNs = go + plan.warmupNs
        if let d = plan.durationNs {
            stopIssuingNs = measureStartNs + d
            hardStopNs = stopIssuingNs + plan.graceNs
        }
        quota = plan.callQuota(ofWorker: index)
        phaseTimer = Timer(loop: loop) { [unowned self] in self.phaseTimerFired() }
        armPhaseTimer()
        if quota == 0 {
            stopIssuing()
            return
        }
        if case let .open(rate) = plan.mode {
            openLoop = true
            // Workers interleave: worker w takes calls w, w + T, w + 2T, … of the run's schedule.
            let perCall = 1e9 / rate
            intervalNs = perCall * Double(plan.workerCount)
            firstIntendedNs = go + UInt64(perCall * Double(index))
            nextIntendedNs = firstIntendedNs
            rateTimer = Timer(loop: loop) { [unowned self] in self.rateTick() }
        }
        for c in connections where c.isReady {
            for s in c.slots where !s.active { slotFreed(s) }
        }
        if openLoop { rateTick() }
    }

    private func requestStop() {
        guard phase == .running || phase == .stopping else {
            if phase == .connecting || phase == .ready { scheduleFinish() }
            return
        }
        let now = monotonicNanoseconds()
        if stopIssuingNs > now { stopIssuingNs = now }
        if hardStopNs > now + plan.graceNs { hardStopNs = now + plan.graceNs }
        stopIssuing()
        armPhaseTimer()
    }

    private func armPhaseTimer() {
        guard let phaseTimer else { return }
        let next = phase == .running ? stopIssuingNs : hardStopNs
        guard next != UInt64.max else { phaseTimer.stop(); return }
        let now = monotonicNanoseconds()
        let ms = next > now ? (next - now + 999_999) / 1_000_000 : 0
        phaseTimer.start(timeoutMs: ms)
    }

    private func phaseTimerFired() {
        let now = monotonicNanoseconds()
        if now >= hardStopNs {
            finish()
            return
        }
        if now >= stopIssuingNs { stopIssuing() }
        armPhaseTimer()
    }

    // MARK: connections

    /// A connection's first outcome (connected, or the first attempt failed).
    func connectionSettled(ok: Bool, error: String?) {
        settled += 1
        if ok {
            progress.readyConnections.add(1, ordering: .relaxed)
        } else if firstConnectError == nil {
            firstConnectError = error
        }
        if settled == connections.count && phase == .connecting {
            phase = .ready
            progress.phase.store(WorkerProgress.ready, ordering: .releasing)
            control.mainWakeup.send()
            wakeupFired()  // the go signal may have come first (a stop request)
        }
    }

    func connectFailed() {
        stats.connectFailures += 1
    }

    /// A connection (re)connected: its slots take calls.
    func connectionReady(_ c: LoadConnection) {
        guard phase == .running else { return }
        for s in c.slots where !s.active { slotFreed(s) }
    }

    /// Whether connections lost during the run should come back.
    var wantsConnections: Bool { phase == .connecting || phase == .ready || phase == .running }

    // MARK: calls

    /// A slot has no call: start one (closed loop), or keep it for the schedule (open loop).
    /// Called outside nghttp2 callbacks (from a flush, a timer or the start).
    func slotFreed(_ slot: CallSlot) {
        guard phase == .running, !slot.active, slot.connection.isReady else { return }
        if openLoop {
            if let intended = backlog.popFirst() {
                start(slot, intendedNs: intended)
                if !generating && backlog.count == 0 { becomeStopping() }
            } else if !slot.onFreeList {
                slot.onFreeList = true
                freeSlots.append(slot)
            }
            return
        }
        let now = monotonicNanoseconds()
        if now >= stopIssuingNs {
            stopIssuing()
            return
        }
        let measured = now >= measureStartNs
        if measured, let q = quota {
            quota = q - 1
            if q == 1 {  // the last call of the budget
                launch(slot, startNs: now, measured: measured, now: now)
                becomeStopping()
                return
            }
        }
        launch(slot, startNs: now, measured: measured, now: now)
    }

    @inline(__always)
    private func launch(_ slot: CallSlot, startNs: UInt64, measured: Bool, now: UInt64) {
        slot.reset()
        slot.startNs = startNs
        slot.pingSentNs = now
        slot.measured = measured
        slot.active = true
        active += 1
        slot.connection.begin(slot)
    }

    /// Open loop: the call meant to start at `intendedNs` starts now on `slot`. Its latency
    /// counts from the intended time when it starts late (coordinated omission), from now when
    /// the timer let it start early (by less than a millisecond).
    private func start(_ slot: CallSlot, intendedNs: UInt64) {
        let now = monotonicNanoseconds()
        launch(slot, startNs: min(intendedNs, now), measured: intendedNs >= measureStartNs, now: now)
    }

    private func rateTick() {
        guard phase == .running, generating else { return }
        let now = monotonicNanoseconds()
        while nextIntendedNs <= now + 1_000_000 {
            if nextIntendedNs >= stopIssuingNs {
                stopIssuing()
                return
            }
            let intended = nextIntendedNs
            nextIndex += 1
            nextIntendedNs = firstIntendedNs + UInt64(Double(nextIndex) * intervalNs)
            if intended >= measureStartNs, let q = quota {
                quota = q - 1
                if q == 1 {
                    // The last call of the budget: the schedule ends; calls waiting still start.
                    generating = false
                    issue(intended)
                    if backlog.count == 0 { becomeStopping() }
                    return
                }
            }
            issue(intended)
        }
        // Wake when the next call is less than a millisecond away (libuv timers count in ms).
        let lead = nextIntendedNs > now + 1_000_000 ? nextIntendedNs - now - 1_000_000 : 0
        rateTimer?.start(timeoutMs: (lead + 999_999) / 1_000_000)
    }

    /// Every call of the budget has started: the worker ends when they have.
    private func becomeStopping() {
        guard phase == .running else { return }
        phase = .stopping
        rateTimer?.stop()
        armPhaseTimer()
        if active == 0 { scheduleFinish() }
    }

    private func issue(_ intended: UInt64) {
        while let s = freeSlots.popLast() {
            s.onFreeList = false
            if !s.active && s.connection.isReady {
                start(s, intendedNs: intended)
                return
            }
        }
        if backlog.count < LoadWorker.backlogLimit {
            backlog.push(intended)
        } else if intended >= measureStartNs {
            stats.notStarted += 1
        }
    }

    /// No new calls from now on.
    private func stopIssuing() {
        if phase == .running { phase = .stopping }
        guard phase == .stopping else { return }
        rateTimer?.stop()
        while let intended = backlog.popFirst() {
            if intended >= measureStartNs { stats.notStarted += 1 }
        }
        armPhaseTimer()
        if active == 0 { scheduleFinish() }
    }

    /// A call ended (inside a connection's event: record only, start nothing here).
    func callEnded(_ slot: CallSlot, _ result: CallResult, reset: Bool = false, lost: Bool = false) {
        slot.active = false
        active -= 1
        completedAll += 1
        progress.completed.store(completedAll, ordering: .relaxed)
        if result.code != .ok {
            errorsAll += 1
            progress.errors.store(errorsAll, ordering: .relaxed)
        }
        if slot.measured {
            let now = monotonicNanoseconds()
            let second = now > measureStartNs ? Int((now - measureStartNs) / 1_000_000_000) : 0
            stats.record(code: result.code, httpStatus: slot.reader.httpStatus, latencyNs: now &- slot.startNs,
                         second: second, endNs: now)
            stats.bytesSent += slot.bytesSent
            stats.bytesReceived += slot.bytesReceived
            stats.messagesSent += slot.messagesSent
            stats.messagesReceived += slot.messagesReceived + result.trailingMessages
            if result.missingStatus { stats.missingStatus += 1 }
            if reset { stats.streamResets += 1 }
            if lost { stats.connectionLost += 1 }
        }
        if phase == .stopping && active == 0 { scheduleFinish() }
    }

    /// A ping-pong response arrived on `slot`: its round trip ends, the next message leaves now.
    @inline(__always)
    func roundTrip(_ slot: CallSlot) {
        let now = monotonicNanoseconds()
        if slot.measured { stats.messageLatency.record((now &- slot.pingSentNs) / 1000) }
        slot.pingSentNs = now
    }

    /// A call in flight when the run was cut short: not a result.
    func callAbandoned(_ slot: CallSlot) {
        slot.active = false
        active -= 1
        if slot.measured { stats.unfinished += 1 }
    }

    // MARK: the end

    private func scheduleFinish() {
        finishPending = true
        flushQueue.schedule(self)
    }

    /// Runs in the loop's check phase, outside every connection's callbacks.
    func flush() {
        if finishPending { finish() }
    }

    private func finish() {
        guard phase != .done else { return }
        phase = .done
        phaseTimer?.close()
        rateTimer?.close()
        let all = connections
        connections.removeAll()
        for c in all { c.shutdown() }
        freeSlots.removeAll()
        wakeupOpen.withLock { open in
            open = false
            wakeup.close()
        }
        flushQueue.close()
        loop.stop()
    }
}

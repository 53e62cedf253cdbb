import Glibc
import UVLoop

/// Why a run could not produce a report.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs a plan: starts the workers, waits until every connection has connected (or failed), gives
/// them one common start time, prints the progress line once a second, samples the `--pid`
/// processes at the start and the end of the measured window, and merges the workers' figures
/// when they have all ended.
///
/// Its own uv loop runs on the calling thread and only handles control: worker signals, the
/// progress timer, the warm-up boundary, SIGINT/SIGTERM and a watchdog. Workers are signalled
/// through their `Wakeup`s; they signal back through the runner's.
public final class LoadRunner {
    enum Phase { case connecting, running, ending }

    let plan: LoadPlan
    private let loop: Loop
    private var wakeup: Wakeup!
    private var control: RunControl!
    private var workers: [LoadWorker] = []
    private var phase = Phase.connecting
    private var progressTimer: Timer?
    private var measureTimer: Timer?
    private var watchdog: Timer?
    private var signals: [Signal] = []
    private var interrupted = false
    private var setupError: String?

    private var goNs: UInt64 = 0
    private var measureStartNs: UInt64 = 0
    private var endNs: UInt64 = 0
    /// The `--pid` processes and this one have been sampled at the start of the window.
    private var measuring = false
    private var selfCPUStart: UInt64 = 0
    private var selfCPUEnd: UInt64 = 0
    private var pidCPUStart: [Int32: UInt64] = [:]
    private var pidCPUEnd: [Int32: UInt64] = [:]
    private var pidPeakReset: [Int32: Bool] = [:]
    private var pidPeakKiB: [Int32: Int] = [:]
    private var lastProgressCalls = 0
    private let tty = isatty(2) != 0

    public init(plan: LoadPlan) throws(LoadError) {
        self.plan = plan
        do { loop = try Loop() } catch { throw LoadError("cannot create an event loop: \(error)") }
    }

    public func run() throws(LoadError) -> LoadReport {
        signal(SIGPIPE, SIG_IGN)
        wakeup = Wakeup(loop: loop) { [unowned self] in self.workerSignalled() }
        control = RunControl(mainWakeup: wakeup)
        let body = RequestBody(framed: plan.format.frame(message: plan.message, scenario: plan.scenario),
                               messages: plan.messagesPerCall, pingPong: plan.scenario == .bidiPingPong)
        do {
            for w in 0 ..< plan.workerCount {
                workers.append(try LoadWorker(index: w, plan: plan, body: body, control: control))
            }
        } catch {
            throw LoadError("cannot create a worker loop: \(error)")
        }
        for sig in [SIGINT, SIGTERM] {
            signals.append(Signal(loop: loop, signal: sig) { [unowned self] _ in self.stopRequested() })
        }
        for w in workers { w.start() }
        loop.run()
        for w in workers { w.join() }
        loop.closeAllHandles()
        if let setupError { throw LoadError(setupError) }

        var stats = LoadStats()
        for w in workers { stats.merge(w.stats) }
        // The window runs to the last recorded call's end, and at least to the end of the time
        // calls were being started (a target that stopped answering leaves no late ends).
        let issuingEnd = min(endNs, plan.durationNs.map { measureStartNs + $0 } ?? endNs)
        let windowEnd = max(stats.lastEndNs, issuingEnd, measureStartNs)
        let windowNs = windowEnd - measureStartNs
        let processes = plan.pids.map { pid -> ProcessFigures in
            let cpu: UInt64? = {
                guard let a = pidCPUStart[pid], let b = pidCPUEnd[pid] else { return nil }
                return b >= a ? b - a : 0
            }()
            return ProcessFigures(pid: pid, cpuMicros: cpu, peakRSSKiB: pidPeakKiB[pid], peakReset: pidPeakReset[pid] ?? false)
        }
        return LoadReport(
            target: plan.authority, protocolName: plan.format.name, transport: plan.tls != nil ? "h2 over TLS" : plan.transport.rawValue,
            scenario: plan.scenario.rawValue, method: plan.method, path: plan.path,
            connections: plan.connections, streams: plan.streamsPerConnection, sockets: plan.sockets,
            threads: plan.workerCount, mode: plan.mode, warmupSeconds: Double(plan.warmupNs) / 1e9,
            requestMessageBytes: plan.message.count, messagesPerCall: plan.messagesPerCall, stats: stats,
            seconds: Double(windowNs) / 1e9, generatorCPUMicros: selfCPUEnd >= selfCPUStart ? selfCPUEnd - selfCPUStart : 0,
            processes: processes, interrupted: interrupted)
    }

    // MARK: events

    private func workerSignalled() {
        if workers.allSatisfy({ $0.progress.phase.load(ordering: .acquiring) == WorkerProgress.done }) {
            allDone()
            return
        }
        if phase == .connecting,
           workers.allSatisfy({ $0.progress.phase.load(ordering: .acquiring) >= WorkerProgress.ready }) {
            let ready = workers.reduce(0) { $0 + $1.progress.readyConnections.load(ordering: .relaxed) }
            if ready == 0 {
                let reason = workers.lazy.compactMap { $0.firstConnectError }.first ?? "no connection"
                setupError = "cannot connect to \(plan.authority): \(reason)"
                stopWorkers()
                return
            }
            go()
        }
    }

    private func go() {
        phase = .running
        goNs = monotonicNanoseconds()
        measureStartNs = goNs + plan.warmupNs
        control.goNs.store(goNs, ordering: .releasing)
        for w in workers { w.signal() }
        if plan.warmupNs == 0 {
            measureStarted()
        } else {
            measureTimer = Timer(loop: loop) { [unowned self] in self.measureStarted() }
            measureTimer?.start(timeoutMs: plan.warmupNs / 1_000_000)
        }
        if plan.showProgress {
            progressTimer = Timer(loop: loop) { [unowned self] in self.printProgress() }
            progressTimer?.start(timeoutMs: 1000, repeatMs: 1000)
        }
        if let d = plan.durationNs {
            // A backstop only: workers stop themselves at the end of the grace period.
            let limitMs = (plan.warmupNs + d + plan.graceNs) / 1_000_000 + 3000
            watchdog = Timer(loop: loop) { [unowned self] in self.watchdogFired() }
            watchdog?.start(timeoutMs: limitMs)
        }
    }

    private func measureStarted() {
        measuring = true
        selfCPUStart = ProcessSampler.selfCPUMicros()
        for pid in plan.pids {
            pidPeakReset[pid] = ProcessSampler.resetPeakRSS(pid: pid)
            pidCPUStart[pid] = ProcessSampler.cpuMicros(pid: pid)
        }
    }

    private func stopRequested() {
        if interrupted {
            // A second ^C: leave now.
            writeStderr("\ntrestle load: interrupted\n")
            _exit(130)
        }
        interrupted = true
        stopWorkers()
    }

    private func stopWorkers() {
        control.stopRequested.store(true, ordering: .relaxed)
        for w in workers { w.signal() }
    }

    private func watchdogFired() {
        writeStderr("\ntrestle load: workers did not stop within the grace period; exiting\n")
        _exit(3)
    }

    private func allDone() {
        guard phase != .ending else { return }
        phase = .ending
        endNs = monotonicNanoseconds()
        if measureStartNs != 0 && endNs >= measureStartNs {
            if !measuring { measureStarted() }  // the warm-up timer had not fired yet
            selfCPUEnd = ProcessSampler.selfCPUMicros()
            for pid in plan.pids {
                pidCPUEnd[pid] = ProcessSampler.cpuMicros(pid: pid)
                pidPeakKiB[pid] = ProcessSampler.peakRSSKiB(pid: pid)
            }
        }
        if plan.showProgress && tty && progressTimer != nil { writeStderr("\n") }
        progressTimer?.close()
        measureTimer?.close()
        watchdog?.close()
        for s in signals { s.close() }
        // The wakeup stays open until the workers are joined: a worker may still send it.
        loop.stop()
    }

    private func printProgress() {
        let now = monotonicNanoseconds()
        var calls = 0, errors = 0
        for w in workers {
            calls += w.progress.completed.load(ordering: .relaxed)
            errors += w.progress.errors.load(ordering: .relaxed)
        }
        let elapsed = Double(now - goNs) / 1e9
        let rate = calls - lastProgressCalls
        lastProgressCalls = calls
        var line = "[\(Format.fixed(elapsed, 1))s] calls \(calls)  \(rate)/s  errors \(errors)"
        if now < measureStartNs { line += "  (warm-up)" }
        writeStderr(tty ? "\r\u{1B}[K" + line : line + "\n")
    }
}

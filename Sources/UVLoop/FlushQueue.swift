/// Something whose pending output is written once per loop turn, after the turn's input is processed.
public protocol Flushable: AnyObject {
    var flushScheduled: Bool { get set }
    func flush()
}

/// Per-loop list of connections that have output to write: a callback that produced frames on
/// some session schedules that session's connection here instead of writing from inside the
/// callback; the loop's check phase flushes each once (Envoy's "dispatch, then flush").
///
/// Work scheduled from a timer (a deadline, a connect timeout) or from libuv's pending phase
/// runs before the poll phase: while anything is pending an idle handle keeps that poll from
/// blocking, so the check phase right after it flushes at once, not at the next socket event.
public final class FlushQueue {
    private var pending: [Flushable] = []
    private var draining: [Flushable] = []
    private var check: Check!
    private let idle: Idle

    public init(loop: Loop) {
        pending.reserveCapacity(64)
        draining.reserveCapacity(64)
        idle = Idle(loop: loop)
        check = Check(loop: loop) { [unowned self] in self.run() }
        check.start()
    }

    @inline(__always)
    public func schedule(_ f: Flushable) {
        guard !f.flushScheduled else { return }
        f.flushScheduled = true
        if pending.isEmpty { idle.start() }
        pending.append(f)
    }

    /// Flushes everything scheduled, including what flushing itself schedules.
    public func run() {
        while !pending.isEmpty {
            swap(&pending, &draining)
            for f in draining {
                f.flushScheduled = false
                f.flush()
            }
            draining.removeAll(keepingCapacity: true)
        }
        idle.stop()
    }

    public func close() {
        check.close()
        idle.close()
    }
}

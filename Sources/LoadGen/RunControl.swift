import Synchronization
import UVLoop

/// What the runner and the workers share: the start signal and the stop request. Set by the
/// runner, read by workers when their wakeup fires.
final class RunControl: Sendable {
    /// Monotonic ns at which the run starts; 0 until every worker has connected.
    let goNs = Atomic<UInt64>(0)
    let stopRequested = Atomic<Bool>(false)
    /// The runner's wakeup: a worker sends it when its phase changes.
    let mainWakeup: Wakeup

    init(mainWakeup: Wakeup) { self.mainWakeup = mainWakeup }
}

/// A worker's state as the runner sees it, for the start barrier and the live progress line.
/// Each field has one writer (the worker); relaxed stores are all the per-call path pays.
final class WorkerProgress: Sendable {
    static let connecting = 0, ready = 1, done = 2
    let phase = Atomic<Int>(0)
    let readyConnections = Atomic<Int>(0)
    /// Calls ended, warm-up included.
    let completed = Atomic<Int>(0)
    /// Calls ended with a status other than OK, warm-up included.
    let errors = Atomic<Int>(0)
}

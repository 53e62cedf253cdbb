/// What a worker asks of a connection, whatever its transport. Loop-thread only.
protocol LoadConnection: AnyObject {
    /// Takes new calls now (connected, handshake done, not draining).
    var isReady: Bool { get }
    /// The call slots this connection carries, each reused call after call.
    var slots: [CallSlot] { get }
    /// Starts connecting (first time and after a loss).
    func connect()
    /// Starts a call on `slot` (one of `slots`, not active). Precondition: `isReady`. The worker
    /// has set the slot's start time and whether it is measured.
    func begin(_ slot: CallSlot)
    /// The run is over: close now. Calls still in flight are handed to the worker as abandoned.
    func shutdown()
}

import Synchronization

/// The current context of a listener (`TLSServerContext`) or cluster (`TLSClientContext`), which
/// another thread may replace at any time (SIGHUP, a routes-file reload).
///
/// Workers read `current` once per new connection — the only time the lock is taken; records
/// never touch it. A connection keeps the context it started with (it holds a reference), so a
/// swap affects new handshakes only and open connections are never disturbed; the old context
/// is freed when its last connection ends.
public final class TLSContextHolder<Context: AnyObject & Sendable>: Sendable {
    private struct State {
        var context: Context
        var generation: Int
    }

    private let state: Mutex<State>

    public init(_ context: Context) {
        state = Mutex(State(context: context, generation: 1))
    }

    /// The context for a new connection. Any thread.
    public var current: Context { state.withLock { $0.context } }

    /// Counts replacements, starting at 1 (for logs and the admin endpoint).
    public var generation: Int { state.withLock { $0.generation } }

    /// Installs `context` for handshakes that start from now on. Any thread.
    public func replace(with context: Context) {
        // The old context is released outside the lock: its deinit may free OpenSSL state.
        let old: Context = state.withLock { s in
            let old = s.context
            s.context = context
            s.generation += 1
            return old
        }
        _ = old
    }

    /// Builds a new context with `make` (reading its files: call off the loops) and installs it;
    /// when `make` throws, the current context stays and the error — which names the file — is
    /// returned for the log.
    @discardableResult
    public func reload(_ make: () throws(TLSFileError) -> Context) -> TLSFileError? {
        do {
            replace(with: try make())
            return nil
        } catch {
            return error
        }
    }
}

import CLibUV

/// A libuv timer. Loop-thread only. Open until `close()`; the owner is retained while open.
public final class Timer: LoopClosable {
    let handle: UnsafeMutablePointer<uv_timer_t>
    private let callback: () -> Void
    private var closed = false

    public init(loop: Loop, _ callback: @escaping () -> Void) {
        self.callback = callback
        handle = HandleBox.allocate(uv_timer_t.self)
        uv_timer_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Fires once after `timeoutMs` (and every `repeatMs` after that when non-zero).
    public func start(timeoutMs: UInt64, repeatMs: UInt64 = 0) {
        guard !closed else { return }
        uv_timer_start(handle, { h in
            HandleBox.owner(UnsafeMutableRawPointer(h), as: Timer.self)?.callback()
        }, timeoutMs, repeatMs)
    }

    public func stop() {
        guard !closed else { return }
        uv_timer_stop(handle)
    }

    /// Does not keep the loop alive.
    public func unref() { uv_unref(asHandle(handle)) }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

/// Runs a callback after the I/O of each loop turn (uv_check): used to flush work that
/// callbacks queued, once per turn, outside any nghttp2 callback.
public final class Check: LoopClosable {
    let handle: UnsafeMutablePointer<uv_check_t>
    private let callback: () -> Void
    private var closed = false

    public init(loop: Loop, _ callback: @escaping () -> Void) {
        self.callback = callback
        handle = HandleBox.allocate(uv_check_t.self)
        uv_check_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_unref(asHandle(handle))
    }

    public func start() {
        guard !closed else { return }
        uv_check_start(handle) { h in
            HandleBox.owner(UnsafeMutableRawPointer(h), as: Check.self)?.callback()
        }
    }

    public func stop() {
        guard !closed else { return }
        uv_check_stop(handle)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

/// The one way into a loop from another thread: `send()` may be called from any thread;
/// the callback runs on the loop's thread (coalesced: several sends may run it once).
public final class Wakeup: LoopClosable, @unchecked Sendable {
    nonisolated(unsafe) let handle: UnsafeMutablePointer<uv_async_t>
    private let callback: () -> Void
    private var closed = false

    public init(loop: Loop, _ callback: @escaping () -> Void) {
        self.callback = callback
        handle = HandleBox.allocate(uv_async_t.self)
        uv_async_init(loop.raw, handle) { h in
            HandleBox.owner(UnsafeMutableRawPointer(h), as: Wakeup.self)?.callback()
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Thread-safe.
    public func send() { uv_async_send(handle) }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

/// A signal watcher (uv_signal). Loop-thread only.
public final class Signal: LoopClosable {
    let handle: UnsafeMutablePointer<uv_signal_t>
    private let callback: (Int32) -> Void
    private var closed = false

    public init(loop: Loop, signal: Int32, _ callback: @escaping (Int32) -> Void) {
        self.callback = callback
        handle = HandleBox.allocate(uv_signal_t.self)
        uv_signal_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_signal_start(handle, { h, signum in
            HandleBox.owner(UnsafeMutableRawPointer(h), as: Signal.self)?.callback(signum)
        }, signal)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

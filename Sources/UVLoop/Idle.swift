import CLibUV

/// A uv_idle handle: while started, the loop polls for I/O without blocking. Loop-thread only.
public final class Idle: LoopClosable {
    let handle: UnsafeMutablePointer<uv_idle_t>
    private var closed = false
    private var active = false

    public init(loop: Loop) {
        handle = HandleBox.allocate(uv_idle_t.self)
        uv_idle_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func start() {
        guard !closed, !active else { return }
        active = true
        uv_idle_start(handle) { _ in }
    }

    public func stop() {
        guard !closed, active else { return }
        active = false
        uv_idle_stop(handle)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

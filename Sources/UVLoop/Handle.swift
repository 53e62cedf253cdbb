import CLibUV

/// Shared lifetime rule for every libuv handle (libuv design.rst; STYLE.md):
/// the `uv_*_t` lives on the heap; its owner is retained (+1) while the handle is open and
/// released, and the memory freed, only in the close callback. `data` is poisoned then.
final class HandleBox {
    /// Frees a handle of type `T` after `uv_close`, releasing its owner.
    static func close<T>(_ handle: UnsafeMutablePointer<T>) {
        let raw = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        guard uv_is_closing(raw) == 0 else { return }
        uv_close(raw) { h in
            guard let h else { return }
            if let data = h.pointee.data {
                // The owner may be freed on this line: this is its last retain.
                Unmanaged<AnyObject>.fromOpaque(data).release()
            }
            h.pointee.data = nil
            UnsafeMutableRawPointer(h).deallocate()
        }
    }

    /// Allocates zeroed storage for a handle of type T, big enough for any uv handle.
    static func allocate<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        let size = max(MemoryLayout<T>.size, 8)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return raw.bindMemory(to: T.self, capacity: 1)
    }

    @inline(__always)
    static func owner<O: AnyObject>(_ handle: UnsafeMutableRawPointer?, as: O.Type) -> O? {
        guard let handle else { return nil }
        let h = handle.assumingMemoryBound(to: uv_handle_t.self)
        guard let data = h.pointee.data else { return nil }
        return Unmanaged<O>.fromOpaque(data).takeUnretainedValue()
    }
}

@inline(__always)
func asHandle<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

@inline(__always)
func asStream<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_stream_t.self)
}

/// A growable byte buffer on the heap (unaligned bytes, no Swift array: its address is handed to
/// OpenSSL and to `uv_write`, and must not move while they hold it). Loop-thread only.
final class TLSByteBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    var count = 0

    init(capacity: Int = 0) {
        if capacity > 0 { grow(to: capacity) }
    }

    deinit { base?.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    var free: Int { capacity - count }
    var end: UnsafeMutableRawPointer { base! + count }

    /// At least `n` bytes free after `count`, keeping the contents.
    @inline(__always)
    func reserve(free n: Int) {
        if capacity - count < n { grow(to: count + n) }
    }

    private func grow(to minimum: Int) {
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity < minimum { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    func append(_ bytes: UnsafeRawPointer, _ n: Int) {
        guard n > 0 else { return }
        reserve(free: n)
        (base! + count).copyMemory(from: bytes, byteCount: n)
        count += n
    }

    /// Empties the buffer; frees its memory when it grew beyond `keep` bytes (a burst), so that
    /// an idle connection does not keep the size of its largest response.
    func reset(keep: Int) {
        count = 0
        if capacity > keep {
            base?.deallocate()
            base = nil
            capacity = 0
        }
    }
}

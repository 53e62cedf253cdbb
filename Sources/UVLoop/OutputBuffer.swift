/// A growable byte buffer that a connection's output is serialized into (HTTP/2 frames by
/// `HTTP2Session.produce`, HTTP/1.1 responses) and a socket write is made from. A connection
/// keeps two: one being written by the socket (a queued `TCPStream.write` uses its bytes until the
/// write completes), one collecting the next output. Loop-thread only.
public final class OutputBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public var count = 0

    public init(capacity: Int = 64 * 1024) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Reserves `n` bytes at the end and returns them for the caller to fill; count grows by n.
    public func claim(_ n: Int) -> UnsafeMutableRawBufferPointer {
        if count + n > capacity {
            var newCap = capacity * 2
            while newCap < count + n { newCap *= 2 }
            let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
            nb.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = nb
            capacity = newCap
        }
        let out = UnsafeMutableRawBufferPointer(start: base + count, count: n)
        count += n
        return out
    }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        claim(bytes.count).copyMemory(from: bytes)
    }

    /// Empties the buffer; shrinks it back when a burst made it large, so idle connections stay small.
    public func reset() {
        count = 0
        if capacity > 1 << 20 {
            base.deallocate()
            capacity = 64 * 1024
            base = .allocate(byteCount: capacity, alignment: 16)
        }
    }
}

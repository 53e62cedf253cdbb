import CFreeList

/// A growable ring buffer of bytes in transit for one direction of one call: bytes received on
/// one side, waiting to be framed on the other. Bounded by the HTTP/2 stream window, since the
/// receiving side's window is opened only for bytes taken out of here. Allocates on first use.
///
/// The one copy of a message's bytes on the relay path happens on `append` (the read buffer is
/// reused by the next read); `read(into:)` writes them straight into the outgoing DATA frame.
///
/// Public for everything that relays bytes (the gateway's calls, the demo service); in UVLoop
/// beside `OutputBuffer`, the other buffer of the transport layer.
/// Loop-thread only: its small blocks come from that thread's free lists and go back to them.
public struct ByteQueue: ~Copyable {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    private var head = 0
    public private(set) var count = 0
    /// Bytes read out with `readKeeping` and still kept, just before `head` (a call keeps what it
    /// sent upstream until the upstream answers, so that a refused stream can go again:
    /// `rewind`). Not in `count`.
    public private(set) var kept = 0

    public init() {}

    deinit { ByteQueue.release(base, capacity) }

    /// Blocks up to 1 KiB come from the worker thread's free lists (the same ones nghttp2 uses):
    /// with hundreds of calls in flight glibc's small per-thread cache overflows, and a plain
    /// malloc/free pair cost ~300 instructions per call.
    private static let smallBlock = 1024

    private static func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        size <= smallBlock ? trestle_freelist_malloc(size, nil)! : .allocate(byteCount: size, alignment: 16)
    }

    private static func release(_ p: UnsafeMutableRawPointer?, _ size: Int) {
        guard let p else { return }
        if size <= smallBlock { trestle_freelist_free(p, nil) } else { p.deallocate() }
    }

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let src = bytes.baseAddress else { return }
        if kept + count + n > capacity { grow(to: kept + count + n) }
        let b = base!
        let tail = (head + count) % capacity
        let first = min(n, capacity - tail)
        (b + tail).copyMemory(from: src, byteCount: first)
        if first < n { b.copyMemory(from: src + first, byteCount: n - first) }
        count += n
    }

    /// Moves exactly `into.count` bytes (≤ count) out of the queue.
    public mutating func read(into dst: UnsafeMutableRawBufferPointer) {
        guard take(into: dst) else { return }
        if count == 0 && kept == 0 { drained() }
    }

    /// Copies `into.count` bytes (≤ count) from the front and moves the front past them; false
    /// when there was nothing to copy.
    @inline(__always)
    private mutating func take(into dst: UnsafeMutableRawBufferPointer) -> Bool {
        let n = dst.count
        precondition(n <= count)
        guard n > 0, let b = base, let d = dst.baseAddress else { return false }
        let first = min(n, capacity - head)
        d.copyMemory(from: b + head, byteCount: first)
        if first < n { (d + first).copyMemory(from: b, byteCount: n - first) }
        head = (head + n) % capacity
        count -= n
        return true
    }

    /// As `read(into:)`, but the bytes stay in the queue, kept (`kept`) until `rewind` puts them
    /// back in front or `forgetKept` lets them go.
    public mutating func readKeeping(into dst: UnsafeMutableRawBufferPointer) {
        if take(into: dst) { kept += dst.count }
    }

    /// The kept bytes are queued again, in front of the rest, to be read once more.
    public mutating func rewind() {
        guard kept > 0 else { return }
        head = (head - kept + capacity) % capacity
        count += kept
        kept = 0
    }

    /// The kept bytes are not needed any more.
    public mutating func forgetKept() {
        kept = 0
        if count == 0 { drained() }
    }

    public mutating func removeAll() {
        count = 0
        kept = 0
        drained()
    }

    /// An empty queue keeps a small block for the next bytes; a large one is given back, so that
    /// a stream that once carried a large message holds no memory while it waits (what a client
    /// connection holds is the bytes in transit, README "Hardening", not the queues' high-water marks).
    private static let keptCapacity = 64 * 1024

    private mutating func drained() {
        head = 0
        if capacity > ByteQueue.keptCapacity {
            ByteQueue.release(base, capacity)
            base = nil
            capacity = 0
        }
    }

    private mutating func grow(to needed: Int) {
        // The first block is small enough for glibc's per-thread cache (chunks up to 1032
        // bytes): most gRPC messages are small, and a 1 KiB block missed the cache and cost
        // ~300 instructions in _int_malloc/_int_free per call. Large messages jump straight to
        // the size they need.
        var newCap = max(capacity * 2, 512)
        while newCap < needed { newCap *= 2 }
        let nb = ByteQueue.allocate(newCap)
        let held = kept + count
        if let b = base {
            let start = (head - kept + capacity) % capacity
            let first = min(held, capacity - start)
            nb.copyMemory(from: b + start, byteCount: first)
            if first < held { (nb + first).copyMemory(from: b, byteCount: held - first) }
            ByteQueue.release(b, capacity)
        }
        base = nb
        capacity = newCap
        head = kept
    }
}

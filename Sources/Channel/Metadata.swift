/// Call metadata: an ordered list of header fields (name, value) as bytes, every name, value and
/// offset in one buffer of its own (not nghttp2's). Used for a call's request head (pseudo-headers
/// included, in the order they go out), response headers and trailers.
///
/// Names and values are raw bytes (HTTP/2 fields are octets, RFC 9113 §8.2), never Strings on the
/// per-request path; appending is a memcpy. A `-bin` name carries base64 on the wire
/// (PROTOCOL-HTTP2.md "Binary-Header"): its value is kept as it arrived and forwarded untouched;
/// `isBinary(name:)` tells which.
///
/// A class, not a value: a block is built by one owner, submitted, and dropped or `reset()` for
/// reuse (`MetadataPool`). An HTTP/2 session given the worker's pool does not copy a submitted
/// block: it holds it (`holds`) until the frame is serialized, and the block must not change
/// meanwhile; `MetadataPool.give` leaves a held block to the last holder. Loop-thread only.
public final class Metadata {
    /// One allocation: name and value bytes grow up from the start, field records (name start,
    /// name length, value start, value length as Int32) grow down from the end.
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    @usableFromInline var used = 0
    /// The number of fields.
    @inlinable public var count: Int { fieldCount }
    @usableFromInline var fieldCount = 0

    @usableFromInline static let recordSize = 16

    /// Sessions that hold this block until its frame is serialized (they gave nghttp2 its bytes
    /// without a copy): while non-zero, nothing may change it.
    public var holds = 0
    /// Given back to its pool while held: the last holder gives it back again.
    public var givenBackWhileHeld = false

    public init(reservingBytes: Int = 256, fields: Int = 8) {
        capacity = max(reservingBytes + fields * Metadata.recordSize, 64)
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        base.deallocate()
    }

    /// Bytes of storage held (for pools that drop blocks a burst made large).
    public var storageSize: Int { capacity }

    @inlinable @inline(__always)
    func record(_ f: Int) -> UnsafeMutablePointer<Int32> {
        (base + capacity - (f + 1) * Metadata.recordSize).assumingMemoryBound(to: Int32.self)
    }

    @inlinable public var isEmpty: Bool { fieldCount == 0 }

    /// Keeps the first `count` fields (a head sent again without what was appended for one try).
    public func truncate(to count: Int) {
        precondition(count <= fieldCount)
        assert(holds == 0, "a header block a session holds changed")
        guard count < fieldCount else { return }
        if count == 0 {
            reset()
            return
        }
        let o = record(count - 1)
        used = Int(o[2]) + Int(o[3])
        fieldCount = count
    }

    /// Empties the list, keeping its storage.
    @inlinable
    public func reset() {
        assert(holds == 0, "a header block a session holds changed")
        used = 0
        fieldCount = 0
    }

    /// Appends one field. Runs for every field of every call: wrapping arithmetic (a block is
    /// bounded by the header-list limits, far below Int32.max, and `grow` checks what it
    /// allocates) and one copy per part.
    @inlinable
    public func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        assert(holds == 0, "a header block a session holds changed")
        let nc = name.count, vc = value.count
        let ns = used
        let vs = ns &+ nc
        let need = vs &+ vc
        let fields = fieldCount &+ 1
        if need &+ fields &* Metadata.recordSize > capacity { grow(need &+ fields &* Metadata.recordSize) }
        let b = base
        if nc > 0 { Metadata.copy(b + ns, name.baseAddress.unsafelyUnwrapped, nc) }
        if vc > 0 { Metadata.copy(b + vs, value.baseAddress.unsafelyUnwrapped, vc) }
        used = need
        let o = (b + (capacity &- fields &* Metadata.recordSize)).assumingMemoryBound(to: Int32.self)
        o[0] = Int32(truncatingIfNeeded: ns); o[1] = Int32(truncatingIfNeeded: nc)
        o[2] = Int32(truncatingIfNeeded: vs); o[3] = Int32(truncatingIfNeeded: vc)
        fieldCount = fields
    }

    /// Copies `n` (> 0) bytes: most names and values are short, and two overlapping word moves
    /// cost less than a call into memcpy for them.
    @inlinable @inline(__always)
    static func copy(_ to: UnsafeMutableRawPointer, _ from: UnsafeRawPointer, _ n: Int) {
        if n >= 8 && n <= 16 {
            let a = from.loadUnaligned(as: UInt64.self)
            let z = from.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            to.storeBytes(of: a, as: UInt64.self)
            to.storeBytes(of: z, toByteOffset: n &- 8, as: UInt64.self)
        } else if n > 16 && n <= 32 {
            let a = from.loadUnaligned(as: UInt64.self)
            let b = from.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let y = from.loadUnaligned(fromByteOffset: n &- 16, as: UInt64.self)
            let z = from.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            to.storeBytes(of: a, as: UInt64.self)
            to.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            to.storeBytes(of: y, toByteOffset: n &- 16, as: UInt64.self)
            to.storeBytes(of: z, toByteOffset: n &- 8, as: UInt64.self)
        } else if n >= 4 && n < 8 {
            let a = from.loadUnaligned(as: UInt32.self)
            let z = from.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
            to.storeBytes(of: a, as: UInt32.self)
            to.storeBytes(of: z, toByteOffset: n &- 4, as: UInt32.self)
        } else if n < 4 {
            // 1 to 3 bytes: first, middle and last (overlapping when fewer).
            to.storeBytes(of: from.load(as: UInt8.self), as: UInt8.self)
            to.storeBytes(of: from.load(fromByteOffset: n >> 1, as: UInt8.self), toByteOffset: n >> 1, as: UInt8.self)
            to.storeBytes(of: from.load(fromByteOffset: n &- 1, as: UInt8.self), toByteOffset: n &- 1, as: UInt8.self)
        } else {
            to.copyMemory(from: from, byteCount: n)
        }
    }

    /// Slow paths (names and values built at run time). Disfavoured so that two literals pick
    /// the StaticString form (no String is made).
    @_disfavoredOverload
    public func append(_ name: String, _ value: String) {
        var n = name, v = value
        n.withUTF8 { nb in v.withUTF8 { vb in append(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }

    public func append(_ name: StaticString, _ value: StaticString) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
               value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    @inlinable
    public func append(_ name: StaticString, value: UnsafeRawBufferPointer) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value)
    }

    @_disfavoredOverload
    public func append(_ name: StaticString, _ value: String) {
        var v = value
        v.withUTF8 { append(name, value: UnsafeRawBufferPointer($0)) }
    }

    @usableFromInline
    func grow(_ need: Int) {
        var c = capacity * 2
        while c < need { c *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
        nb.copyMemory(from: base, byteCount: used)
        let records = count * Metadata.recordSize
        (nb + c - records).copyMemory(from: base + capacity - records, byteCount: records)
        base.deallocate()
        base = nb
        capacity = c
    }

    /// Calls `body` with each field's name and value, in order. The pointers are valid only during the call.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        for f in 0 ..< count {
            let o = record(f)
            body(UnsafeRawBufferPointer(start: base + Int(o[0]), count: Int(o[1])),
                 UnsafeRawBufferPointer(start: base + Int(o[2]), count: Int(o[3])))
        }
    }

    /// The value of the first field named `name` (exact bytes), as a String. For tests and slow paths.
    public func value(_ name: String) -> String? {
        var found: String?
        let key = Array(name.utf8)
        forEach { n, v in
            if found == nil, n.elementsEqual(key) { found = String(decoding: v, as: UTF8.self) }
        }
        return found
    }

    /// The name and value of field `index` (0 ..< count). The pointers are valid until the next append or reset.
    @inlinable @inline(__always)
    public func field(_ index: Int) -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let o = record(index)
        return (UnsafeRawBufferPointer(start: base + Int(o[0]), count: Int(o[1])),
                UnsafeRawBufferPointer(start: base + Int(o[2]), count: Int(o[3])))
    }

    /// Whether `name` is binary metadata (ends in `-bin`, any case): its value is base64 on the wire.
    public static func isBinary(name: UnsafeRawBufferPointer) -> Bool { MetadataRules.isBinary(name) }
}

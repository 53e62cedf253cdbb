/// Reads protobuf wire format (protobuf `encoding.md`) in place, for the protobuf → JSON direction:
/// a pointer into one stretch of the input, bounds-checked, with errors that give the offset from
/// the start of the whole input (`base`). The input must outlive the cursor.
struct WireCursor {
    var p: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>
    let base: UnsafePointer<UInt8>

    init(_ segment: UnsafeRawBufferPointer, base: UnsafePointer<UInt8>) {
        p = segment.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? base
        end = p + segment.count
        self.base = base
    }

    @inline(__always) var isAtEnd: Bool { p >= end }

    func offset(_ q: UnsafePointer<UInt8>) -> Int { base.distance(to: q) }

    @inline(__always)
    mutating func varint() throws(CodecFailure) -> UInt64 {
        if p < end && p[0] < 0x80 {
            let v = UInt64(p[0])
            p += 1
            return v
        }
        return try varintSlow()
    }

    /// Up to ten bytes; bits past the 64th are dropped, as protobuf's parsers do.
    private mutating func varintSlow() throws(CodecFailure) -> UInt64 {
        let start = p
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while p < end {
            let b = p[0]
            p += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift >= 70 { throw .wire(offset(start), .wire("varint longer than 10 bytes")) }
        }
        throw .wire(offset(start), .wire("truncated varint"))
    }

    /// The next field's number and wire type (0–5).
    @inline(__always)
    mutating func tag() throws(CodecFailure) -> (number: Int32, wireType: UInt8) {
        let start = p
        let key = try varint()
        let number = key >> 3
        let wireType = UInt8(truncatingIfNeeded: key & 7)
        guard number != 0, number <= 536_870_911, wireType <= 5 else {
            throw .wire(offset(start), .wire("invalid field key \(key)"))
        }
        return (Int32(truncatingIfNeeded: number), wireType)
    }

    @inline(__always)
    mutating func fixed32() throws(CodecFailure) -> UInt32 {
        guard end - p >= 4 else { throw .wire(offset(p), .wire("truncated fixed32")) }
        let v = UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)
        p += 4
        return UInt32(littleEndian: v)
    }

    @inline(__always)
    mutating func fixed64() throws(CodecFailure) -> UInt64 {
        guard end - p >= 8 else { throw .wire(offset(p), .wire("truncated fixed64")) }
        let v = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        p += 8
        return UInt64(littleEndian: v)
    }

    @inline(__always)
    mutating func lengthDelimited() throws(CodecFailure) -> UnsafeRawBufferPointer {
        let start = p
        let n = try varint()
        guard n <= UInt64(end - p) else {
            throw .wire(offset(start), .wire("length \(n) runs past the end of the message"))
        }
        let slice = UnsafeRawBufferPointer(start: p, count: Int(n))
        p += Int(n)
        return slice
    }

    /// Skips the value of a field (groups nested up to the codec's depth limit).
    mutating func skip(_ wireType: UInt8, number: Int32, depth: Int) throws(CodecFailure) {
        switch wireType {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        case 3:
            let start = p
            guard depth < JSONTranscoder.maxDepth else { throw .wire(offset(start), .tooDeep) }
            while !isAtEnd {
                let (n, w) = try tag()
                if w == 4 {
                    guard n == number else { throw .wire(offset(p), .wire("end of group \(n) inside group \(number)")) }
                    return
                }
                try skip(w, number: n, depth: depth + 1)
            }
            throw .wire(offset(start), .wire("unterminated group \(number)"))
        default:
            throw .wire(offset(p), .wire("end of group \(number) without its start"))
        }
    }
}

/// The stretches of input that together make one message: one normally; several when a message
/// field occurs more than once and its occurrences merge (protobuf parses the concatenation).
struct Segments {
    var first: UnsafeRawBufferPointer
    /// The others (nil, not an empty array, for the usual single segment: nothing to count).
    var rest: [UnsafeRawBufferPointer]?

    @inline(__always)
    init(_ first: UnsafeRawBufferPointer) {
        self.first = first
        rest = nil
    }

    init(_ all: [UnsafeRawBufferPointer]) {
        first = all.first ?? UnsafeRawBufferPointer(start: nil, count: 0)
        rest = all.count > 1 ? Array(all.dropFirst()) : nil
    }

    static var empty: Segments { Segments(UnsafeRawBufferPointer(start: nil, count: 0)) }

    @inline(__always) var count: Int { 1 + (rest?.count ?? 0) }

    @inline(__always)
    subscript(i: Int) -> UnsafeRawBufferPointer { i == 0 ? first : rest![i - 1] }
}

/// Where one field occurred in a message (its number, in which segment, tag and value), for
/// walking the occurrences of a repeated or merged field again.
struct FieldScan {
    /// Occurrences with an acceptable wire type (others are unknown fields).
    var count: Int32 = 0
    var firstSegment: Int32 = 0
    var lastSegment: Int32 = 0
    var lastWireType: UInt8 = 0
    /// The tag of the first occurrence.
    var first: UnsafePointer<UInt8>?
    /// The tag and the value of the last occurrence.
    var last: UnsafePointer<UInt8>?
    var lastValue: UnsafePointer<UInt8>?

    /// Whether this field's last occurrence comes after `other`'s.
    func isLater(than other: FieldScan) -> Bool {
        lastSegment != other.lastSegment ? lastSegment > other.lastSegment : last! > other.last!
    }
}

/// The occurrences of one field, walked again from the first (all were checked by the scan).
struct OccurrenceWalk {
    let number: Int32
    let acceptsPacked: Bool
    let wireType: UInt8
    var remaining: Int32
    var segment: Int
    var cursor: WireCursor
    let segments: Segments

    init(_ scan: FieldScan, number: Int32, wireType: UInt8, acceptsPacked: Bool, segments: Segments,
         base: UnsafePointer<UInt8>) {
        self.number = number
        self.wireType = wireType
        self.acceptsPacked = acceptsPacked
        remaining = scan.count
        segment = Int(scan.firstSegment)
        self.segments = segments
        let raw = segments[segment]
        cursor = WireCursor(raw, base: base)
        if let first = scan.first { cursor.p = first }
    }

    /// The next occurrence: its wire type, where its tag is and where its value starts.
    mutating func next() throws(CodecFailure) -> (wireType: UInt8, segment: Int, tag: UnsafePointer<UInt8>,
                                                   value: UnsafePointer<UInt8>)? {
        while remaining > 0 {
            if cursor.isAtEnd {
                segment += 1
                guard segment < segments.count else { return nil }
                cursor = WireCursor(segments[segment], base: cursor.base)
                continue
            }
            let tag = cursor.p
            let (n, w) = try cursor.tag()
            let value = cursor.p
            try cursor.skip(w, number: n, depth: 0)
            if n == number && (w == wireType || (acceptsPacked && w == 2)) {
                remaining -= 1
                return (w, segment, tag, value)
            }
        }
        return nil
    }
}

/// The `FieldScan` notes of the messages being written, innermost last: a stack of plain values
/// in one allocation that grows by doubling, indexed without checks (indexes come from `push`).
/// Its owner frees it (`ProtoToJSON.run`); it is never copied while in use.
struct FieldScanStack {
    private var base: UnsafeMutablePointer<FieldScan>
    private(set) var count = 0
    private var capacity: Int
    private var owned: Bool

    /// Starts in `buffer` (lent by the caller, typically on its stack), moves to the heap if it
    /// outgrows it.
    init(buffer: UnsafeMutableBufferPointer<FieldScan>) {
        if let address = buffer.baseAddress, buffer.count > 0 {
            base = address
            capacity = buffer.count
            owned = false
        } else {
            base = .allocate(capacity: 64)
            capacity = 64
            owned = true
        }
    }

    /// `n` empty notes on top; returns the index of the first.
    @inline(__always)
    mutating func push(_ n: Int) -> Int {
        if count + n > capacity { grow(to: count + n) }
        (base + count).initialize(repeating: FieldScan(), count: n)
        let start = count
        count += n
        return start
    }

    @inline(__always)
    mutating func pop(_ n: Int) { count -= n }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<FieldScan>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        if owned { base.deallocate() }
        base = newBase
        capacity = newCapacity
        owned = true
    }

    subscript(i: Int) -> FieldScan {
        @inline(__always) unsafeAddress { UnsafePointer(base + i) }
        @inline(__always) nonmutating unsafeMutableAddress { base + i }
    }

    func free() {
        if owned { base.deallocate() }
    }
}

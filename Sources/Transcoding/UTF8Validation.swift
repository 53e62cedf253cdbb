/// UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing past U+10FFFF): the JSON
/// codec checks every string it reads, in either direction, and writes code points from escapes.
enum UTF8Validation {
    /// The length (2–4) of the valid multi-byte sequence starting at `p` (whose first byte is
    /// 0x80 or more), or 0 when it is not valid UTF-8. `available` bytes may be read.
    @inline(__always)
    static func sequenceLength(_ p: UnsafePointer<UInt8>, available: Int) -> Int {
        let b0 = p[0]
        if b0 < 0xC2 { return 0 }
        if b0 < 0xE0 {
            guard available >= 2, p[1] & 0xC0 == 0x80 else { return 0 }
            return 2
        }
        if b0 < 0xF0 {
            guard available >= 3, p[1] & 0xC0 == 0x80, p[2] & 0xC0 == 0x80 else { return 0 }
            if b0 == 0xE0 && p[1] < 0xA0 { return 0 }  // overlong
            if b0 == 0xED && p[1] >= 0xA0 { return 0 }  // UTF-16 surrogates
            return 3
        }
        if b0 < 0xF5 {
            guard available >= 4, p[1] & 0xC0 == 0x80, p[2] & 0xC0 == 0x80, p[3] & 0xC0 == 0x80 else { return 0 }
            if b0 == 0xF0 && p[1] < 0x90 { return 0 }  // overlong
            if b0 == 0xF4 && p[1] >= 0x90 { return 0 }  // past U+10FFFF
            return 4
        }
        return 0
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    static func firstInvalid(_ buffer: UnsafeRawBufferPointer) -> Int? {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let n = buffer.count
        var i = 0
        while i < n {
            while n - i >= 8 {
                if UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & SWAR.highs != 0 { break }
                i += 8
            }
            guard i < n else { return nil }
            if base[i] < 0x80 { i += 1; continue }
            let k = sequenceLength(base + i, available: n - i)
            if k == 0 { return i }
            i += k
        }
        return nil
    }

    /// Appends the UTF-8 encoding of a scalar value (not a surrogate; at most U+10FFFF).
    static func append(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

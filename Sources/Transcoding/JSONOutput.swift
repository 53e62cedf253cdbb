/// The JSON text the protobuf → JSON direction writes: a byte array that only grows, with the
/// number and string writers that direction needs. Integers are formatted here; doubles and floats
/// by the standard library's shortest round-trip printer, which writes through `_writeASCII`
/// into this buffer without making a `String`.
struct JSONOutput: TextOutputStream {
    var bytes: [UInt8]

    @inline(__always)
    mutating func append(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always)
    mutating func append(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    @inline(__always)
    mutating func append(_ array: [UInt8]) { bytes.append(contentsOf: array) }

    mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    // MARK: TextOutputStream (for the floating-point printer)

    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }

    // MARK: Numbers

    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { t in
            var i = 24
            var v = value
            while v > 0 {
                i -= 1
                let (q, r) = v.quotientAndRemainder(dividingBy: 10)
                t[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: r)
                v = q
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[i...]))
        }
    }

    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    /// A finite double in its shortest round-trip form (`0.1`, `1e+16`, `-0.0`).
    mutating func appendDouble(_ value: Double) { value.write(to: &self) }

    /// A finite float in its shortest round-trip form as a float (`0.1`, not `0.10000000149011612`).
    mutating func appendFloat(_ value: Float) { value.write(to: &self) }

    /// A double or float value: the number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    mutating func appendFloatingPoint(bits: UInt64, isFloat: Bool) {
        if isFloat {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: bits))
            if f.isFinite { appendFloat(f) } else { appendNonFinite(isNaN: f.isNaN, negative: f < 0) }
        } else {
            let d = Double(bitPattern: bits)
            if d.isFinite { appendDouble(d) } else { appendNonFinite(isNaN: d.isNaN, negative: d < 0) }
        }
    }

    private mutating func appendNonFinite(isNaN: Bool, negative: Bool) {
        append(isNaN ? "\"NaN\"" : negative ? "\"-Infinity\"" : "\"Infinity\"")
    }

    // MARK: Strings

    /// `raw` as a quoted JSON string, escaped as JSON requires. Returns the offset in `raw` of the
    /// first byte that is not valid UTF-8 (nothing useful is written then), or nil.
    mutating func appendString(_ raw: UnsafeRawBufferPointer) -> Int? {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        guard let p = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let n = raw.count
        var i = 0
        var run = 0
        while true {
            while n - i >= 8 {
                if SWAR.hasStringSpecial(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) { break }
                i += 8
            }
            guard i < n else { break }
            let b = p[i]
            if b >= 0x80 {
                let k = UTF8Validation.sequenceLength(p + i, available: n - i)
                if k == 0 { return i }
                i += k
            } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 {
                if run < i { bytes.append(contentsOf: UnsafeRawBufferPointer(start: p + run, count: i - run)) }
                appendEscape(b)
                i += 1
                run = i
            } else {
                i += 1
            }
        }
        if run < n { bytes.append(contentsOf: UnsafeRawBufferPointer(start: p + run, count: n - run)) }
        return nil
    }

    private mutating func appendEscape(_ b: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(b)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            bytes.append(UInt8(ascii: "u"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(hex.utf8Start[Int(b >> 4)])
            bytes.append(hex.utf8Start[Int(b & 15)])
        }
    }

    /// `raw` (known to be ASCII without anything to escape) in quotes.
    mutating func appendQuotedASCII(_ raw: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: raw)
        bytes.append(UInt8(ascii: "\""))
    }
}

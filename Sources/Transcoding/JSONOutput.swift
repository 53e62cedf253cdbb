import Channel

/// The JSON text the protobuf → JSON direction writes, in a buffer of its own: it starts in space
/// the caller lends (a stack allocation, for the usual small message) and moves to the heap when
/// it outgrows it. Appending a byte is a bounds check and a store — no uniqueness check, no
/// reference count — which is why the text is built here and copied once into the caller's array
/// at the end (`ProtoToJSON.run`). Whoever makes one calls `free()` when done.
///
/// Integers are formatted here; doubles and floats by the standard library's shortest round-trip
/// printer, which writes through `_writeASCII` into this buffer without making a `String`.
struct JSONOutput: TextOutputStream {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// Bytes written; lowering it drops the last ones.
    var count = 0
    private var capacity: Int
    private var owned: Bool

    /// Writes into `buffer` until it is full (the buffer must outlive the output).
    init(buffer: UnsafeMutableBufferPointer<UInt8>) {
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

    init(capacity: Int) {
        base = .allocate(capacity: max(capacity, 16))
        self.capacity = max(capacity, 16)
        owned = true
    }

    func free() {
        if owned { base.deallocate() }
    }

    /// What was written, as a new array (for messages and tests).
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: count + n) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        if owned { base.deallocate() }
        base = newBase
        capacity = newCapacity
        owned = true
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress else { return }
        let n = raw.count
        reserve(n)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: n)
        count += n
    }

    mutating func append(_ array: [UInt8]) {
        array.withUnsafeBytes { append($0) }
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    // MARK: TextOutputStream (for the floating-point printer)

    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { append(UnsafeRawBufferPointer(buffer)) }

    // MARK: Numbers

    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var digits = 1
        var v = value
        while v >= 10 {
            v /= 10
            digits += 1
        }
        reserve(digits)
        var i = count + digits
        v = value
        while v > 0 {
            i -= 1
            let (q, r) = v.quotientAndRemainder(dividingBy: 10)
            base[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: r)
            v = q
        }
        count += digits
    }

    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
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

    // MARK: Strings and bytes

    /// `raw` as a quoted JSON string, escaped as JSON requires. Returns the offset in `raw` of the
    /// first byte that is not valid UTF-8 (nothing useful is written then), or nil.
    mutating func appendString(_ raw: UnsafeRawBufferPointer) -> Int? {
        append(UInt8(ascii: "\""))
        defer { append(UInt8(ascii: "\"")) }
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
            } else if JSONString.needsEscape(b) {
                if run < i { append(UnsafeRawBufferPointer(start: p + run, count: i - run)) }
                appendEscape(b)
                i += 1
                run = i
            } else {
                i += 1
            }
        }
        if run < n { append(UnsafeRawBufferPointer(start: p + run, count: n - run)) }
        return nil
    }

    private mutating func appendEscape(_ b: UInt8) {
        JSONString.escape(b) { append($0) }
    }

    /// `raw` in standard base64 with padding, in quotes (protobuf's JSON form of `bytes`).
    mutating func appendBase64String(_ raw: UnsafeRawBufferPointer) {
        let n = raw.count
        reserve((n + 2) / 3 * 4 + 2)
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let table = alphabet.utf8Start
        var o = base + count
        o[0] = UInt8(ascii: "\"")
        o += 1
        var i = 0
        while i + 3 <= n {
            let v = UInt32(raw[i]) << 16 | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2])
            o[0] = table[Int(v >> 18 & 63)]
            o[1] = table[Int(v >> 12 & 63)]
            o[2] = table[Int(v >> 6 & 63)]
            o[3] = table[Int(v & 63)]
            o += 4
            i += 3
        }
        if n - i == 1 {
            let v = UInt32(raw[i]) << 16
            o[0] = table[Int(v >> 18 & 63)]
            o[1] = table[Int(v >> 12 & 63)]
            o[2] = UInt8(ascii: "=")
            o[3] = UInt8(ascii: "=")
            o += 4
        } else if n - i == 2 {
            let v = UInt32(raw[i]) << 16 | UInt32(raw[i + 1]) << 8
            o[0] = table[Int(v >> 18 & 63)]
            o[1] = table[Int(v >> 12 & 63)]
            o[2] = table[Int(v >> 6 & 63)]
            o[3] = UInt8(ascii: "=")
            o += 4
        }
        o[0] = UInt8(ascii: "\"")
        count = base.distance(to: o) + 1
    }
}

extension Array where Element == UInt8 {
    /// Appends raw bytes as one copy (typed, so the array takes its contiguous fast path).
    @inline(__always)
    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }
}

import Channel

/// A cursor over one JSON text (RFC 8259) in a borrowed buffer, for the JSON → protobuf direction.
/// It never copies: strings and numbers come back as tokens (byte ranges plus what was learned
/// while scanning them), and the caller decides where their bytes go. Strings are checked as they
/// are scanned: no raw control characters, valid escapes, no lone surrogates, valid UTF-8.
///
/// The buffer must outlive the scanner. Offsets are from the start of the buffer.
struct JSONScanner {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    var pos: Int = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        count = buffer.count
        // An empty buffer may have no address; any non-nil pointer does, as nothing is read.
        bytes = buffer.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 0x10)!
    }

    // MARK: Structure

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < count {
            let b = bytes[pos]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            pos += 1
        }
    }

    /// The next byte that is not whitespace, not consumed; 0 at the end of the input.
    @inline(__always)
    mutating func peek() -> UInt8 {
        skipWhitespace()
        return pos < count ? bytes[pos] : 0
    }

    /// Consumes `byte` (after any whitespace) or throws `expected <what>`.
    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: StaticString) throws(CodecFailure) {
        guard peek() == byte else { throw unexpected(expecting: what) }
        pos += 1
    }

    /// After a member or element: true for `,`, false for the closing byte, an error otherwise.
    @inline(__always)
    mutating func commaOr(_ close: UInt8) throws(CodecFailure) -> Bool {
        let b = peek()
        if b == UInt8(ascii: ",") { pos += 1; return true }
        if b == close { pos += 1; return false }
        throw unexpected(expecting: close == UInt8(ascii: "}") ? "',' or '}'" : "',' or ']'")
    }

    /// `expected X`, naming what was found instead.
    func unexpected(expecting what: StaticString) -> CodecFailure {
        .json(pos, .syntax("expected \(what), found \(describeHere())"))
    }

    /// `end of input`, `'x'`, or `byte 0xNN`.
    func describeHere() -> String {
        guard pos < count else { return "end of input" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
    }

    /// Consumes `true`, `false` or `null` (whichever starts here); returns its first byte.
    mutating func literal() throws(CodecFailure) -> UInt8 {
        let b = peek()
        let word: StaticString
        switch b {
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        case UInt8(ascii: "n"): word = "null"
        default: throw unexpected(expecting: "a value")
        }
        let n = word.utf8CodeUnitCount
        guard count - pos >= n else { throw .json(pos, .syntax("invalid literal; expected \(word)")) }
        for k in 1..<n where bytes[pos + k] != word.utf8Start[k] {
            throw .json(pos, .syntax("invalid literal; expected \(word)"))
        }
        pos += n
        return b
    }

    /// Skips one value of any kind, checking its syntax. `depth` is the nesting already entered.
    mutating func skipValue(depth: Int) throws(CodecFailure) {
        switch peek() {
        case UInt8(ascii: "{"):
            guard depth < JSONTranscoder.maxDepth else { throw .json(pos, .tooDeep) }
            pos += 1
            if peek() == UInt8(ascii: "}") { pos += 1; return }
            repeat {
                guard peek() == UInt8(ascii: "\"") else { throw unexpected(expecting: "a string key") }
                _ = try scanString()
                try expect(UInt8(ascii: ":"), "':'")
                try skipValue(depth: depth + 1)
            } while try commaOr(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            guard depth < JSONTranscoder.maxDepth else { throw .json(pos, .tooDeep) }
            pos += 1
            if peek() == UInt8(ascii: "]") { pos += 1; return }
            repeat {
                try skipValue(depth: depth + 1)
            } while try commaOr(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber()
        default:
            _ = try literal()
        }
    }

    // MARK: Strings

    /// A scanned string: its raw bytes are `start..<end` (between the quotes).
    struct StringToken {
        var start: Int
        var end: Int
        var hasEscapes: Bool
        /// The length of the text once escapes are decoded.
        var decodedCount: Int
        /// Where the opening quote is.
        var quote: Int { start - 1 }
    }

    /// Scans the string whose opening quote is at `pos` and moves past its closing quote.
    mutating func scanString() throws(CodecFailure) -> StringToken {
        let open = pos
        pos += 1
        let start = pos
        var hasEscapes = false
        var saved = 0  // how much shorter the decoded text is than the raw bytes
        while true {
            // Eight bytes at a time while they are plain ASCII: no quote, backslash or control.
            while count - pos >= 8 {
                let w = UnsafeRawPointer(bytes + pos).loadUnaligned(as: UInt64.self)
                if SWAR.hasStringSpecial(w) { break }
                pos += 8
            }
            guard pos < count else { throw .json(open, .syntax("unterminated string")) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") {
                hasEscapes = true
                saved += try scanEscape()
            } else if b < 0x20 {
                throw .json(pos, .syntax("control character in string (must be escaped)"))
            } else if b >= 0x80 {
                let n = UTF8Validation.sequenceLength(bytes + pos, available: count - pos)
                guard n > 0 else { throw .json(pos, .syntax("invalid UTF-8 in string")) }
                pos += n
            } else {
                pos += 1
            }
        }
        let end = pos
        pos += 1
        return StringToken(start: start, end: end, hasEscapes: hasEscapes, decodedCount: end - start - saved)
    }

    /// At a backslash: checks one escape and moves past it; returns raw length − decoded length.
    private mutating func scanEscape() throws(CodecFailure) -> Int {
        let at = pos
        guard pos + 1 < count else { throw .json(at, .syntax("unterminated string")) }
        switch bytes[pos + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 2
            return 1
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: pos + 2) else { throw .json(at, .syntax("invalid \\u escape")) }
            pos += 6
            switch unit {
            case 0xD800...0xDBFF:
                guard count - pos >= 6, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u"),
                      let low = hex4(at: pos + 2), (0xDC00...0xDFFF).contains(low) else {
                    throw .json(at, .syntax("unpaired surrogate in \\u escape"))
                }
                pos += 6
                return 12 - 4
            case 0xDC00...0xDFFF:
                throw .json(at, .syntax("unpaired surrogate in \\u escape"))
            case 0..<0x80: return 6 - 1
            case 0x80..<0x800: return 6 - 2
            default: return 6 - 3
            }
        default:
            throw .json(at, .syntax("invalid escape in string"))
        }
    }

    private func hex4(at i: Int) -> UInt32? {
        guard count - i >= 4 else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = ASCII.hexValue(bytes[i + k]) else { return nil }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// The raw bytes of a token (for a string without escapes, its text).
    @inline(__always)
    func raw(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + start, count: end - start)
    }

    /// Appends the decoded text of a string (already checked by `scanString`) to `out`.
    func appendDecoded(_ token: StringToken, to out: inout [UInt8]) {
        if !token.hasEscapes {
            out.appendRaw(raw(token.start, token.end))
            return
        }
        var i = token.start
        var runStart = i
        while i < token.end {
            guard bytes[i] == UInt8(ascii: "\\") else { i += 1; continue }
            if runStart < i { out.appendRaw(raw(runStart, i)) }
            let e = bytes[i + 1]
            switch e {
            case UInt8(ascii: "b"): out.append(0x08); i += 2
            case UInt8(ascii: "f"): out.append(0x0C); i += 2
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "u"):
                var scalar = hex4(at: i + 2)!
                i += 6
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = hex4(at: i + 2)!
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                UTF8Validation.append(scalar, to: &out)
            default: out.append(e); i += 2  // " \ /
            }
            runStart = i
        }
        if runStart < token.end { out.appendRaw(raw(runStart, token.end)) }
    }

    /// The decoded text of a string as a Swift string (for messages and rare lookups).
    func string(_ token: StringToken) -> String {
        var decoded: [UInt8] = []
        appendDecoded(token, to: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }

    /// The string starting at `quote` as it should appear in a message (decoded, made printable).
    func printableString(at quote: Int) -> String {
        var copy = self
        copy.pos = quote
        guard let token = try? copy.scanString() else { return "" }
        var decoded: [UInt8] = []
        appendDecoded(token, to: &decoded)
        return decoded.withUnsafeBytes { printable($0) }
    }

    // MARK: Numbers

    /// A scanned JSON number: `mantissa × 10^exponent` with the sign apart — exactly, unless a
    /// non-zero digit had to be dropped (past the 19–20 that fit in 64 bits).
    struct NumberToken {
        var start: Int
        var end: Int
        var negative = false
        var mantissa: UInt64 = 0
        var exponent = 0
        /// Among the digits that did not fit (dropped after the mantissa's last digit), the
        /// 1-based index of the last non-zero one; 0 when all were zeros (or none was dropped).
        var lastNonZeroDropped = 0
        /// Fraction or exponent present (`1.0`, `1e2`): not an integer literal.
        var hasFractionOrExponent = false

        /// `mantissa × 10^exponent` is the number's exact value.
        var isExact: Bool { lastNonZeroDropped == 0 }
    }

    /// Scans a number (RFC 8259 grammar) starting at `pos`.
    mutating func scanNumber() throws(CodecFailure) -> NumberToken {
        var t = NumberToken(start: pos, end: pos)
        let limit: UInt64 = 1_844_674_407_370_955_161  // UInt64.max / 10
        var dropped = 0
        var fractionDigits = 0
        /// One more digit: into the mantissa while it fits, else dropped.
        @inline(__always) func digit(_ d: UInt8, _ t: inout NumberToken) {
            if dropped == 0 && (t.mantissa < limit || (t.mantissa == limit && d <= 5)) {
                t.mantissa = t.mantissa &* 10 &+ UInt64(d)
            } else {
                dropped += 1
                if d != 0 { t.lastNonZeroDropped = dropped }
            }
        }
        if pos < count && bytes[pos] == UInt8(ascii: "-") { t.negative = true; pos += 1 }
        guard pos < count, bytes[pos] &- UInt8(ascii: "0") < 10 else {
            throw .json(t.start, .syntax("invalid number"))
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < count && bytes[pos] &- UInt8(ascii: "0") < 10 {
                throw .json(t.start, .syntax("invalid number (leading zero)"))
            }
        } else {
            while pos < count {
                let d = bytes[pos] &- UInt8(ascii: "0")
                if d >= 10 { break }
                digit(d, &t)
                pos += 1
            }
        }
        if pos < count && bytes[pos] == UInt8(ascii: ".") {
            t.hasFractionOrExponent = true
            pos += 1
            guard pos < count, bytes[pos] &- UInt8(ascii: "0") < 10 else {
                throw .json(t.start, .syntax("invalid number (no digit after '.')"))
            }
            while pos < count {
                let d = bytes[pos] &- UInt8(ascii: "0")
                if d >= 10 { break }
                digit(d, &t)
                fractionDigits += 1
                pos += 1
            }
        }
        var exponent = 0
        if pos < count && (bytes[pos] | 0x20) == UInt8(ascii: "e") {
            t.hasFractionOrExponent = true
            pos += 1
            var negativeExponent = false
            if pos < count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) {
                negativeExponent = bytes[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard pos < count, bytes[pos] &- UInt8(ascii: "0") < 10 else {
                throw .json(t.start, .syntax("invalid number (no digit in exponent)"))
            }
            while pos < count {
                let d = bytes[pos] &- UInt8(ascii: "0")
                if d >= 10 { break }
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(d) }  // saturates: far past any range
                pos += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        // The mantissa's last digit is worth 10^exponent: the dropped digits follow it.
        t.exponent = exponent - fractionDigits + dropped
        t.end = pos
        return t
    }
}

/// Word-at-a-time tests on eight bytes (little-endian loads; only "is there any" answers).
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Some byte is zero.
    @inline(__always)
    static func hasZero(_ w: UInt64) -> Bool { (w &- ones) & ~w & highs != 0 }

    /// Some byte is `"`, `\`, below 0x20 or at/above 0x80: a JSON string must look closer.
    @inline(__always)
    static func hasStringSpecial(_ w: UInt64) -> Bool {
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let control = (w &- ones &* 0x20) & ~w
        let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | control | w
        return special & highs != 0
    }
}

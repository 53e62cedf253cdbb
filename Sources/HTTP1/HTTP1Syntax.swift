/// Byte classes and small scanners of the HTTP grammar (RFC 9110 §5.5, §5.6; RFC 9112 §7.1.1),
/// shared by the request parser and the response writer. Nothing here allocates, except
/// `quoted`, which only runs to build an error message.
enum HTTP1Syntax {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let semicolon = UInt8(ascii: ";")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")

    /// tchar (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, DIGIT, ALPHA.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// A byte allowed inside a field value (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text. Every
    /// other control character, DEL included, is refused rather than passed on.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    /// OWS / BWS (RFC 9110 §5.6.3): SP or HTAB.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// The value of a HEXDIG, case-insensitive, or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// True when `bytes` equals `lowercaseName` ignoring ASCII case; `lowercaseName` is lower case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercaseName: StaticString) -> Bool {
        guard bytes.count == lowercaseName.utf8CodeUnitCount else { return false }
        let name = lowercaseName.utf8Start
        for index in 0..<bytes.count where lowercased(bytes[index]) != name[index] {
            return false
        }
        return true
    }

    /// `bytes[range]` as a buffer of its own (a view, not a copy).
    @inline(__always)
    static func slice(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// `bytes` without leading and trailing OWS.
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return slice(bytes, start..<end)
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), trimmed of
    /// OWS; empty elements are skipped, as the RFC requires of recipients. For lists of tokens
    /// only: a comma inside a quoted string is not recognised.
    static func forEachListElement(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != comma { end += 1 }
            let element = trimmingWhitespace(slice(value, start..<end))
            if !element.isEmpty { body(element) }
            start = end + 1
        }
    }

    /// Advances `index` over OWS.
    @inline(__always)
    static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        while index < bytes.count, isWhitespace(bytes[index]) { index += 1 }
    }

    /// Advances `index` over a token and returns its range; nil (index unchanged) when no token
    /// starts there.
    static func scanToken(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Range<Int>? {
        let start = index
        while index < bytes.count, isTokenByte(bytes[index]) { index += 1 }
        return index > start ? start..<index : nil
    }

    /// Advances `index` over a quoted-string (RFC 9110 §5.6.4); false when none is well formed.
    static func scanQuotedString(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Bool {
        guard index < bytes.count, bytes[index] == quote else { return false }
        var cursor = index + 1
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == quote {
                index = cursor + 1
                return true
            }
            if byte == backslash {
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard cursor + 1 < bytes.count, isFieldValueByte(bytes[cursor + 1]) else { return false }
                cursor += 2
            } else {
                // qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                guard isFieldValueByte(byte) else { return false }
                cursor += 1
            }
        }
        return false
    }

    /// Advances `index` over `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`:
    /// chunk extensions (RFC 9112 §7.1.1) when `valueRequired` is false, transfer-parameters
    /// (RFC 9112 §7) when it is true. Returns whether any parameter was read; stops before the
    /// first byte that does not continue the grammar.
    static func scanParameters(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, valueRequired: Bool) -> (any: Bool, ok: Bool) {
        var any = false
        while true {
            var cursor = index
            skipWhitespace(bytes, &cursor)
            guard cursor < bytes.count, bytes[cursor] == semicolon else { return (any, true) }
            cursor += 1
            skipWhitespace(bytes, &cursor)
            guard scanToken(bytes, &cursor) != nil else { return (any, false) }
            var afterName = cursor
            skipWhitespace(bytes, &afterName)
            if afterName < bytes.count, bytes[afterName] == equals {
                cursor = afterName + 1
                skipWhitespace(bytes, &cursor)
                guard scanToken(bytes, &cursor) != nil || scanQuotedString(bytes, &cursor) else { return (any, false) }
            } else if valueRequired {
                return (any, false)
            }
            index = cursor
            any = true
        }
    }

    /// `bytes` for an error message: in double quotes, printable ASCII as is, `"` and `\` escaped,
    /// every other byte as `\xNN`, cut after 64 bytes with `...`. The result is printable ASCII,
    /// safe to put in a response body or a log line.
    static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
        var text = "\""
        for byte in bytes.prefix(64) {
            switch byte {
            case quote: text += "\\\""
            case backslash: text += "\\\\"
            case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
            default: text += "\\x" + hex2(byte)
            }
        }
        if bytes.count > 64 { text += "..." }
        return text + "\""
    }

    /// `0xNN`, upper case, for naming one byte in an error message.
    static func byteName(_ byte: UInt8) -> String {
        "0x" + hex2(byte)
    }

    private static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}

/// JSON strings (RFC 8259 §7) as every JSON writer of the gateway writes them (transcoded
/// messages, the access log, `/config`, metrics' cached fields, the load report): `"` and `\`
/// behind a backslash, \b \f \n \r \t by name, other control characters as `\u00XX`, every
/// other byte as it is (the text is UTF-8 already: Swift strings, or bytes validated before).
public enum JSONString {
    /// `b` must be escaped inside a JSON string.
    @inline(__always)
    public static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C }

    /// The escape of `b` (one that `needsEscape`), two or six bytes, each through `put`.
    @inline(__always)
    public static func escape(_ b: UInt8, _ put: (UInt8) -> Void) {
        put(UInt8(ascii: "\\"))
        switch b {
        case 0x22, 0x5C: put(b)
        case 0x08: put(UInt8(ascii: "b"))
        case 0x0C: put(UInt8(ascii: "f"))
        case 0x0A: put(UInt8(ascii: "n"))
        case 0x0D: put(UInt8(ascii: "r"))
        case 0x09: put(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            put(UInt8(ascii: "u"))
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "0"))
            put(hex.utf8Start[Int(b >> 4)])
            put(hex.utf8Start[Int(b & 15)])
        }
    }

    /// `text` in quotes, escaped, appended to `out`.
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in text.utf8 {
            if needsEscape(b) { escape(b) { out.append($0) } } else { out.append(b) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `text` in quotes, escaped.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Byte sizes in the routes file: a whole number with an optional unit, `B`, `KiB`, `MiB`,
/// `GiB` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000): `65535`, `256KiB`, `1MiB`.
public enum ByteSizeText: Sendable {
    /// Why a size could not be parsed; `description` is the routes-file message,
    /// e.g. `invalid size "1.5MiB": expected a whole number with an optional unit, like "256KiB"`.
    public typealias ParseError = ValueParseError

    /// Parses a size into bytes.
    public static func parseBytes(_ text: String) -> Result<Int, ParseError> {
        func fail(_ reason: String) -> Result<Int, ParseError> {
            .failure(ParseError(kind: "size", text: text, reason: reason))
        }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else {
            return fail("expected a whole number with an optional unit, like \"256KiB\"")
        }
        let unitText = String(text.dropFirst(digits.count))
        // Units are ASCII: String equality is Unicode-canonical, so without this check the
        // Kelvin sign (U+212A) would be taken for "K" (a fuzzer found "1\u{212A}B").
        guard unitText.utf8.allSatisfy({ $0 < 0x80 }), let unit = bytesPerUnit[unitText] else {
            if unitText.first.map({ $0 == "." || $0.isNumber }) == true {
                return fail("expected a whole number with an optional unit, like \"256KiB\"")
            }
            return fail("unknown unit \"\(unitText)\" (use B, KiB, MiB, GiB, KB, MB or GB)")
        }
        guard let number = Int(digits) else { return fail("too large") }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow else { return fail("too large") }
        return .success(bytes)
    }

    private static let bytesPerUnit: [String: Int] = [
        "": 1,
        "B": 1,
        "KiB": 1 << 10,
        "MiB": 1 << 20,
        "GiB": 1 << 30,
        "KB": 1_000,
        "MB": 1_000_000,
        "GB": 1_000_000_000,
    ]
}

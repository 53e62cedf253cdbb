/// Durations in the routes file: `<decimal><unit>`, units `ns`, `us`, `ms`, `s`, `m`, `h`
/// (`30s`, `250ms`, `1.5s`). A bare number is an error: a unit is always written.
public enum DurationText: Sendable {
    /// Why a duration could not be parsed; `description` is the routes-file message,
    /// e.g. `invalid duration "30": a unit is needed (ns, us, ms, s, m or h), like "30s"`.
    public typealias ParseError = ValueParseError

    /// Parses a duration into nanoseconds, rounding a fraction of a nanosecond up (a configured
    /// time is never cut short, and a positive duration never becomes 0); a value above
    /// `UInt64.max` nanoseconds (about 584 years) is an error.
    public static func parseNanoseconds(_ text: String) -> Result<UInt64, ParseError> {
        func fail(_ reason: String) -> Result<UInt64, ParseError> {
            .failure(ParseError(kind: "duration", text: text, reason: reason))
        }
        let bytes = Array(text.utf8)
        var index = 0
        var whole: UInt64 = 0
        var wholeDigits = 0
        var overflow = false
        while index < bytes.count, let digit = decimalDigit(bytes[index]) {
            let (times10, o1) = whole.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            whole = sum
            wholeDigits += 1
            index += 1
        }
        var fractionDigits: [UInt64] = []
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, let digit = decimalDigit(bytes[index]) {
                fractionDigits.append(digit)
                index += 1
            }
            guard !fractionDigits.isEmpty else { return fail(expectedForm) }
        }
        guard wholeDigits > 0 else { return fail(expectedForm) }
        let number = String(decoding: bytes[0..<index], as: UTF8.self)
        let unitText = String(decoding: bytes[index...], as: UTF8.self)
        guard !unitText.isEmpty else {
            return fail("a unit is needed (ns, us, ms, s, m or h), like \"\(number)s\"")
        }
        // Units are ASCII (String equality is Unicode-canonical, see ByteSizeText).
        guard unitText.utf8.allSatisfy({ $0 < 0x80 }), let unit = nanosecondsPerUnit[unitText] else {
            return fail("unknown unit \"\(unitText)\" (use ns, us, ms, s, m or h)")
        }
        let (wholeNanoseconds, o3) = whole.multipliedReportingOverflow(by: unit)
        // The fraction's nanoseconds, exactly rounded up: multiply the digits by the unit from
        // the last one with a carry (long multiplication); what is left in the carry is the
        // whole part, any non-zero digit shifted out below it a fraction of a nanosecond.
        // The carry stays below `unit` (at most 3.6e12), so nothing overflows.
        var carry: UInt64 = 0
        var belowOneNanosecond = false
        for digit in fractionDigits.reversed() {
            let value = digit * unit + carry
            if value % 10 != 0 { belowOneNanosecond = true }
            carry = value / 10
        }
        let fractionNanoseconds = carry + (belowOneNanosecond ? 1 : 0)
        let (total, o4) = wholeNanoseconds.addingReportingOverflow(fractionNanoseconds)
        guard !(overflow || o3 || o4) else { return fail("too large") }
        return .success(total)
    }

    /// Whole milliseconds, rounding up: a configured time is never cut short.
    public static func milliseconds(roundingUp nanoseconds: UInt64) -> UInt64 {
        nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1)
    }

    private static let expectedForm = "expected a number and a unit, like \"30s\" or \"250ms\""

    private static let nanosecondsPerUnit: [String: UInt64] = [
        "ns": 1,
        "us": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    ]

    private static func decimalDigit(_ byte: UInt8) -> UInt64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? UInt64(byte - UInt8(ascii: "0")) : nil
    }
}

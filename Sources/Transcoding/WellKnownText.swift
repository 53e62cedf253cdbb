/// The text forms of `google.protobuf.Timestamp`, `Duration` and `FieldMask` (proto3 JSON mapping),
/// read from JSON strings and from URL parameters, and written to JSON.
enum WellKnownText {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range a Timestamp may hold.
    static let minTimestampSeconds: Int64 = -62_135_596_800
    static let maxTimestampSeconds: Int64 = 253_402_300_799
    /// ±10 000 years, the range a Duration may hold.
    static let maxDurationSeconds: Int64 = 315_576_000_000

    // MARK: Timestamp

    /// RFC 3339 with an upper-case `T`, 0–9 fraction digits and `Z` or a `±HH:MM` offset
    /// (`1972-01-01T10:00:20.021-05:00`), within 0001-01-01 and 9999-12-31 once in UTC.
    static func parseTimestamp(_ text: UnsafeRawBufferPointer) -> Result<(seconds: Int64, nanos: Int32), Reason> {
        let n = text.count
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= n else { return nil }
            var v = 0
            for i in at..<(at + count) {
                let d = text[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            return v
        }
        func at(_ i: Int, _ c: Character) -> Bool { i < n && text[i] == c.asciiValue! }
        guard let year = digits(0, 4), at(4, "-"), let month = digits(5, 2), at(7, "-"), let day = digits(8, 2),
              at(10, "T"), let hour = digits(11, 2), at(13, ":"), let minute = digits(14, 2), at(16, ":"),
              let second = digits(17, 2) else {
            return .failure(Reason("expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"))
        }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour <= 23,
              minute <= 59, second <= 59 else {
            return .failure(Reason("date or time out of range"))
        }
        var i = 19
        var nanos: Int32 = 0
        if at(i, ".") {
            i += 1
            let start = i
            while i < n && text[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            let count = i - start
            guard count >= 1 else { return .failure(Reason("no digits after '.'")) }
            guard count <= 9 else { return .failure(Reason("more than 9 fraction digits")) }
            var v = Int32(digits(start, count)!)
            for _ in count..<9 { v *= 10 }
            nanos = v
        }
        var offset = 0
        if at(i, "Z") {
            i += 1
        } else if at(i, "+") || at(i, "-") {
            let sign = text[i] == UInt8(ascii: "-") ? -1 : 1
            guard let h = digits(i + 1, 2), at(i + 3, ":"), let m = digits(i + 4, 2), h <= 23, m <= 59 else {
                return .failure(Reason("invalid UTC offset (expected ±HH:MM)"))
            }
            offset = sign * (h * 3600 + m * 60)
            i += 6
        } else {
            return .failure(Reason("expected 'Z' or a ±HH:MM offset"))
        }
        guard i == n else { return .failure(Reason("unexpected text after the time")) }
        let days = daysFromCivil(year, month, day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        guard seconds >= minTimestampSeconds && seconds <= maxTimestampSeconds else {
            return .failure(Reason("out of range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)"))
        }
        return .success((seconds, nanos))
    }

    /// `"1972-01-01T10:00:20.021Z"`, with quotes, 0, 3, 6 or 9 fraction digits (as protobuf writes
    /// it); nil when the value is out of Timestamp's range.
    static func appendTimestamp(seconds: Int64, nanos: Int32, to out: inout JSONOutput) -> Reason? {
        guard seconds >= minTimestampSeconds && seconds <= maxTimestampSeconds else {
            return Reason("seconds \(seconds) out of range (0001-01-01 to 9999-12-31)")
        }
        guard nanos >= 0 && nanos <= 999_999_999 else { return Reason("nanos \(nanos) out of range (0 to 999999999)") }
        let days = Int(seconds.floorDiv(86_400))
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civilFromDays(days)
        out.append(UInt8(ascii: "\""))
        appendPadded(year, 4, &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(month, 2, &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(day, 2, &out)
        out.append(UInt8(ascii: "T"))
        appendPadded(secondOfDay / 3600, 2, &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay / 60 % 60, 2, &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay % 60, 2, &out)
        appendFraction(nanos, &out)
        out.append("Z\"")
        return nil
    }

    // MARK: Duration

    /// `-1.5s`: a sign, seconds, 0–9 fraction digits, `s`; at most ±315576000000 seconds.
    static func parseDuration(_ text: UnsafeRawBufferPointer) -> Result<(seconds: Int64, nanos: Int32), Reason> {
        let n = text.count
        var i = 0
        let negative = n > 0 && text[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        var seconds: Int64 = 0
        let start = i
        while i < n && text[i] &- UInt8(ascii: "0") < 10 {
            if i - start >= 12 { return .failure(Reason("out of range (at most 315576000000 seconds)")) }
            seconds = seconds * 10 + Int64(text[i] - UInt8(ascii: "0"))
            i += 1
        }
        guard i > start else { return .failure(Reason("expected seconds such as \"1.5s\"")) }
        var nanos: Int32 = 0
        if i < n && text[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            var v: Int32 = 0
            while i < n && text[i] &- UInt8(ascii: "0") < 10 {
                guard i - fractionStart < 9 else { return .failure(Reason("more than 9 fraction digits")) }
                v = v * 10 + Int32(text[i] - UInt8(ascii: "0"))
                i += 1
            }
            guard i > fractionStart else { return .failure(Reason("no digits after '.'")) }
            for _ in (i - fractionStart)..<9 { v *= 10 }
            nanos = v
        }
        guard i + 1 == n && text[i] == UInt8(ascii: "s") else { return .failure(Reason("expected a final 's'")) }
        guard seconds <= maxDurationSeconds else { return .failure(Reason("out of range (at most 315576000000 seconds)")) }
        return .success(negative ? (-seconds, -nanos) : (seconds, nanos))
    }

    /// `"-1.500s"` with quotes (0, 3, 6 or 9 fraction digits); a reason when the value is invalid.
    static func appendDuration(seconds: Int64, nanos: Int32, to out: inout JSONOutput) -> Reason? {
        guard seconds >= -maxDurationSeconds && seconds <= maxDurationSeconds else {
            return Reason("seconds \(seconds) out of range (±315576000000)")
        }
        guard nanos > -1_000_000_000 && nanos < 1_000_000_000 else { return Reason("nanos \(nanos) out of range") }
        guard !(seconds > 0 && nanos < 0) && !(seconds < 0 && nanos > 0) else {
            return Reason("seconds and nanos have different signs")
        }
        out.append(UInt8(ascii: "\""))
        if seconds < 0 || nanos < 0 { out.append(UInt8(ascii: "-")) }
        out.appendDecimal(seconds.magnitude)
        appendFraction(Int32(nanos.magnitude), &out)
        out.append("s\"")
        return nil
    }

    // MARK: FieldMask

    /// Appends a FieldMask path from JSON (`fooBar.baz`) in the proto form (`foo_bar.baz`): each
    /// upper-case ASCII letter becomes `_` and its lower case. False when the path has an `_`
    /// (which the JSON form cannot hold).
    static func appendSnakeCasePath(_ path: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        for b in path {
            if b == UInt8(ascii: "_") { return false }
            if b &- UInt8(ascii: "A") < 26 {
                out.append(UInt8(ascii: "_"))
                out.append(b | 0x20)
            } else {
                out.append(b)
            }
        }
        return true
    }

    /// The length `appendSnakeCasePath` gives.
    static func snakeCaseCount(_ path: UnsafeRawBufferPointer) -> Int {
        path.reduce(path.count) { $0 + ($1 &- UInt8(ascii: "A") < 26 ? 1 : 0) }
    }

    /// Appends a FieldMask path (`foo_bar.baz`) in the JSON form (`fooBar.baz`); a reason when it
    /// has no JSON form (an upper-case letter, or `_` not followed by a lower-case letter).
    static func appendCamelCasePath(_ path: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Reason? {
        var afterUnderscore = false
        for b in path {
            if b &- UInt8(ascii: "A") < 26 {
                return Reason("path \"\(printable(path))\" has an upper-case letter")
            }
            if afterUnderscore {
                guard b &- UInt8(ascii: "a") < 26 else {
                    return Reason("path \"\(printable(path))\" has '_' not followed by a lower-case letter")
                }
                out.append(b - 0x20)
                afterUnderscore = false
            } else if b == UInt8(ascii: "_") {
                afterUnderscore = true
            } else {
                out.append(b)
            }
        }
        if afterUnderscore { return Reason("path \"\(printable(path))\" ends with '_'") }
        return nil
    }

    // MARK: Calendar (proleptic Gregorian; Howard Hinnant's days_from_civil / civil_from_days)

    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func appendPadded(_ value: Int, _ width: Int, _ out: inout JSONOutput) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(v / divisor))
            v %= divisor
            divisor /= 10
        }
    }

    /// `.123`, `.123456` or `.123456789` (none for 0), as protobuf prints fractions.
    private static func appendFraction(_ nanos: Int32, _ out: inout JSONOutput) {
        guard nanos != 0 else { return }
        out.append(UInt8(ascii: "."))
        if nanos % 1_000_000 == 0 {
            appendPadded(Int(nanos / 1_000_000), 3, &out)
        } else if nanos % 1000 == 0 {
            appendPadded(Int(nanos / 1000), 6, &out)
        } else {
            appendPadded(Int(nanos), 9, &out)
        }
    }

    /// Why a text is not a valid value of the type.
    struct Reason: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

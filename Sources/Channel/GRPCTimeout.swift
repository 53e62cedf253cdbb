/// The `grpc-timeout` header (gRPC PROTOCOL-HTTP2.md, "Requests"):
/// `TimeoutValue TimeoutUnit`, where the value is at most 8 ASCII digits and the unit one of
/// `H` (hours), `M` (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds),
/// `n` (nanoseconds).
public enum GRPCTimeout: Sendable {
    /// The largest value the header may carry: 8 digits.
    public static let maxValue: UInt64 = 99_999_999

    /// Parses a `grpc-timeout` value into nanoseconds.
    ///
    /// Accepts 1 to 8 ASCII digits (leading zeros allowed, `0` allowed: a deadline that has
    /// already passed) followed by exactly one unit letter; no sign, spaces or other bytes.
    /// Hours and minutes that exceed `UInt64` nanoseconds saturate at `UInt64.max`.
    /// Returns nil when the value is malformed; the caller then ends the call (or ignores the
    /// header, as its policy says).
    public static func parse(_ value: UnsafeRawBufferPointer) -> UInt64? {
        let count = value.count
        guard count >= 2 && count <= 9 else { return nil }
        guard let unit = nanosecondsPerUnit(value[count - 1]) else { return nil }
        var amount: UInt64 = 0
        for index in 0..<(count - 1) {
            let byte = value[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: unit)
        return overflow ? UInt64.max : product
    }

    /// Parses a `grpc-timeout` value given as a String; see `parse(_:)` on bytes.
    public static func parse(_ value: String) -> UInt64? {
        var value = value
        return value.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Encodes `nanoseconds` as a valid `grpc-timeout` value of at most 8 digits.
    ///
    /// Picks the finest unit in which the value fits, rounding up, so that the peer never gets
    /// less time than remains (a value that does not fit exactly in nanoseconds loses at most one
    /// unit of the chosen size, always in the peer's favour). `0` encodes as `"1n"`: the value
    /// must be positive, and one nanosecond expires at once all the same.
    public static func encode(nanoseconds: UInt64) -> String {
        withEncoded(nanoseconds: nanoseconds) { String(decoding: $0, as: UTF8.self) }
    }

    /// The units, finest first.
    @inlinable @inline(__always)
    static func unit(_ i: Int) -> (nanoseconds: UInt64, letter: UInt8) {
        switch i {
        case 0: (1, UInt8(ascii: "n"))
        case 1: (1_000, UInt8(ascii: "u"))
        case 2: (1_000_000, UInt8(ascii: "m"))
        case 3: (1_000_000_000, UInt8(ascii: "S"))
        case 4: (60_000_000_000, UInt8(ascii: "M"))
        default: (3_600_000_000_000, UInt8(ascii: "H"))
        }
    }

    /// A whole number of milliseconds as a `grpc-timeout` value (`"250m"`; coarser units past
    /// 8 digits), written into a stack buffer for `body`. The call's deadline is kept in loop
    /// milliseconds, so this is the per-call form.
    @inlinable
    public static func withEncoded<R>(milliseconds: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard milliseconds > 0, milliseconds <= maxValue else {
            return withEncoded(nanoseconds: milliseconds.multipliedReportingOverflow(by: 1_000_000).overflow
                ? .max : milliseconds * 1_000_000, body)
        }
        return withDigits(milliseconds, unit: UInt8(ascii: "m"), body)
    }

    /// `amount` (at most 8 digits) in decimal followed by `unit`, in a stack buffer.
    @inlinable @inline(__always)
    static func withDigits<R>(_ amount: UInt64, unit: UInt8, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: 9, alignment: 1) { buffer in
            var digits = 0
            var rest = amount
            repeat { digits += 1; rest /= 10 } while rest > 0
            rest = amount
            for i in stride(from: digits - 1, through: 0, by: -1) {
                buffer[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            buffer[digits] = unit
            return body(UnsafeRawBufferPointer(rebasing: buffer[0 ... digits]))
        }
    }

    /// `encode(nanoseconds:)` without a String: the text is written into a buffer on the stack
    /// and handed to `body` (valid during the call). The per-call path appends it as bytes.
    @inlinable
    public static func withEncoded<R>(nanoseconds: UInt64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var amount: UInt64 = 1, letter = UInt8(ascii: "n")
        if nanoseconds > 0 {
            // Finest unit first; UInt64.max nanoseconds is about 5.1 million hours, which fits.
            var found = false
            for i in 0 ..< 6 {
                let (unit, l) = Self.unit(i)
                let a = nanoseconds / unit + (nanoseconds % unit == 0 ? 0 : 1)
                if a <= maxValue {
                    amount = a; letter = l; found = true
                    break
                }
            }
            precondition(found, "unreachable: every UInt64 fits in hours")
        }
        return withDigits(amount, unit: letter, body)
    }

    private static func nanosecondsPerUnit(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "n"): 1
        case UInt8(ascii: "u"): 1_000
        case UInt8(ascii: "m"): 1_000_000
        case UInt8(ascii: "S"): 1_000_000_000
        case UInt8(ascii: "M"): 60_000_000_000
        case UInt8(ascii: "H"): 3_600_000_000_000
        default: nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The value of a scanned JSON number (or of a number written inside a string), as an integer
/// field or a floating-point field needs it. Integers are exact: `1e2` and `100.0` are 100, `1.5`
/// is not an integer. Doubles are correctly rounded (an exact fast path, else `strtod`).
extension JSONScanner.NumberToken {
    enum IntegerValue: Equatable {
        case value(negative: Bool, magnitude: UInt64)
        case notAnInteger
        case outOfRange
    }

    var integerValue: IntegerValue {
        if lastNonZeroDropped > 0 {
            // A non-zero digit past the first 20: in the fraction, or the number is ≥ 10^20.
            return exponent - lastNonZeroDropped < 0 ? .notAnInteger : .outOfRange
        }
        var m = mantissa
        var e = exponent
        if m == 0 { return .value(negative: negative, magnitude: 0) }
        while e < 0 {
            if m % 10 != 0 { return .notAnInteger }
            m /= 10
            e += 1
        }
        while e > 0 {
            let (r, overflow) = m.multipliedReportingOverflow(by: 10)
            if overflow { return .outOfRange }
            m = r
            e -= 1
        }
        return .value(negative: negative, magnitude: m)
    }

    /// The nearest double; ±infinity past the range. `bytes` is the buffer the token is in.
    func doubleValue(in bytes: UnsafePointer<UInt8>) -> Double {
        let sign: Double = negative ? -1 : 1
        if isExact {
            if mantissa == 0 { return sign * 0 }
            if mantissa <= 1 << 53 {
                // Clinger's fast path: both operands exact, so one rounding.
                let m = Double(mantissa)
                if exponent == 0 { return sign * m }
                if exponent > 0 && exponent <= 22 { return sign * m * JSONNumber.powersOfTen[exponent] }
                if exponent < 0 && exponent >= -22 { return sign * (m / JSONNumber.powersOfTen[-exponent]) }
                if exponent > 22 && exponent <= 22 + 15 {
                    let scale = JSONNumber.integerPowersOfTen[exponent - 22]
                    if mantissa <= (1 << 53) / scale {
                        return sign * Double(mantissa * scale) * 1e22
                    }
                }
            }
        }
        return JSONNumber.slowDouble(self, in: bytes)
    }
}

enum JSONNumber {
    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]
    static let integerPowersOfTen: [UInt64] = (0...15).map { e in (0..<e).reduce(1) { r, _ in r * 10 } }

    /// The slow path: the token's digits and exponent as `DIGITSeEXP` (no decimal point, so the
    /// C library's locale cannot matter) through `strtod`, which rounds correctly at any length.
    static func slowDouble(_ token: JSONScanner.NumberToken, in bytes: UnsafePointer<UInt8>) -> Double {
        var digits = 0
        var fractionDigits = 0
        var exponent = 0
        var inFraction = false
        var i = token.start
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < token.end {
            let b = bytes[i]
            if b == UInt8(ascii: ".") { inFraction = true; i += 1; continue }
            if b | 0x20 == UInt8(ascii: "e") { break }
            digits += 1
            if inFraction { fractionDigits += 1 }
            i += 1
        }
        if i < token.end {  // the exponent
            i += 1
            var negativeExponent = false
            if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
                negativeExponent = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            while i < token.end {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(bytes[i] - UInt8(ascii: "0")) }
                i += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        exponent -= fractionDigits
        let capacity = 1 + digits + 12 + 1
        let magnitude = withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer -> Double in
            var n = 0
            var k = digitsStart
            while k < token.end && bytes[k] | 0x20 != UInt8(ascii: "e") {
                if bytes[k] != UInt8(ascii: ".") { buffer[n] = CChar(bitPattern: bytes[k]); n += 1 }
                k += 1
            }
            buffer[n] = CChar(bitPattern: UInt8(ascii: "e"))
            n += 1
            var e = exponent
            if e < 0 { buffer[n] = CChar(bitPattern: UInt8(ascii: "-")); n += 1; e = -e }
            var tmp: (UInt64, UInt64) = (0, 0)
            let written = withUnsafeMutableBytes(of: &tmp) { t -> Int in
                var j = 16
                repeat {
                    j -= 1
                    t[j] = UInt8(ascii: "0") + UInt8(e % 10)
                    e /= 10
                } while e > 0
                for m in j..<16 { buffer[n + m - j] = CChar(bitPattern: t[m]) }
                return 16 - j
            }
            n += written
            buffer[n] = 0
            #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
            return cStrtod(buffer.baseAddress!)
            #else
            return Double(String(cString: buffer.baseAddress!)) ?? .nan
            #endif
        }
        return token.negative ? -magnitude : magnitude
    }
}

#if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
@inline(__always)
private func cStrtod(_ text: UnsafePointer<CChar>) -> Double {
    strtod(text, nil)
}
#endif

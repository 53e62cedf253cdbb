/// Number and unit formatting shared by the reports (no Foundation).
public enum Format {
    /// A fixed-point decimal with `digits` fraction digits.
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0 ..< digits { scale *= 10 }
        let negative = x < 0
        let n = (abs(x) * scale).rounded()
        guard n < 9e18 else { return String(Int(x)) }
        let v = UInt64(n)
        let whole = v / UInt64(scale)
        var text = String(whole)
        if digits > 0 {
            var frac = String(v % UInt64(scale))
            while frac.count < digits { frac = "0" + frac }
            text += "." + frac
        }
        return negative && v != 0 ? "-" + text : text
    }

    /// A number with about 4 significant digits, no exponent: 41234.5, 12.35, 0.1234.
    public static func number(_ x: Double) -> String {
        let a = abs(x)
        if a == a.rounded() && a < 1e15 { return fixed(x, 0) }
        if a >= 100 { return fixed(x, 1) }
        if a >= 1 { return fixed(x, 2) }
        return fixed(x, 4)
    }

    /// A latency given in µs: `612µs`, `1.23ms`, `1.234s`.
    public static func latency(_ micros: UInt64) -> String {
        if micros < 1000 { return "\(micros)µs" }
        if micros < 1_000_000 { return fixed(Double(micros) / 1000, micros < 10_000 ? 2 : 1) + "ms" }
        return fixed(Double(micros) / 1_000_000, 3) + "s"
    }

    /// Bytes in powers of 1000: `12.3 MB`.
    public static func bytes(_ b: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = b, u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        return (u == 0 ? fixed(v, 0) : fixed(v, v < 10 ? 2 : 1)) + " " + units[u]
    }
}

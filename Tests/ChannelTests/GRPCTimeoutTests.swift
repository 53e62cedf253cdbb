import Channel
import Testing

@Suite struct GRPCTimeoutTests {
    @Test(arguments: [
        ("1n", UInt64(1)),
        ("1u", 1_000),
        ("1m", 1_000_000),
        ("1S", 1_000_000_000),
        ("1M", 60_000_000_000),
        ("1H", 3_600_000_000_000),
        ("0n", 0),
        ("0H", 0),
        ("00000007S", 7_000_000_000),
        ("99999999n", 99_999_999),
        ("99999999u", 99_999_999_000),
        ("99999999m", 99_999_999_000_000),
        ("99999999S", 99_999_999_000_000_000),
        ("250m", 250_000_000),
        // 99999999 hours exceed UInt64 nanoseconds: saturate.
        ("99999999M", 5_999_999_940_000_000_000),
        ("99999999H", UInt64.max),
        ("5124095H", 18_446_742_000_000_000_000),
        ("5124096H", UInt64.max),
    ] as [(String, UInt64)])
    func parse(text: String, nanoseconds: UInt64) {
        #expect(GRPCTimeout.parse(text) == nanoseconds)
        #expect(withBytes(text) { GRPCTimeout.parse($0) } == nanoseconds)
    }

    @Test(arguments: [
        "", "n", "S", "1", "12", "123456789S", "1s", "1h", "1x", "-1S", "+1S", " 1S", "1S ", "1 S",
        "1.5S", "1SS", "S1", "0x1S", "١S",
    ])
    func parseRejectsMalformed(text: String) {
        #expect(GRPCTimeout.parse(text) == nil)
        #expect(withBytes(text) { GRPCTimeout.parse($0) } == nil)
    }

    @Test(arguments: [
        (UInt64(0), "1n"),
        (1, "1n"),
        (99_999_999, "99999999n"),
        // From 100 ms on, nanoseconds need 9 digits: microseconds, rounded up.
        (100_000_000, "100000u"),
        (100_000_001, "100001u"),
        (30_000_000_000, "30000000u"),
        (99_999_999_000, "99999999u"),
        (99_999_999_001, "100000m"),
        (99_999_999_000_000, "99999999m"),
        (99_999_999_000_001, "100000S"),
        (99_999_999_000_000_000, "99999999S"),
        (99_999_999_000_000_001, "1666667M"),
        (UInt64.max, "5124096H"),
    ] as [(UInt64, String)])
    func encode(nanoseconds: UInt64, text: String) {
        #expect(GRPCTimeout.encode(nanoseconds: nanoseconds) == text)
    }

    @Test func encodeNeverShortensAndStaysValid() {
        var value: UInt64 = 1
        while true {
            for candidate in [value - 1, value, value + 1, value + value / 2, UInt64.max] where candidate > 0 {
                let text = GRPCTimeout.encode(nanoseconds: candidate)
                #expect(text.utf8.count <= 9, "\(candidate) -> \(text)")
                let parsed = try! #require(GRPCTimeout.parse(text))
                #expect(parsed >= candidate, "\(candidate) -> \(text)")
            }
            let (next, overflow) = value.multipliedReportingOverflow(by: 3)
            if overflow { break }
            value = next
        }
    }

    /// The per-call form: whole milliseconds in `m` while they fit 8 digits, else what the
    /// nanosecond encoder says; never less time than given.
    @Test(arguments: [
        (UInt64(0), "1n"),
        (1, "1m"),
        (250, "250m"),
        (99_999_999, "99999999m"),
        (100_000_000, "100000S"),
        (UInt64.max, "5124096H"),
    ] as [(UInt64, String)])
    func encodeMilliseconds(milliseconds: UInt64, text: String) {
        let encoded = GRPCTimeout.withEncoded(milliseconds: milliseconds) { String(decoding: $0, as: UTF8.self) }
        #expect(encoded == text)
        let parsed = try! #require(GRPCTimeout.parse(encoded))
        #expect(parsed >= min(milliseconds, UInt64.max / 1_000_000) * 1_000_000)
    }
}

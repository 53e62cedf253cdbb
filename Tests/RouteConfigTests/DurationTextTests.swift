import RouteConfig
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("1ns", UInt64(1)),
        ("1us", 1_000),
        ("1ms", 1_000_000),
        ("1s", 1_000_000_000),
        ("1m", 60_000_000_000),
        ("1h", 3_600_000_000_000),
        ("30s", 30_000_000_000),
        ("250ms", 250_000_000),
        ("1.5s", 1_500_000_000),
        ("0.25h", 900_000_000_000),
        ("0s", 0),
        ("1.0000000001s", 1_000_000_001),  // finer than a nanosecond: rounded up, never cut short
        ("0.0000000000000000000001h", 1),  // positive stays positive
        ("5124095h", 18_446_742_000_000_000_000),
    ] as [(String, UInt64)])
    func parses(text: String, nanoseconds: UInt64) {
        #expect(DurationText.parseNanoseconds(text) == .success(nanoseconds))
    }

    @Test(arguments: [
        ("30", "a unit is needed (ns, us, ms, s, m or h), like \"30s\""),
        ("1.5", "a unit is needed (ns, us, ms, s, m or h), like \"1.5s\""),
        ("30sec", "unknown unit \"sec\" (use ns, us, ms, s, m or h)"),
        ("30S", "unknown unit \"S\" (use ns, us, ms, s, m or h)"),
        ("30 s", "unknown unit \" s\" (use ns, us, ms, s, m or h)"),
        ("1d", "unknown unit \"d\" (use ns, us, ms, s, m or h)"),
        ("", "expected a number and a unit, like \"30s\" or \"250ms\""),
        ("s", "expected a number and a unit, like \"30s\" or \"250ms\""),
        ("-1s", "expected a number and a unit, like \"30s\" or \"250ms\""),
        (".5s", "expected a number and a unit, like \"30s\" or \"250ms\""),
        ("1.s", "expected a number and a unit, like \"30s\" or \"250ms\""),
        ("5124096h", "too large"),
        ("99999999999999999999ns", "too large"),
    ])
    func rejects(text: String, reason: String) {
        #expect(DurationText.parseNanoseconds(text) == .failure(.init(kind: "duration", text: text, reason: reason)))
        if case .failure(let error) = DurationText.parseNanoseconds(text) {
            #expect(error.description == "invalid duration \"\(text)\": \(reason)")
        }
    }

    @Test(arguments: [(UInt64(0), UInt64(0)), (1, 1), (999_999, 1), (1_000_000, 1), (1_000_001, 2), (2_500_000_000, 2_500)])
    func millisecondsRoundUp(nanoseconds: UInt64, milliseconds: UInt64) {
        #expect(DurationText.milliseconds(roundingUp: nanoseconds) == milliseconds)
    }
}

import Channel
import Testing

@Suite struct GRPCStatusMessageTests {
    @Test(arguments: [
        ("", ""),
        ("plain text: ok!", "plain text: ok!"),
        ("100%", "100%25"),
        ("\t tab 🦄", "%09 tab %F0%9F%A6%84"),
        ("line\nbreak\r", "line%0Abreak%0D"),
        ("é", "%C3%A9"),
        ("\u{7F}del", "%7Fdel"),
        ("~ and space", "~ and space"),
        ("\u{0}", "%00"),
    ])
    func encode(message: String, encoded: String) {
        #expect(GRPCStatusMessage.encode(message) == encoded)
        #expect(GRPCStatusMessage.decode(encoded) == message)
    }

    @Test(arguments: [
        ("%", "%"),
        ("%4", "%4"),
        ("%zz", "%zz"),
        ("%4x ok", "%4x ok"),
        ("50%off", "50%off"),
        ("%e2%82%ac lower-case hex", "€ lower-case hex"),
        ("%41%", "A%"),
        ("%FF", "\u{FFFD}"),
    ])
    func decodeIsLenient(value: String, decoded: String) {
        #expect(GRPCStatusMessage.decode(value) == decoded)
    }

    @Test func everyByteRoundTrips() {
        var scalars = String.UnicodeScalarView()
        for value in 1..<0x300 { scalars.append(Unicode.Scalar(UInt32(value))!) }
        scalars.append("🦄")
        let message = String(scalars)
        let encoded = GRPCStatusMessage.encode(message)
        #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
        #expect(GRPCStatusMessage.decode(encoded) == message)
    }
}

import Channel
import Testing

@Suite struct JSONStringTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("a\"b\\c", #""a\"b\\c""#),
        ("\u{08}\u{0C}\n\r\t", #""\b\f\n\r\t""#),
        ("\u{00}\u{01}\u{1F}", #""\u0000\u0001\u001f""#),
        ("\u{7F} é 😀", "\"\u{7F} é 😀\""),  // DEL and non-ASCII are valid as they are (RFC 8259 §7)
        ("", #""""#),
    ])
    func quotesAndEscapesAsRFC8259Says(text: String, json: String) {
        #expect(JSONString.quoted(text) == json)
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        JSONString.appendQuoted(text, to: &bytes)
        #expect(bytes == [UInt8(ascii: "[")] + Array(json.utf8))
    }

    @Test func escapesExactlyQuoteBackslashAndControls() {
        for b in 0 ... 255 {
            let byte = UInt8(b)
            #expect(JSONString.needsEscape(byte) == (b < 0x20 || b == 0x22 || b == 0x5C), "byte \(b)")
        }
    }
}

import Channel
import Testing

@Suite struct ASCIITests {
    @Test(arguments: [
        ("grpc-status", "grpc-status", true),
        ("grpc-statu", "grpc-status", false),
        ("grpc-status2", "grpc-status", false),
        ("Grpc-Status", "grpc-status", false),  // exact: case counts
        ("", "", true),
        ("", "a", false),
    ])
    func equals(bytes: String, literal: StaticString, expected: Bool) {
        #expect(Array(bytes.utf8).withUnsafeBytes { $0.equals(literal) } == expected)
    }

    @Test(arguments: [
        ("application/grpc+proto", "application/grpc", true),
        ("application/grpc", "application/grpc", true),
        ("application/grp", "application/grpc", false),
        ("Application/grpc", "application/grpc", false),
        ("anything", "", true),
    ])
    func hasPrefix(bytes: String, literal: StaticString, expected: Bool) {
        #expect(Array(bytes.utf8).withUnsafeBytes { $0.hasPrefix(literal) } == expected)
    }

    @Test func staticStringBytes() {
        let bytes = UnsafeRawBufferPointer(staticString: "http")
        #expect(Array(bytes) == Array("http".utf8))
    }

    @Test(arguments: [
        ("Content-Length", "content-length", true),
        ("CONTENT-LENGTH", "content-length", true),
        ("content-length", "content-length", true),
        ("content-lengt", "content-length", false),
        ("content_length", "content-length", false),
        ("", "", true),
    ])
    func equalsIgnoringCase(bytes: String, lowercaseName: StaticString, expected: Bool) {
        #expect(Array(bytes.utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, lowercaseName) } == expected)
        #expect(Array(bytes.utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, Array("\(lowercaseName)".utf8)) } == expected)
    }

    @Test func hexValueOfEveryByte() {
        for byte in UInt8.min...UInt8.max {
            let expected: UInt8? = switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
            #expect(ASCII.hexValue(byte) == expected, "byte \(byte)")
        }
    }

    @Test(arguments: [
        ("0", 0), ("200", 200), ("007", 7), ("999999999999999999", 999_999_999_999_999_999),
        ("", nil), ("1234567890123456789", nil), ("-1", nil), ("+1", nil), (" 1", nil), ("1 ", nil), ("1a", nil),
    ] as [(String, Int?)])
    func decimalValue(text: String, expected: Int?) {
        #expect(Array(text.utf8).withUnsafeBytes { ASCII.decimalValue($0) } == expected)
    }
}

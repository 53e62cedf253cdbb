/// The `grpc-message` header's percent-encoding (gRPC PROTOCOL-HTTP2.md, "Responses":
/// `Status-Message → Percent-Encoded`).
public enum GRPCStatusMessage: Sendable {
    /// Percent-encodes `message`: its UTF-8 bytes outside 0x20...0x7E, and `%` itself, become
    /// `%XX` with uppercase hex digits; every other byte is kept.
    public static func encode(_ message: String) -> String {
        var needsEncoding = false
        for byte in message.utf8 where !isUnreserved(byte) {
            needsEncoding = true
            break
        }
        guard needsEncoding else { return message }

        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count * 3)
        for byte in message.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a `grpc-message` value.
    ///
    /// Lenient, as the spec asks of receivers: a `%` not followed by two hex digits (either case)
    /// stays as it is, and bytes that do not form valid UTF-8 become U+FFFD.
    public static func decode(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "%")) else { return value }
        let bytes = Array(value.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = ASCII.hexValue(bytes[index + 1]), let low = ASCII.hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%")
    }
}

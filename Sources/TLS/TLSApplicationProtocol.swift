/// An ALPN protocol name (RFC 7301). Trestle's listeners offer `h2` then `http/1.1`; its
/// upstream connections offer and require `h2`.
public struct TLSApplicationProtocol: Hashable, Sendable, CustomStringConvertible {
    /// The name as sent on the wire (1-255 bytes).
    public let name: String

    public init(_ name: String) {
        precondition(!name.utf8.isEmpty && name.utf8.count <= 255, "an ALPN name is 1-255 bytes")
        self.name = name
    }

    /// HTTP/2 over TLS (RFC 9113 §3.2).
    public static let h2 = TLSApplicationProtocol("h2")
    /// HTTP/1.1.
    public static let http11 = TLSApplicationProtocol("http/1.1")

    public var description: String { name }

    /// The ALPN extension's list form: each name preceded by its length.
    static func wire(_ protocols: [TLSApplicationProtocol]) -> [UInt8] {
        var bytes: [UInt8] = []
        for p in protocols {
            bytes.append(UInt8(p.name.utf8.count))
            bytes.append(contentsOf: p.name.utf8)
        }
        return bytes
    }
}

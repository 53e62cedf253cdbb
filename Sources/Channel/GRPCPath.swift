/// The `:path` of a gRPC call: `/` Service-Name `/` Method-Name (gRPC PROTOCOL-HTTP2.md,
/// "Requests"), e.g. `/trestle.demo.v1.Echo/Get`.
public enum GRPCPath: Sendable {
    /// Splits `path` into the byte ranges of the service and the method within it.
    ///
    /// Returns nil unless the path starts with `/`, holds exactly one more `/`, both parts are
    /// non-empty, and it has no `?` and no byte at or below 0x20 (space, controls) nor 0x7F.
    /// The ranges index `path` itself: nothing is copied.
    public static func split(_ path: UnsafeRawBufferPointer) -> (service: Range<Int>, method: Range<Int>)? {
        let count = path.count
        guard count >= 4, path[0] == UInt8(ascii: "/") else { return nil }
        var slash = -1
        for index in 1..<count {
            let byte = path[index]
            if byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "?") { return nil }
            if byte == UInt8(ascii: "/") {
                guard slash < 0 else { return nil }
                slash = index
            }
        }
        guard slash > 1, slash < count - 1 else { return nil }
        return (service: 1..<slash, method: (slash + 1)..<count)
    }

    /// Splits a `:path` given as a String; see `split(_:)` on bytes.
    public static func split(_ path: String) -> (service: String, method: String)? {
        ASCII.withBytes(path) { bytes in
            guard let (service, method) = split(bytes) else { return nil }
            return (
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[service]), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[method]), as: UTF8.self)
            )
        }
    }
}

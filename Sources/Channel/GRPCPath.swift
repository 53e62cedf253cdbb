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
        guard count >= 4, let p = path.baseAddress?.assumingMemoryBound(to: UInt8.self),
              p[0] == UInt8(ascii: "/") else { return nil }
        // One table lookup per byte (this runs for every native call): 0 ordinary, 1 `/`, 2 refused.
        var slash = -1
        var index = 1
        while index < count {
            let kind = byteKind[Int(p[index])]
            if kind != 0 {
                if kind == 2 || slash >= 0 { return nil }
                slash = index
            }
            index += 1
        }
        guard slash > 1, slash < count - 1 else { return nil }
        return (service: 1..<slash, method: (slash + 1)..<count)
    }

    /// Per byte: 0 ordinary, 1 `/`, 2 refused (0x20 and below, 0x7F, `?`). Built once, never
    /// written after: safe to read from every worker.
    nonisolated(unsafe) private static let byteKind: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for b in 0 ..< 256 {
            t[b] = b <= 0x20 || b == 0x7F || b == Int(UInt8(ascii: "?")) ? 2 : (b == Int(UInt8(ascii: "/")) ? 1 : 0)
        }
        return UnsafePointer(t)
    }()

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

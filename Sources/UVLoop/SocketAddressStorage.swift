import CLibUV

/// A resolved IPv4 or IPv6 socket address (sockaddr_storage), copyable.
public struct ResolvedAddress: @unchecked Sendable, CustomStringConvertible {
    public var storage = sockaddr_storage()

    public init() {}

    /// Parses an IP literal (no brackets). Returns nil for host names.
    public init?(ip: String, port: UInt16) {
        var s = sockaddr_storage()
        let ok: Bool = withUnsafeMutablePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                uv_ip4_addr(ip, Int32(port), v4) == 0
            } || p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                uv_ip6_addr(ip, Int32(port), v6) == 0
            }
        }
        guard ok else { return nil }
        storage = s
    }

    init(copying addr: UnsafePointer<sockaddr>) {
        withUnsafeMutableBytes(of: &storage) { dst in
            let len = addr.pointee.sa_family == sa_family_t(AF_INET6)
                ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
            dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: len))
        }
    }

    public var isIPv6: Bool { storage.ss_family == sa_family_t(AF_INET6) }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        withUnsafePointer(to: storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1, body)
        }
    }

    /// The IP address as text, without the port: `127.0.0.1`, `::1`.
    public var host: String {
        var buf = [CChar](repeating: 0, count: 64)
        withUnsafePointer(to: storage) { p in
            if isIPv6 {
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { _ = uv_ip6_name($0, &buf, buf.count) }
            } else {
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { _ = uv_ip4_name($0, &buf, buf.count) }
            }
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var port: UInt16 {
        withUnsafePointer(to: storage) { p in
            isIPv6
                ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Resolves a host name on the loop's thread pool (uv_getaddrinfo); the callback runs on the loop.
public final class Resolver {
    private let callback: (Result<[ResolvedAddress], UVError>) -> Void
    private let req: UnsafeMutablePointer<uv_getaddrinfo_t>

    private init(callback: @escaping (Result<[ResolvedAddress], UVError>) -> Void) {
        self.callback = callback
        req = .allocate(capacity: 1)
    }

    deinit { req.deallocate() }

    /// Starts a lookup of `host` (TCP, any family) with `port` filled in each result.
    public static func resolve(loop: Loop, host: String, port: UInt16,
                               _ callback: @escaping (Result<[ResolvedAddress], UVError>) -> Void) {
        let r = Resolver(callback: callback)
        r.req.pointee.data = Unmanaged.passRetained(r).toOpaque()
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        let rc = uv_getaddrinfo(loop.raw, r.req, { req, status, res in
            guard let req else { return }
            // The resolver may be freed at the end of this closure: this is its last retain.
            let r = Unmanaged<Resolver>.fromOpaque(req.pointee.data!).takeRetainedValue()
            defer { if let res { uv_freeaddrinfo(res) } }
            if status < 0 {
                r.callback(.failure(UVError(status)))
                return
            }
            var out: [ResolvedAddress] = []
            var p = res
            while let ai = p {
                if let a = ai.pointee.ai_addr,
                   a.pointee.sa_family == sa_family_t(AF_INET) || a.pointee.sa_family == sa_family_t(AF_INET6) {
                    out.append(ResolvedAddress(copying: a))
                }
                p = ai.pointee.ai_next
            }
            r.callback(out.isEmpty ? .failure(UVError(Int32(UV_EAI_NONAME.rawValue))) : .success(out))
        }, host, String(port), &hints)
        if rc < 0 {
            Unmanaged<Resolver>.fromOpaque(r.req.pointee.data!).release()
            callback(.failure(UVError(rc)))
        }
    }
}

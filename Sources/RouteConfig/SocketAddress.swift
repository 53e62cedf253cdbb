/// A TCP address as the routes file writes it: `host:port`, or `[v6]:port` for IPv6.
///
/// `host` is an IPv4 or IPv6 literal (IPv6 kept without brackets) or a host name to resolve.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; nil when malformed, the port is 0 or above 65535, or
    /// the host is empty. `parse(_:)` says why.
    public init?(parsing text: String) {
        guard case .success(let address) = SocketAddress.parse(text) else { return nil }
        self = address
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `upstream.internal:50051`.
    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// True when the host is an IPv6 literal (it holds a colon, which no other host may).
    public var isIPv6: Bool {
        host.utf8.contains(UInt8(ascii: ":"))
    }
}

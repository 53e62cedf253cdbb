/// The protocol version of a request (RFC 9112 §2.3). A request that announces `HTTP/1.x` with a
/// minor version above 1 is processed as `http11` (RFC 9110 §2.5); any other major version is
/// refused with 505.
public enum HTTP1Version: Sendable, Equatable, CustomStringConvertible {
    case http10
    case http11

    /// `HTTP/1.0` or `HTTP/1.1`, as on the wire.
    public var description: String {
        switch self {
        case .http10: "HTTP/1.0"
        case .http11: "HTTP/1.1"
        }
    }
}

import COpenSSL

/// A TLS protocol version. Trestle speaks 1.2 and 1.3 only: RFC 9113 §9.2 requires at least
/// 1.2 for HTTP/2, and nothing older is safe.
public enum TLSVersion: Sendable, Comparable {
    case tls12, tls13

    var raw: Int32 {
        switch self {
        case .tls12: TLS1_2_VERSION
        case .tls13: TLS1_3_VERSION
        }
    }
}

/// What a listener does about client certificates.
public enum TLSClientCertificatePolicy: Sendable, Equatable {
    /// None are asked for.
    case none
    /// Asked for; a client that sends none is served, one that sends a certificate the CA file
    /// does not vouch for is refused.
    case optional(caFile: String)
    /// Asked for and required: a client without a certificate from the CA file is refused.
    case required(caFile: String)
}

/// A certificate chain and its private key, as PEM files. The chain file holds the server's (or
/// client's) certificate first, then the intermediates that lead towards the root, in order.
public struct TLSCertificateFiles: Sendable, Hashable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}

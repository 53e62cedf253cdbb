/// The identity in a verified peer certificate: what a listener may forward to upstreams
/// (`x-forwarded-client-cert`), what logs name.
public struct TLSPeerCertificate: Sendable, Equatable {
    /// RFC 2253 form: `CN=client-a,O=Acme`.
    public var subject: String
    public var issuer: String
    public var dnsNames: [String]
    public var ipAddresses: [String]
    public var uris: [String]
    public var emails: [String]
    /// SHA-256 of the DER certificate, lower-case hex.
    public var sha256: String
    /// `2027-01-31 12:00 UTC`.
    public var notAfter: String

    init(_ certificate: X509Certificate) {
        let names = certificate.alternativeNames
        subject = certificate.subject
        issuer = certificate.issuer
        dnsNames = names.dns
        ipAddresses = names.ip
        uris = names.uri
        emails = names.email
        sha256 = certificate.sha256Hex
        notAfter = X509Certificate.dateText(certificate.notAfter)
    }

    /// The value of an `x-forwarded-client-cert` header in Envoy's format:
    /// `Hash=<hex>;Subject="CN=a,O=b";URI=spiffe://x;DNS=a.example`.
    public var xForwardedClientCert: String {
        var parts = ["Hash=\(sha256)", "Subject=\"\(Self.escaped(subject))\""]
        parts += uris.map { "URI=\(Self.quotedIfNeeded($0))" }
        parts += dnsNames.map { "DNS=\(Self.quotedIfNeeded($0))" }
        return parts.joined(separator: ";")
    }

    private static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    private static func quotedIfNeeded(_ s: String) -> String {
        s.contains(where: { ",;=\"".contains($0) }) ? "\"\(escaped(s))\"" : s
    }
}

/// What a completed handshake settled. Reported once, in the `TLSEvents` of the `receive` call in
/// which the handshake finished, and kept in `TLSConnection.handshake`.
public struct TLSHandshake: Sendable, Equatable {
    /// The protocol ALPN selected; nil when the client offered none (a listener then falls back
    /// to sniffing the first bytes, as on a cleartext port).
    public var alpn: TLSApplicationProtocol?
    /// `TLSv1.3` or `TLSv1.2`.
    public var version: String
    /// OpenSSL's name of the cipher suite (`TLS_AES_128_GCM_SHA256`, `ECDHE-ECDSA-AES128-GCM-SHA256`).
    public var cipher: String
    /// Server: the SNI name the client sent (nil: none — clients send none for an IP address).
    /// Client: the name sent.
    public var serverName: String?
    /// True when a session was resumed (no certificate exchange; an abbreviated handshake).
    public var resumed: Bool
    /// The peer's certificate, verified: on a client, the server's; on a listener, the client's
    /// when it sent one (only listeners with a client CA ask).
    public var peerCertificate: TLSPeerCertificate?
}

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

/// What one `receive` call produced, in the order it happened: the handshake's completion, then
/// plaintext, then the peer's close_notify or a failure.
public struct TLSEvents {
    /// Set in the call in which the handshake completed.
    public var handshake: TLSHandshake?
    /// The application bytes decrypted in this call, in order; valid until the next `receive` on
    /// a connection sharing the same `TLSPlaintextBuffer`.
    public var plaintext: UnsafeRawBufferPointer
    /// The peer sent close_notify: nothing more will be decrypted.
    public var closed: Bool
    /// The connection failed: send what `produce()` holds (an alert), then close the socket.
    /// Reported once.
    public var error: TLSError?
    /// `produce()` has bytes to send (handshake messages, tickets, alerts, key updates).
    public var hasOutput: Bool

    init() {
        handshake = nil
        plaintext = UnsafeRawBufferPointer(start: nil, count: 0)
        closed = false
        error = nil
        hasOutput = false
    }
}

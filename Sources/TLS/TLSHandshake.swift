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

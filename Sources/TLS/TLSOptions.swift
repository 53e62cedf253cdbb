/// The knobs of a context beyond its files. The defaults are the decision; tests and benchmarks
/// change them.
///
/// Ciphers (Mozilla's "intermediate" profile, 2024, without the DHE suites): TLS 1.3 offers
/// AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, AES-128 first (as fast as it gets with
/// AES-NI, and as safe). TLS 1.2 offers only ECDHE key exchange with AEAD ciphers — ECDSA or RSA
/// certificates, AES-GCM or ChaCha20 — which is also exactly what RFC 9113 §9.2.2 allows for
/// HTTP/2 (no blocklisted suite can be negotiated). No DHE (slow, needs parameters), no CBC, no
/// RSA key exchange, no SHA-1 MACs. The client chooses among these (no server preference: every
/// suite here is strong, and a phone without AES instructions picks ChaCha20). Groups: X25519,
/// P-256, P-384.
public struct TLSOptions: Sendable {
    public static let defaultCipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    public static let defaultCipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    public static let defaultGroups = "X25519:P-256:P-384"

    public var minimumVersion: TLSVersion = .tls12
    public var maximumVersion: TLSVersion = .tls13
    /// TLS 1.2 cipher list (OpenSSL syntax).
    public var cipherList: String = TLSOptions.defaultCipherList
    /// TLS 1.3 cipher suites (OpenSSL syntax).
    public var cipherSuites: String = TLSOptions.defaultCipherSuites
    public var groups: String = TLSOptions.defaultGroups
    /// Server: TLS 1.3 session tickets sent after each handshake. OpenSSL's default is 2; each
    /// costs the server ~170k instructions, 7% of a full ECDSA P-256 handshake (2.31M without
    /// tickets, `trestle tls-bench` under callgrind), and an HTTP/2 client keeps one connection,
    /// so one ticket is enough for its next connection to resume. 0 turns TLS 1.3 resumption off.
    public var sessionTickets: Int = 1
    /// `SSL_MODE_RELEASE_BUFFERS`: OpenSSL frees its record buffers whenever they are empty, so an
    /// idle connection holds ~16 KB instead of ~50 KB (docs/ARCHITECTURE.md §9), for a malloc and a
    /// free per record: +12% instructions on a 100-byte record round trip (33.5k vs 30.0k), +1% on
    /// 16 KiB. Off by default: the gateway gives an idle connection's buffers back itself
    /// (`TLSConnection.releaseIdleBuffers`, from the worker's idle sweep), which costs nothing per
    /// record and leaves an idle connection as small.
    public var releaseBuffers: Bool = false
    /// `SSL_CTX_set_read_ahead`: the record layer asks the BIO for as much ciphertext as its
    /// buffer holds, not for each record's 5-byte header and then its body — half the BIO reads
    /// (each a copy out of the socket's read buffer) when a read carries several records.
    public var readAhead: Bool = true

    public init() {}
}

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
    /// `SSL_MODE_RELEASE_BUFFERS`: OpenSSL frees its record buffers when they are empty, so an idle
    /// connection holds ~16 KB instead of ~50 KB (C-INTEROP.md), for a malloc and a free per
    /// record: +12% instructions on a 100-byte record round trip (33.5k vs 30.0k), +1% on 16 KiB.
    /// On by default: a gateway holds many idle client connections.
    public var releaseBuffers: Bool = true

    public init() {}
}

/// One `SSL_CTX` with the settings both sides share.
enum SSLContextFactory {
    static func make(server: Bool, options: TLSOptions) -> OpaquePointer? {
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else { return nil }
        var ok = trestle_SSL_CTX_set_min_proto_version(ctx, options.minimumVersion.raw) == 1
        ok = ok && trestle_SSL_CTX_set_max_proto_version(ctx, options.maximumVersion.raw) == 1
        // Renegotiation is TLS 1.2's way to hang or attack a server; HTTP/2 forbids it anyway
        // (RFC 9113 §9.2.1).
        SSL_CTX_set_options(ctx, trestle_SSL_OP_NO_RENEGOTIATION | trestle_SSL_OP_NO_COMPRESSION)
        ok = ok && SSL_CTX_set_cipher_list(ctx, options.cipherList) == 1
        ok = ok && SSL_CTX_set_ciphersuites(ctx, options.cipherSuites) == 1
        ok = ok && trestle_SSL_CTX_set1_groups_list(ctx, options.groups) == 1
        // The record layer's output may move between calls (ours is a growable buffer), and
        // empty buffers are given back when asked.
        var mode = Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        if options.releaseBuffers { mode |= Int(SSL_MODE_RELEASE_BUFFERS) }
        trestle_SSL_CTX_set_mode(ctx, mode)
        guard ok else {
            SSL_CTX_free(ctx)
            return nil
        }
        return ctx
    }
}

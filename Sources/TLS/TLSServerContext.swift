import COpenSSL

/// The TLS configuration of one listener: its certificates (chosen by SNI), ALPN preference,
/// client-certificate policy. Built from files once (blocking I/O: off the loops), immutable
/// after, and shared by every worker's connections (OpenSSL's `SSL_CTX` is safe for concurrent
/// `SSL_new`). A reload builds a new one and swaps it in a `TLSContextHolder`; connections keep
/// the context they started with, which lives as long as the last of them.
public final class TLSServerContext: @unchecked Sendable {
    /// One `SSL_CTX` per certificate, configured alike; `[0]` (the first certificate) serves
    /// clients that send no SNI or a name no certificate has.
    let contexts: [OpaquePointer]
    let certificates: [LoadedCertificate]
    /// SNI name (lower case) -> index into `contexts`; wildcard certificates under their suffix
    /// (`*.example.com` as `example.com`), matching exactly one more label (RFC 6125 §6.4.3).
    let exactNames: [String: Int]
    let wildcardNames: [String: Int]
    /// The ALPN preference in wire form (`\x02h2\x08http/1.1`).
    let alpnPreference: [UInt8]
    public let clientCertificates: TLSClientCertificatePolicy
    public let options: TLSOptions
    /// Things worth a log line at load: an expired certificate, one that expires soon, a chain in
    /// the wrong order. The context is usable regardless (`trestle check` reports them as errors).
    public let warnings: [String]

    /// Reads every chain, key and the client CA file. `certificates` must not be empty.
    /// Throws the first problem, naming the file.
    public init(certificates files: [TLSCertificateFiles],
                clientCertificates: TLSClientCertificatePolicy = .none,
                alpn: [TLSApplicationProtocol] = [.h2, .http11],
                options: TLSOptions = TLSOptions()) throws(TLSFileError) {
        precondition(!files.isEmpty, "a TLS listener needs a certificate")
        var loaded: [LoadedCertificate] = []
        for f in files {
            switch LoadedCertificate.load(f) {
            case .failure(let error): throw error
            case .success(let c): loaded.append(c)
            }
        }
        var clientCAs: [X509Certificate] = []
        switch clientCertificates {
        case .none: break
        case .optional(let caFile), .required(let caFile):
            switch PEMFile.certificates(caFile, what: "client CA file") {
            case .failure(let error): throw error
            case .success(let c): clientCAs = c
            }
        }

        var contexts: [OpaquePointer] = []
        for certificate in loaded {
            guard let ctx = SSLContextFactory.make(server: true, options: options) else {
                contexts.forEach { SSL_CTX_free($0) }
                throw TLSFileError(file: certificate.files.certificate,
                                   "cannot set up TLS: \(OpenSSLErrors.drain().text)")
            }
            contexts.append(ctx)
            if let problem = Self.configure(ctx, certificate: certificate, clientCAs: clientCAs,
                                            policy: clientCertificates, alpn: !alpn.isEmpty, options: options) {
                contexts.forEach { SSL_CTX_free($0) }
                throw problem
            }
        }

        var exact: [String: Int] = [:]
        var wildcard: [String: Int] = [:]
        for (index, certificate) in loaded.enumerated() {
            for name in certificate.leaf.serverNames.map({ $0.lowercased() }) {
                if name.hasPrefix("*.") {
                    if wildcard[String(name.dropFirst(2))] == nil { wildcard[String(name.dropFirst(2))] = index }
                } else if exact[name] == nil {
                    exact[name] = index
                }
            }
        }
        var warnings: [String] = []
        for certificate in loaded {
            warnings += TLSFileCheck.chainProblems(certificate.chain, file: certificate.files.certificate, now: nil).map(\.message)
        }

        self.contexts = contexts
        self.certificates = loaded
        self.exactNames = exact
        self.wildcardNames = wildcard
        self.alpnPreference = TLSApplicationProtocol.wire(alpn)
        self.clientCertificates = clientCertificates
        self.options = options
        self.warnings = warnings
    }

    deinit {
        // Live SSL objects hold their own references; they never outlive this object, since
        // each TLSConnection holds its context.
        contexts.forEach { SSL_CTX_free($0) }
    }

    /// The context for a ClientHello's SNI name: exact name first, then a wildcard, else nil
    /// (the default certificate).
    func contextIndex(serverName: String) -> Int? {
        let name = serverName.lowercased()
        if let index = exactNames[name] { return index }
        if let dot = name.firstIndex(of: "."), let index = wildcardNames[String(name[name.index(after: dot)...])] {
            return index
        }
        return nil
    }

    /// For logs: subject, names and expiry of each certificate, in order.
    public var certificateSummaries: [String] {
        certificates.map { c in
            "\(c.files.certificate): \(c.leaf.subject) [\(c.leaf.serverNames.joined(separator: ", "))] \(c.key.description), "
                + "expires \(X509Certificate.dateText(c.leaf.notAfter))"
        }
    }

    /// The SHA-256 of each certificate (leaf), in order: a reload test asks which one a client saw.
    public var certificateFingerprints: [String] { certificates.map(\.leaf.sha256Hex) }

    private static func configure(_ ctx: OpaquePointer, certificate: LoadedCertificate, clientCAs: [X509Certificate],
                                  policy: TLSClientCertificatePolicy, alpn: Bool, options: TLSOptions) -> TLSFileError? {
        let chain = trestle_sk_X509_new_null()
        defer { trestle_sk_X509_free(chain) }
        for intermediate in certificate.chain.dropFirst() { _ = trestle_sk_X509_push(chain, intermediate.raw) }
        ERR_clear_error()
        guard SSL_CTX_use_cert_and_key(ctx, certificate.leaf.raw, certificate.key.raw, chain, 1) == 1 else {
            return TLSFileError(file: certificate.files.certificate,
                                "certificate \(certificate.files.certificate) cannot be used: \(OpenSSLErrors.drain().text)")
        }
        // Server-side session cache off: TLS 1.3 and 1.2 tickets resume statelessly, without the
        // cache's lock on every handshake or its memory. The session ID context must be set for
        // resumption to work together with client certificates.
        trestle_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        let sid: [UInt8] = Array("trestle".utf8)
        SSL_CTX_set_session_id_context(ctx, sid, UInt32(sid.count))
        SSL_CTX_set_num_tickets(ctx, max(0, options.sessionTickets))
        if options.sessionTickets == 0 { SSL_CTX_set_options(ctx, trestle_SSL_OP_NO_TICKET) }

        switch policy {
        case .none: break
        case .optional, .required:
            let store = SSL_CTX_get_cert_store(ctx)
            for ca in clientCAs {
                X509_STORE_add_cert(store, ca.raw)
                SSL_CTX_add_client_CA(ctx, ca.raw)
            }
            ERR_clear_error()  // a CA listed twice leaves "cert already in hash table"
            var mode = SSL_VERIFY_PEER
            if case .required = policy { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
            SSL_CTX_set_verify(ctx, mode, TLSCallbacks.verify)
        }
        // Set on every context: after the SNI callback switches context, ALPN asks the new one.
        if alpn { SSL_CTX_set_alpn_select_cb(ctx, TLSCallbacks.selectALPN, nil) }
        trestle_SSL_CTX_set_tlsext_servername_callback(ctx, TLSCallbacks.serverName)
        return nil
    }
}

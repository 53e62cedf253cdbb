import COpenSSL

/// The TLS configuration of connections to one upstream cluster: which CAs are trusted, the
/// client certificate for mutual TLS, the ALPN protocols required, and a cache of sessions so
/// that a reconnect resumes instead of doing a full handshake. Built from files once (blocking
/// I/O: off the loops), immutable after except the session cache, and shared by every worker.
public final class TLSClientContext: @unchecked Sendable {
    let ctx: OpaquePointer
    /// Offered in order; the server must select one of them, or the connection fails
    /// (`noSharedALPN`). Empty: no ALPN, nothing required.
    public let alpn: [TLSApplicationProtocol]
    let alpnWire: [UInt8]
    /// False only for `insecureSkipVerify`: the server's certificate is not checked at all.
    public let verifiesServer: Bool
    /// A client certificate is configured (mutual TLS).
    public let hasClientCertificate: Bool
    public let options: TLSOptions
    let sessions: TLSSessionCache

    /// - Parameters:
    ///   - caFile: PEM CA certificates to trust; nil: the system's roots (`/etc/ssl/certs`).
    ///   - certificate: a client certificate and key for mutual TLS.
    ///   - insecureSkipVerify: accept any server certificate (an explicit choice the caller logs).
    public init(caFile: String? = nil, certificate: TLSCertificateFiles? = nil,
                insecureSkipVerify: Bool = false, alpn: [TLSApplicationProtocol] = [.h2],
                options: TLSOptions = TLSOptions(), sessionCacheSize: Int = 1024) throws(TLSFileError) {
        var loaded: LoadedCertificate?
        if let certificate {
            switch LoadedCertificate.load(certificate) {
            case .failure(let error): throw error
            case .success(let c): loaded = c
            }
        }
        var cas: [X509Certificate] = []
        if let caFile {
            switch PEMFile.certificates(caFile, what: "CA file") {
            case .failure(let error): throw error
            case .success(let c): cas = c
            }
        }
        guard let ctx = SSLContextFactory.make(server: false, options: options) else {
            throw TLSFileError(file: caFile ?? "", "cannot set up TLS: \(OpenSSLErrors.drain().text)")
        }
        if let loaded {
            let chain = trestle_sk_X509_new_null()
            defer { trestle_sk_X509_free(chain) }
            for intermediate in loaded.chain.dropFirst() { _ = trestle_sk_X509_push(chain, intermediate.raw) }
            ERR_clear_error()
            guard SSL_CTX_use_cert_and_key(ctx, loaded.leaf.raw, loaded.key.raw, chain, 1) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSFileError(file: loaded.files.certificate,
                                   "certificate \(loaded.files.certificate) cannot be used: \(OpenSSLErrors.drain().text)")
            }
        }
        if caFile == nil {
            ERR_clear_error()
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSFileError(file: "", "cannot load the system's CA certificates: \(OpenSSLErrors.drain().text)")
            }
        } else {
            let store = SSL_CTX_get_cert_store(ctx)
            for ca in cas { X509_STORE_add_cert(store, ca.raw) }
            ERR_clear_error()
        }
        // With insecureSkipVerify the chain is still built (for the handshake report) but its
        // result ignored.
        SSL_CTX_set_verify(ctx, insecureSkipVerify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, TLSCallbacks.verify)
        // Client sessions: OpenSSL hands each new session (a TLS 1.3 ticket arrives after the
        // handshake) to the callback, which files it in `sessions`; the internal store is off.
        trestle_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
        SSL_CTX_sess_set_new_cb(ctx, TLSCallbacks.newSession)

        self.ctx = ctx
        self.alpn = alpn
        self.alpnWire = TLSApplicationProtocol.wire(alpn)
        self.verifiesServer = !insecureSkipVerify
        self.hasClientCertificate = loaded != nil
        self.options = options
        self.sessions = TLSSessionCache(capacity: sessionCacheSize)
    }

    deinit { SSL_CTX_free(ctx) }

    /// Sessions held for resumption (for tests and metrics).
    public var cachedSessionCount: Int { sessions.count }
}

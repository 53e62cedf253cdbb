/// A file named in the routes file, with where it was named (for `trestle check` and reload
/// messages, which point at the value: `routes.yaml:6:20: cannot read ...`).
public struct ConfigFile: Sendable, Equatable {
    /// The path to open: as written when absolute, else relative to the routes file's folder.
    public var path: String
    /// As written in the routes file.
    public var written: String
    public var line: Int
    public var column: Int

    public init(path: String, written: String, line: Int, column: Int) {
        self.path = path
        self.written = written
        self.line = line
        self.column = column
    }
}

/// A certificate chain file and its private key file.
public struct ConfigCertificate: Sendable, Equatable {
    /// Key `certificate`: PEM, the certificate first, then its intermediates in order.
    public var certificate: ConfigFile
    /// Key `key`: the certificate's private key, PEM, unencrypted.
    public var key: ConfigFile

    public init(certificate: ConfigFile, key: ConfigFile) {
        self.certificate = certificate
        self.key = key
    }
}

/// Key `tls` of a listener: the port speaks TLS (ALPN `h2`, `http/1.1`; a client that offers
/// no ALPN is sniffed as on a cleartext port).
public struct ListenerTLSConfig: Sendable, Equatable {
    /// Keys `certificate` + `key`, or `certificates: [{certificate, key}, ...]`: at least one.
    /// Chosen by the client's SNI name; the first serves clients whose name none has (or no name).
    public var certificates: [ConfigCertificate]
    /// Key `client_ca`: ask clients for a certificate issued by one of these CAs (PEM).
    public var clientCA: ConfigFile?
    /// Key `require_client_certificate` (default false): refuse clients without one. Needs `client_ca`.
    public var requireClientCertificate: Bool
    /// Key `forward_client_certificate` (default false): pass the verified client certificate's
    /// hash, subject, URI and DNS names upstream as `x-forwarded-client-cert` (Envoy's format).
    /// Needs `client_ca`.
    public var forwardClientCertificate: Bool

    public init(certificates: [ConfigCertificate], clientCA: ConfigFile? = nil,
                requireClientCertificate: Bool = false, forwardClientCertificate: Bool = false) {
        self.certificates = certificates
        self.clientCA = clientCA
        self.requireClientCertificate = requireClientCertificate
        self.forwardClientCertificate = forwardClientCertificate
    }
}

/// Key `tls` of a cluster: connections to its endpoints speak TLS, ALPN `h2` required, the
/// server's certificate verified unless `insecure_skip_verify` says otherwise.
public struct ClusterTLSConfig: Sendable, Equatable {
    /// Key `ca`: the CAs to trust (PEM); nil: the system's roots.
    public var ca: ConfigFile?
    /// Key `server_name`: sent as SNI and checked against the certificate; nil: each endpoint's
    /// host (an IP address is checked against the certificate's IP addresses, and no SNI is sent).
    public var serverName: String?
    /// Keys `certificate` + `key`: a client certificate for mutual TLS.
    public var certificate: ConfigCertificate?
    /// Key `insecure_skip_verify` (default false): accept any certificate. Logged as a warning.
    public var insecureSkipVerify: Bool

    public init(ca: ConfigFile? = nil, serverName: String? = nil, certificate: ConfigCertificate? = nil,
                insecureSkipVerify: Bool = false) {
        self.ca = ca
        self.serverName = serverName
        self.certificate = certificate
        self.insecureSkipVerify = insecureSkipVerify
    }
}

extension GatewayConfig {
    /// The `tls` of listener `index` (an index into `listeners`), or nil for a cleartext one.
    public func tls(forListener index: Int) -> ListenerTLSConfig? {
        index < listenerTLS.count ? listenerTLS[index] : nil
    }

    /// Every file the config names for TLS, in file order (for `trestle check`, and for a reload
    /// to know what to reread).
    public var tlsFiles: [ConfigFile] {
        var files: [ConfigFile] = []
        for tls in listenerTLS.compactMap({ $0 }) {
            for c in tls.certificates { files += [c.certificate, c.key] }
            if let ca = tls.clientCA { files.append(ca) }
        }
        for tls in clusters.compactMap(\.tls) {
            if let ca = tls.ca { files.append(ca) }
            if let c = tls.certificate { files += [c.certificate, c.key] }
        }
        return files
    }
}

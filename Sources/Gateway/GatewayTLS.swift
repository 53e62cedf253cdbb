import RouteConfig
import TLS

/// The TLS contexts of one running gateway, built from the routes file at startup: one holder
/// per TLS listener and per TLS cluster, shared by every worker (a worker reads `current` once
/// per new connection). `reloadCertificates` rereads every file and swaps in new contexts; a
/// context whose files are bad is kept as it was, and the error names the file.
/// Built and reloaded on the main thread; the holders are thread-safe.
public final class GatewayTLS: Sendable {
    /// Parallel to `config.listeners`: nil for a cleartext listener.
    let listeners: [TLSContextHolder<TLSServerContext>?]
    /// Parallel to the startup config's `clusters`: nil for an h2c cluster. A reload of the
    /// routes file makes its own (`ConfigReloader.clusterTLS`).
    let initialClusters: [TLSContextHolder<TLSClientContext>?]
    /// Parallel to `config.listeners`: `forward_client_certificate`.
    let forwardClientCertificate: [Bool]
    private let config: GatewayConfig

    /// Reads every certificate, key and CA file; throws the first problem (naming the file).
    public init(config: GatewayConfig) throws(TLSFileError) {
        self.config = config
        var listeners: [TLSContextHolder<TLSServerContext>?] = []
        var forward: [Bool] = []
        for i in config.listeners.indices {
            let tls = config.tls(forListener: i)
            forward.append(tls?.forwardClientCertificate ?? false)
            listeners.append(try tls.map { c throws(TLSFileError) in TLSContextHolder(try c.makeContext()) })
        }
        self.listeners = listeners
        self.initialClusters = try Self.clusterContexts(config, reusing: [:], config: config)
        self.forwardClientCertificate = forward
    }

    /// Lines worth logging at startup: each listener's certificates, clusters that skip
    /// verification, the contexts' warnings (expired or soon expiring, chain order).
    public var startupNotes: [String] {
        var out: [String] = []
        for (i, holder) in listeners.enumerated() {
            guard let context = holder?.current else { continue }
            for summary in context.certificateSummaries { out.append("listener \(config.listeners[i]) TLS: \(summary)") }
            for warning in context.warnings { out.append("warning: listener \(config.listeners[i]): \(warning)") }
        }
        for c in config.clusters where c.tls?.insecureSkipVerify == true {
            out.append("warning: cluster \(c.name): insecure_skip_verify: the upstream's certificate is not verified")
        }
        return out
    }

    /// The TLS contexts of `next`'s clusters, parallel to `next.clusters`: a cluster whose `tls`
    /// keys are those of `current` (same name) keeps its holder (the certificate step rereads
    /// its files); any other TLS cluster gets a new context read from its files now. Throws the
    /// first file problem. Main thread (file I/O).
    static func clusterContexts(_ next: GatewayConfig, reusing holders: [String: TLSContextHolder<TLSClientContext>],
                                config current: GatewayConfig) throws(TLSFileError) -> [TLSContextHolder<TLSClientContext>?] {
        var out: [TLSContextHolder<TLSClientContext>?] = []
        for c in next.clusters {
            guard let tls = c.tls else {
                out.append(nil)
                continue
            }
            if let holder = holders[c.name], current.clusters.first(where: { $0.name == c.name })?.tls == tls {
                out.append(holder)
            } else {
                out.append(TLSContextHolder(try tls.makeContext()))
            }
        }
        return out
    }

    /// The reload step "certificates": rereads the files of every TLS listener and of every TLS
    /// cluster in `config` (`holders` parallel to its clusters) and installs new contexts for new
    /// handshakes; connections already open keep theirs. A context whose files are bad stays as
    /// it was. Returns one line per context: what was loaded, or why the old one stays (the
    /// file named). Blocking file I/O: call on the main thread, never on a worker's loop.
    func reloadCertificates(clusters holders: [TLSContextHolder<TLSClientContext>?], config current: GatewayConfig) -> [String] {
        var out: [String] = []
        for (i, holder) in listeners.enumerated() {
            guard let holder, let tls = config.tls(forListener: i) else { continue }
            let name = "listener \(config.listeners[i])"
            if let error = holder.reload({ () throws(TLSFileError) in try tls.makeContext() }) {
                out.append("\(name): certificates not reloaded, keeping the previous ones: \(error.message)")
            } else {
                let summary = holder.current.certificateSummaries.joined(separator: "; ")
                out.append("\(name): certificates reloaded (generation \(holder.generation)): \(summary)")
            }
        }
        for (i, holder) in holders.enumerated() {
            guard let holder, i < current.clusters.count, let tls = current.clusters[i].tls else { continue }
            let name = "cluster \(current.clusters[i].name)"
            if let error = holder.reload({ () throws(TLSFileError) in try tls.makeContext() }) {
                out.append("\(name): TLS files not reloaded, keeping the previous ones: \(error.message)")
            } else {
                out.append("\(name): TLS files reloaded (generation \(holder.generation))")
            }
        }
        return out
    }
}

extension ListenerTLSConfig {
    /// The routes file's listener `tls` as a context (reads the files).
    public func makeContext() throws(TLSFileError) -> TLSServerContext {
        let policy: TLSClientCertificatePolicy = clientCA.map {
            requireClientCertificate ? .required(caFile: $0.path) : .optional(caFile: $0.path)
        } ?? .none
        return try TLSServerContext(
            certificates: certificates.map { TLSCertificateFiles(certificate: $0.certificate.path, key: $0.key.path) },
            clientCertificates: policy)
    }
}

extension ClusterTLSConfig {
    /// The routes file's cluster `tls` as a context (reads the files). ALPN `h2` is required.
    public func makeContext() throws(TLSFileError) -> TLSClientContext {
        try TLSClientContext(
            caFile: ca?.path,
            certificate: certificate.map { TLSCertificateFiles(certificate: $0.certificate.path, key: $0.key.path) },
            insecureSkipVerify: insecureSkipVerify)
    }
}

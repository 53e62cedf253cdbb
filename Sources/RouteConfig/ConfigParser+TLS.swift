import Yams

/// `tls` under a listener and under a cluster. Only the keys and their shapes are checked here;
/// the files are read by the TLS module (`trestle check`, and the gateway when it starts or
/// reloads), which reports what is wrong in them at the location recorded in `ConfigFile`.
extension ConfigParser {
    static let listenerTLSKeys = [
        "certificate", "key", "certificates", "client_ca", "require_client_certificate", "forward_client_certificate",
    ]
    static let certificateKeys = ["certificate", "key"]
    static let clusterTLSKeys = ["ca", "server_name", "certificate", "key", "insecure_skip_verify"]

    /// `tls: {certificate: F, key: F}` or `tls: {certificates: [{certificate: F, key: F}, ...]}`,
    /// with optional `client_ca`, `require_client_certificate`, `forward_client_certificate`.
    mutating func parseListenerTLS(_ node: Node, listener what: String) -> ListenerTLSConfig? {
        let section = "in \"tls\" of \(what)"
        guard let tlsMapping = mapping(node, for: "\"tls\" of \(what)") else { return nil }
        let fields = fields(of: tlsMapping, section: section, allowed: Self.listenerTLSKeys)
        let errorsBefore = diagnostics.count

        var certificates: [ConfigCertificate] = []
        if let list = fields["certificates"] {
            if let keyNode = fields.keyNode("certificate") ?? fields.keyNode("key") {
                report(keyNode, "use either \"certificate\" and \"key\" or \"certificates\" \(section), not both")
            }
            if let items = sequence(list, for: "\"certificates\" \(section)") {
                if items.isEmpty {
                    report(list, "no certificates \(section): add at least one {certificate: FILE, key: FILE}")
                }
                for (index, item) in items.enumerated() {
                    let entry = "certificate \(index + 1) of \(what)"
                    guard let pair = mapping(item, for: entry) else { continue }
                    let pairFields = self.fields(of: pair, section: "in \(entry)", allowed: Self.certificateKeys)
                    if let c = certificatePair(pairFields, required: true) { certificates.append(c) }
                }
            }
        } else if let c = certificatePair(fields, required: true) {
            certificates.append(c)
        }

        let clientCA = fields["client_ca"].flatMap { configFile($0, key: "client_ca") }
        let require = fields["require_client_certificate"].flatMap { boolean($0, key: "require_client_certificate") } ?? false
        let forward = fields["forward_client_certificate"].flatMap { boolean($0, key: "forward_client_certificate") } ?? false
        if fields["client_ca"] == nil {
            for (key, on) in [("require_client_certificate", require), ("forward_client_certificate", forward)] where on {
                report(fields[key]!, "\(key) needs \"client_ca\" (the CAs that issue client certificates) \(section)")
            }
        }
        guard diagnostics.count == errorsBefore, !certificates.isEmpty else { return nil }
        return ListenerTLSConfig(certificates: certificates, clientCA: clientCA,
                                 requireClientCertificate: require, forwardClientCertificate: forward)
    }

    /// `tls: {ca: F, server_name: NAME, certificate: F, key: F, insecure_skip_verify: BOOL}`,
    /// every key optional (`tls: {}`: the system's roots, the endpoint's host name).
    mutating func parseClusterTLS(_ node: Node, cluster name: String) -> ClusterTLSConfig? {
        let section = "in \"tls\" of cluster \"\(name)\""
        guard let mapping = mapping(node, for: "\"tls\" of cluster \"\(name)\"") else { return nil }
        let fields = fields(of: mapping, section: section, allowed: Self.clusterTLSKeys)
        let errorsBefore = diagnostics.count

        var tls = ClusterTLSConfig()
        tls.ca = fields["ca"].flatMap { configFile($0, key: "ca") }
        if let node = fields["server_name"], let text = scalar(node, expected: "a host name", for: "\"server_name\"") {
            if Self.isValidServerName(text) {
                tls.serverName = text
            } else {
                report(node, "invalid server_name \"\(text)\": expected a host name or IP address, without a port")
            }
        }
        if fields["certificate"] != nil || fields["key"] != nil {
            tls.certificate = certificatePair(fields, required: true)
        }
        if let node = fields["insecure_skip_verify"], let skip = boolean(node, key: "insecure_skip_verify") {
            tls.insecureSkipVerify = skip
            if skip {
                warn(node, "cluster \"\(name)\": insecure_skip_verify: the upstream's certificate is not verified "
                    + "(anyone on the path can impersonate it)")
            }
        }
        guard diagnostics.count == errorsBefore else { return nil }
        return tls
    }

    /// `certificate` and `key` from `fields`; both must be there.
    private mutating func certificatePair(_ fields: MappingFields, required: Bool) -> ConfigCertificate? {
        let certificateNode = required ? self.required("certificate", in: fields) : fields["certificate"]
        let keyNode = required ? self.required("key", in: fields) : fields["key"]
        // Both read before giving up, so that both are reported.
        let certificate = certificateNode.flatMap { configFile($0, key: "certificate") }
        let key = keyNode.flatMap { configFile($0, key: "key") }
        guard let certificate, let key else { return nil }
        return ConfigCertificate(certificate: certificate, key: key)
    }

    /// A file path, resolved against the routes file's folder.
    private mutating func configFile(_ node: Node, key: String) -> ConfigFile? {
        guard let text = node.scalarText, !text.isEmpty else {
            report(node, "expected a file path for \"\(key)\", found \(node.foundDescription)")
            return nil
        }
        return ConfigFile(path: Self.resolve(text, relativeTo: file), written: text,
                          line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    /// A DNS name (letters, digits, `-`, `.`; a leading `*.` is not a name to connect to) or an
    /// IP address literal (IPv6 without brackets).
    static func isValidServerName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        if text.contains(":") {  // IPv6
            return text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == 58 || $0 == 46 }
        }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 45 || $0 == 95 }
        }
    }
}

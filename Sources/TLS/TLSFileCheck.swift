/// The checks `trestle check` runs on the files a routes file names: readable, PEM, the key
/// matches the certificate, every certificate of the chain within its validity (a warning when
/// fewer than `expiryWarningDays` remain), and the chain in order (each certificate issued by
/// the next). Blocking file I/O.
public enum TLSFileCheck {
    public static let expiryWarningDays = 30

    /// A certificate chain and its key. `now`: seconds since the epoch (nil: the clock).
    public static func certificate(_ files: TLSCertificateFiles, now: Int64? = nil) -> [TLSFileProblem] {
        switch LoadedCertificate.load(files) {
        case .failure(let error):
            return [TLSFileProblem(.error, file: error.file, error.message)]
        case .success(let loaded):
            return chainProblems(loaded.chain, file: files.certificate, now: now)
        }
    }

    /// A CA bundle (for client certificates or upstream verification): at least one certificate,
    /// each a CA, none expired (warnings: a bundle may carry an old root that does no harm).
    public static func caFile(_ path: String, now: Int64? = nil) -> [TLSFileProblem] {
        let certificates: [X509Certificate]
        switch PEMFile.certificates(path, what: "CA file") {
        case .failure(let error): return [TLSFileProblem(.error, file: path, error.message)]
        case .success(let c): certificates = c
        }
        var problems: [TLSFileProblem] = []
        for (index, certificate) in certificates.enumerated() {
            let which = certificates.count == 1 ? "CA file \(path)" : "certificate \(index + 1) in CA file \(path)"
            if !certificate.isCA {
                problems.append(TLSFileProblem(.warning, file: path, "\(which) (\"\(certificate.subject)\") is not a CA certificate"))
            }
            problems += validity(certificate, which: which, file: path, now: now).map {
                TLSFileProblem(.warning, file: $0.file, $0.message)
            }
        }
        return problems
    }

    /// Validity of each certificate and the order of the chain (leaf first).
    static func chainProblems(_ chain: [X509Certificate], file: String, now: Int64?) -> [TLSFileProblem] {
        var problems: [TLSFileProblem] = []
        for (index, certificate) in chain.enumerated() {
            let which = index == 0 ? "certificate \(file)" : "certificate \(index + 1) in \(file)"
            problems += validity(certificate, which: which, file: file, now: now)
        }
        for index in chain.indices.dropFirst() where !chain[index - 1].isIssued(by: chain[index]) {
            problems.append(TLSFileProblem(.error, file: file,
                "chain out of order in \(file): certificate \(index + 1) (\"\(chain[index].subject)\") did not issue "
                    + "certificate \(index) (\"\(chain[index - 1].subject)\"); list the certificate first, then each issuer in turn"))
        }
        return problems
    }

    private static func validity(_ certificate: X509Certificate, which: String, file: String, now: Int64?) -> [TLSFileProblem] {
        let subject = "(\"\(certificate.subject)\")"
        if let start = X509Certificate.days(from: now, to: certificate.notBefore), start.days > 0 || (start.days == 0 && start.seconds > 0) {
            return [TLSFileProblem(.error, file: file,
                "\(which) \(subject) is not valid before \(X509Certificate.dateText(certificate.notBefore))")]
        }
        guard let left = X509Certificate.days(from: now, to: certificate.notAfter) else { return [] }
        let date = X509Certificate.dateText(certificate.notAfter)
        if left.days < 0 || (left.days == 0 && left.seconds <= 0) {
            let ago = -left.days
            return [TLSFileProblem(.error, file: file,
                "\(which) \(subject) expired on \(date)" + (ago > 0 ? " (\(ago) day\(ago == 1 ? "" : "s") ago)" : ""))]
        }
        if left.days < expiryWarningDays {
            let when = left.days == 0 ? "today" : "in \(left.days) day\(left.days == 1 ? "" : "s")"
            return [TLSFileProblem(.warning, file: file, "\(which) \(subject) expires \(when) (\(date))")]
        }
        return []
    }
}

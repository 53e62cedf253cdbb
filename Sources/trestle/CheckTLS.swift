// `trestle check`, TLS part: reads every certificate, key and CA file the routes file names,
// checks them with the TLS module (readable, PEM, key matches certificate, validity, chain
// order) and builds each context as `serve` would, printing FILE:LINE:COLUMN at the key in the
// routes file that names the file.
import UVLoop
import Gateway
import RouteConfig
import TLS

enum CheckTLS {
    /// Prints the config's warnings and every TLS problem; returns false when any is an error.
    static func report(_ config: GatewayConfig) -> Bool {
        var ok = true
        for warning in config.warnings { printStderr(line(warning.file, warning.line, warning.column, "warning: " + warning.message)) }
        for (location, problem) in findings(config) {
            if problem.severity == .error { ok = false }
            printStderr(line(config.file, location.line, location.column, problem.description))
        }
        return ok
    }

    /// Each problem with the routes-file entry that names its file.
    static func findings(_ config: GatewayConfig, now: Int64? = nil) -> [(ConfigFile, TLSFileProblem)] {
        var out: [(ConfigFile, TLSFileProblem)] = []
        func locate(_ file: String, among files: [ConfigFile]) -> ConfigFile {
            files.first { $0.path == file } ?? files[0]
        }
        func add(_ problems: [TLSFileProblem], _ files: [ConfigFile]) {
            out += problems.map { (locate($0.file, among: files), $0) }
        }

        for tls in config.listenerTLS.compactMap({ $0 }) {
            let files = tls.certificates.flatMap { [$0.certificate, $0.key] } + (tls.clientCA.map { [$0] } ?? [])
            let before = out.count
            for pair in tls.certificates {
                add(TLSFileCheck.certificate(TLSCertificateFiles(certificate: pair.certificate.path, key: pair.key.path), now: now), files)
            }
            if let ca = tls.clientCA { add(TLSFileCheck.caFile(ca.path, now: now), files) }
            guard !out[before...].contains(where: { $0.1.severity == .error }) else { continue }
            // What the checks do not cover (a key type OpenSSL refuses, ...): build it as serve does.
            do {
                _ = try tls.makeContext()
            } catch {
                add([TLSFileProblem(.error, file: error.file, error.message)], files)
            }
        }

        for cluster in config.clusters {
            guard let tls = cluster.tls else { continue }
            let files = (tls.ca.map { [$0] } ?? []) + (tls.certificate.map { [$0.certificate, $0.key] } ?? [])
            let before = out.count
            if let ca = tls.ca { add(TLSFileCheck.caFile(ca.path, now: now), files) }
            if let pair = tls.certificate {
                add(TLSFileCheck.certificate(TLSCertificateFiles(certificate: pair.certificate.path, key: pair.key.path), now: now), files)
            }
            guard !files.isEmpty, !out[before...].contains(where: { $0.1.severity == .error }) else { continue }
            do {
                _ = try tls.makeContext()
            } catch {
                add([TLSFileProblem(.error, file: error.file, error.message)], files)
            }
        }
        return out
    }

    private static func line(_ file: String, _ line: Int, _ column: Int, _ message: String) -> String {
        ConfigDiagnostic(file: file, line: line, column: column, message: message).description
    }
}

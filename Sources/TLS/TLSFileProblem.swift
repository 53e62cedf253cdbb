/// One thing wrong with a certificate, key or CA file, for `trestle check`.
public struct TLSFileProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: Sendable, Equatable { case error, warning }

    public var severity: Severity
    /// The file at fault: the key file for a key that does not match, else the certificate file.
    public var file: String
    public var message: String

    public init(_ severity: Severity, file: String, _ message: String) {
        self.severity = severity
        self.file = file
        self.message = message
    }

    public var description: String { (severity == .warning ? "warning: " : "") + message }
}

/// Every error found in a routes file, in file order. Startup stops on it; `trestle check`
/// prints `description` and exits non-zero.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One `FILE:LINE:COLUMN: message` per line, no trailing newline.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

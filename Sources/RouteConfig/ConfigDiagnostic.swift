/// One error in a routes file, at a 1-based line and column (columns count Unicode scalars, as
/// libyaml does).
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// Lower-case start, no trailing period: `cluster "billing" is not defined`.
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COLUMN: message`.
    public var description: String {
        "\(file):\(line):\(column): \(message)"
    }
}

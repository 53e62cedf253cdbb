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

    /// `FILE:LINE:COLUMN: message`, always one line: control characters and Unicode line
    /// separators quoted from the file (a key, a name, a scalar) are escaped.
    public var description: String {
        "\(file):\(line):\(column): " + ConfigDiagnostic.oneLine(message)
    }

    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { s -> String in
            switch s.value {
            case 0 ..< 0x20, 0x7F, 0x85, 0x2028, 0x2029: return s.escaped(asASCII: true)
            default: return String(s)
            }
        }.joined())
    }
}

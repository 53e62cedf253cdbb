/// A response the writer refused to produce because it would not be valid HTTP/1.1, most
/// importantly a field that would inject a line break (response splitting). Nothing was written.
public struct HTTP1WriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, e.g. `control character 0x0D in value of field "X-Note"`.
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

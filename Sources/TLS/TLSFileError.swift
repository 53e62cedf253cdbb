/// A certificate, key or CA file that cannot be used: what is wrong, with the file named.
/// Loading a context stops at the first such problem; a reload that fails keeps the old context.
public struct TLSFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file at fault (as given by the caller).
    public var file: String
    /// Names the file too: `key server.key does not match certificate server.crt`.
    public var message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { message }
}

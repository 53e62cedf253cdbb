/// Why a message could not be translated between wire formats. The message names what was wrong
/// and where (`invalid JSON at byte 41: expected a string for field "user.id"`); a JSON frontend
/// answers it as `INVALID_ARGUMENT` (HTTP 400) when it concerns the request, `INTERNAL` when the
/// upstream's reply cannot be translated.
public struct TranscodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The byte offset in the input where the problem was found, when there is one.
    public let offset: Int?
    /// The field path (`book.author.name`, `tags[2]`), when the problem concerns a field.
    public let fieldPath: String?

    public init(message: String, offset: Int? = nil, fieldPath: String? = nil) {
        self.message = message
        self.offset = offset
        self.fieldPath = fieldPath
    }

    public var description: String { message }
}

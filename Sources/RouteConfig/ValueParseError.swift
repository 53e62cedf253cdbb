/// Why a value in the routes file (a size, a duration, an address) could not be parsed;
/// `description` is the message, e.g. `invalid duration "30": a unit is needed …`.
public struct ValueParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was expected: "size", "duration", "address".
    public var kind: String
    public var text: String
    public var reason: String

    public init(kind: String, text: String, reason: String) {
        self.kind = kind
        self.text = text
        self.reason = reason
    }

    public var description: String {
        "invalid \(kind) \"\(text)\": \(reason)"
    }
}

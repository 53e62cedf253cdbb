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

    /// One line: control characters from the offending text are escaped.
    public var description: String {
        String("invalid \(kind) \"\(text)\": \(reason)".unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? $0.escaped(asASCII: true) : String($0)
        }.joined())
    }
}

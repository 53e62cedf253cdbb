/// Which gRPC services a route takes, in the routes file's form:
/// a full service name (`trestle.demo.v1.Echo`), a package prefix (`acme.billing.*`) or `*`.
///
/// A name is one or more dot-separated segments of ASCII letters, digits and `_` (protobuf
/// identifiers). A prefix matches whole package segments only: `acme.billing.*` matches
/// `acme.billing.Ledger` and `acme.billing.v2.Ledger`, not `acme.billingx.Ledger` and not a
/// service named `acme.billing` itself.
public enum ServicePattern: Hashable, Sendable, CustomStringConvertible {
    /// One full service name.
    case exact(String)
    /// Every service in this package or below it; stored without the trailing `.*`.
    case prefix(String)
    /// Every service: `*`.
    case any

    /// Why a pattern could not be parsed. `description` says so in a config message's words.
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case emptySegment(String)
        case misplacedWildcard(String)
        case invalidCharacter(String, Character)

        public var description: String {
            switch self {
            case .empty:
                "service pattern is empty"
            case .emptySegment(let text):
                "invalid service pattern \"\(text)\": empty name segment"
            case .misplacedWildcard(let text):
                "invalid service pattern \"\(text)\": \"*\" may stand only alone or as a final \".*\""
            case .invalidCharacter(let text, let character):
                "invalid service pattern \"\(text)\": \"\(character)\" is not allowed (use letters, digits, \"_\" and \".\")"
            }
        }
    }

    /// Parses the routes-file form; nil when malformed (empty, `*` inside a name, `a..b`,
    /// `a.*.b`, a leading or trailing `.`, characters other than letters, digits and `_`).
    public init?(parsing text: String) {
        guard case .success(let pattern) = ServicePattern.parse(text) else { return nil }
        self = pattern
    }

    /// Parses the routes-file form, saying why it is malformed.
    public static func parse(_ text: String) -> Result<ServicePattern, ParseError> {
        if text.isEmpty { return .failure(.empty) }
        if text == "*" { return .success(.any) }
        if text.hasSuffix(".*") {
            let name = String(text.dropLast(2))
            if let error = validateName(name, original: text) { return .failure(error) }
            return .success(.prefix(name))
        }
        if let error = validateName(text, original: text) { return .failure(error) }
        return .success(.exact(text))
    }

    /// The routes-file form: `trestle.demo.v1.Echo`, `acme.billing.*`, `*`.
    public var description: String {
        switch self {
        case .exact(let name): name
        case .prefix(let name): name + ".*"
        case .any: "*"
        }
    }

    /// True when a call to `service` is taken by this pattern on its own (without precedence).
    public func matches(_ service: String) -> Bool {
        switch self {
        case .exact(let name):
            return service == name
        case .prefix(let name):
            return service.utf8.count > name.utf8.count + 1
                && service.utf8.starts(with: name.utf8)
                && service.utf8.dropFirst(name.utf8.count).first == UInt8(ascii: ".")
        case .any:
            return true
        }
    }

    private static func validateName(_ name: String, original: String) -> ParseError? {
        var segmentLength = 0
        for character in name {
            if character == "." {
                if segmentLength == 0 { return .emptySegment(original) }
                segmentLength = 0
            } else if character == "*" {
                return .misplacedWildcard(original)
            } else if character.isASCII && (character.isLetter || character.isNumber || character == "_") {
                segmentLength += 1
            } else {
                return .invalidCharacter(original, character)
            }
        }
        return segmentLength == 0 ? .emptySegment(original) : nil
    }
}

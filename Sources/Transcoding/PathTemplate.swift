import Channel

/// A `google.api.http` path template, parsed (google/api/http.proto, "Path template syntax"):
///
///     Template = "/" Segments [ Verb ] ;
///     Segments = Segment { "/" Segment } ;
///     Segment  = "*" | "**" | LITERAL | Variable ;
///     Variable = "{" FieldPath [ "=" Segments ] "}" ;
///     FieldPath = IDENT { "." IDENT } ;
///     Verb     = ":" LITERAL ;
///
/// Rules enforced on top of the grammar:
/// - `**` may only be the last segment of the template (it may end a variable's segments only when
///   that variable ends the template): it matches the rest of the path, so nothing can follow it
///   but the verb.
/// - Variables do not nest; `{x}` means `{x=*}`; a field path appears at most once.
/// - A LITERAL is one or more of RFC 3986 `pchar` less `:` (which introduces the verb) and `*`;
///   `%XX` must be well formed. Literals are kept as written: they match the path's raw
///   (still percent-encoded) segments byte for byte.
/// - `/` alone is a template with no segments; it matches only the path `/`.
///
/// Parsing is done once, when a config loads; errors name the template and the byte offset
/// (0-based) where parsing stopped.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        /// Matches exactly this raw segment.
        case literal(String)
        /// `*`: any one segment.
        case wildcard
        /// `**`: zero or more segments, up to the end of the path (or its verb).
        case deepWildcard
    }

    /// A `{field.path=segments}` span of the template.
    public struct Variable: Sendable, Equatable {
        /// The field path as written: `["book", "name"]` for `{book.name}`.
        public let fieldPath: [String]
        /// The template segments the variable covers: `segments[segmentRange]`.
        public let segmentRange: Range<Int>
        /// A variable of several segments or of `**` (`{name=shelves/*}`, `{path=**}`): its value
        /// keeps `%2F` encoded. A single `*` or literal segment decodes every `%XX` (http.proto).
        public let isMultiSegment: Bool

        /// `book.name`.
        public var fieldPathText: String { fieldPath.joined(separator: ".") }
    }

    /// The template as written.
    public let text: String
    public let segments: [Segment]
    /// In template order.
    public let variables: [Variable]
    /// The custom verb without its colon (`cancel` for `…:cancel`), if any.
    public let verb: String?

    public var description: String { text }

    /// The template with its variables erased, `/v1/shelves/*/books/*:verb`: two templates with the
    /// same shape match exactly the same paths.
    public var shape: String {
        var out = segments.isEmpty ? "/" : ""
        for segment in segments {
            switch segment {
            case .literal(let text): out += "/" + text
            case .wildcard: out += "/*"
            case .deepWildcard: out += "/**"
            }
        }
        if let verb { out += ":" + verb }
        return out
    }

    /// Parses `text`. Throws `invalid path template "<text>": <what> at offset <n>`.
    public init(_ text: String) throws(HTTPRuleError) {
        var parser = Parser(text: text)
        try parser.parseTemplate()
        self.text = text
        self.segments = parser.segments
        self.variables = parser.variables
        self.verb = parser.verb
    }

    private struct Parser {
        let text: String
        let bytes: [UInt8]
        var i = 0
        var segments: [Segment] = []
        var variables: [Variable] = []
        var verb: String?
        /// Where a `**` was parsed: nothing but the verb (or the `}` closing its variable) may follow.
        var deepWildcardOffset: Int?

        init(text: String) {
            self.text = text
            self.bytes = Array(text.utf8)
        }

        func error(_ what: String, at offset: Int) -> HTTPRuleError {
            HTTPRuleError("invalid path template \"\(text)\": \(what) at offset \(offset)")
        }

        func unexpected(at offset: Int) -> HTTPRuleError {
            let byte = bytes[offset]
            let shown = byte >= 0x20 && byte < 0x7F ? "\"\(Character(UnicodeScalar(byte)))\"" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
            return error("unexpected \(shown)", at: offset)
        }

        var atEnd: Bool { i >= bytes.count }

        func peek(_ ascii: Unicode.Scalar) -> Bool { i < bytes.count && bytes[i] == UInt8(ascii: ascii) }

        mutating func parseTemplate() throws(HTTPRuleError) {
            guard peek("/") else {
                throw atEnd ? error("missing leading \"/\"", at: 0) : error("must start with \"/\"", at: 0)
            }
            i = 1
            if atEnd { return }  // "/": the root, no segments
            try parseSegments(inVariable: false)
            if peek(":") {
                i += 1
                if atEnd { throw error("empty verb", at: i) }
                let start = i
                try parseLiteral()
                verb = String(decoding: bytes[start..<i], as: UTF8.self)
                if !atEnd { throw unexpected(at: i) }
            } else if !atEnd {
                throw peek("}") ? error("unmatched \"}\"", at: i) : unexpected(at: i)
            }
        }

        /// `Segment { "/" Segment }`: stops before a byte that cannot continue the segments.
        mutating func parseSegments(inVariable: Bool) throws(HTTPRuleError) {
            while true {
                try parseSegment(inVariable: inVariable)
                guard peek("/") else { return }
                i += 1
            }
        }

        mutating func parseSegment(inVariable: Bool) throws(HTTPRuleError) {
            if let deep = deepWildcardOffset { throw error("\"**\" must be the last segment", at: deep) }
            if peek("}") && !inVariable { throw error("unmatched \"}\"", at: i) }
            if atEnd || peek("/") || peek(":") || peek("}") { throw error("empty segment", at: i) }
            let start = i
            switch bytes[i] {
            case UInt8(ascii: "*"):
                i += 1
                if peek("*") {
                    i += 1
                    segments.append(.deepWildcard)
                    deepWildcardOffset = start
                } else {
                    segments.append(.wildcard)
                }
                if !(atEnd || peek("/") || peek(":") || peek("}")) { throw unexpected(at: i) }
            case UInt8(ascii: "{"):
                if inVariable { throw error("nested variable", at: i) }
                try parseVariable()
            default:
                try parseLiteral()
                segments.append(.literal(String(decoding: bytes[start..<i], as: UTF8.self)))
            }
        }

        /// `"{" FieldPath [ "=" Segments ] "}"`.
        mutating func parseVariable() throws(HTTPRuleError) {
            let open = i
            i += 1
            var fieldPath: [String] = []
            while true {
                let start = i
                guard i < bytes.count, Self.isIdentStart(bytes[i]) else {
                    throw atEnd ? error("missing \"}\"", at: i) : error("expected a field name", at: i)
                }
                while i < bytes.count && Self.isIdentPart(bytes[i]) { i += 1 }
                fieldPath.append(String(decoding: bytes[start..<i], as: UTF8.self))
                guard peek(".") else { break }
                i += 1
            }
            let first = segments.count
            if peek("=") {
                i += 1
                try parseSegments(inVariable: true)
            } else if atEnd || peek("}") {
                segments.append(.wildcard)
            } else if peek("{") {
                throw error("nested variable", at: i)
            } else {
                throw unexpected(at: i)
            }
            guard peek("}") else { throw atEnd ? error("missing \"}\"", at: i) : unexpected(at: i) }
            i += 1
            if variables.contains(where: { $0.fieldPath == fieldPath }) {
                throw error("variable {\(fieldPath.joined(separator: "."))} appears twice", at: open)
            }
            let range = first..<segments.count
            let multi = range.count > 1 || segments[range].contains(.deepWildcard)
            variables.append(Variable(fieldPath: fieldPath, segmentRange: range, isMultiSegment: multi))
        }

        /// One or more literal bytes: RFC 3986 `pchar` less `:` and `*`, `%XX` well formed.
        mutating func parseLiteral() throws(HTTPRuleError) {
            let start = i
            while i < bytes.count {
                let byte = bytes[i]
                if byte == UInt8(ascii: "%") {
                    guard i + 2 < bytes.count, ASCII.hexValue(bytes[i + 1]) != nil,
                          ASCII.hexValue(bytes[i + 2]) != nil else {
                        throw error("invalid percent-encoding", at: i)
                    }
                    i += 3
                } else if Self.isLiteralByte(byte) {
                    i += 1
                } else {
                    break
                }
            }
            if i == start { throw atEnd ? error("empty segment", at: i) : unexpected(at: i) }
        }

        static func isIdentStart(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || b == UInt8(ascii: "_")
        }

        static func isIdentPart(_ b: UInt8) -> Bool {
            isIdentStart(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }

        /// unreserved / sub-delims / "@", less "*" (RFC 3986 §3.3 `pchar`; ":" is the verb's).
        static func isLiteralByte(_ b: UInt8) -> Bool {
            if isIdentPart(b) { return true }
            switch b {
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
                 UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "+"),
                 UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "@"):
                return true
            default:
                return false
            }
        }
    }
}

extension PathTemplate {
    /// Resolves each variable's field path against the request message, in `variables` order.
    ///
    /// Every step but the last must be a singular message field; the leaf must be singular and
    /// convertible from one string (as grpc-gateway and Envoy require): a scalar, an enum, bytes,
    /// or a well-known type with a string form (wrappers, Timestamp, Duration, FieldMask). Names
    /// match the JSON name or the proto name. Two variables may not bind the same field.
    public func resolveVariables(in message: MessageDescriptor) throws(HTTPRuleError) -> [[FieldDescriptor]] {
        var resolved: [[FieldDescriptor]] = []
        for variable in variables {
            let shown = "variable {\(variable.fieldPathText)}"
            var current = message
            var path: [FieldDescriptor] = []
            for (index, name) in variable.fieldPath.enumerated() {
                guard let field = current.field(named: name) else {
                    throw HTTPRuleError("\(shown): \(current.fullName) has no field \"\(name)\"")
                }
                path.append(field)
                let qualified = "\(current.fullName).\(field.name)"
                if field.isMap { throw HTTPRuleError("\(shown): \(qualified) is a map") }
                if field.isRepeated { throw HTTPRuleError("\(shown): \(qualified) is repeated") }
                if index == variable.fieldPath.count - 1 {
                    if !field.isStringConvertibleLeaf {
                        throw HTTPRuleError("\(shown): \(qualified) is a message (\(field.messageType?.fullName ?? "?")), not a value")
                    }
                } else {
                    guard let next = field.messageType, field.kind == .message || field.kind == .group else {
                        throw HTTPRuleError("\(shown): \(qualified) is not a message")
                    }
                    current = next
                }
            }
            if let other = zip(variables, resolved).first(where: { $0.1.elementsEqual(path, by: ===) }) {
                throw HTTPRuleError("variables {\(other.0.fieldPathText)} and {\(variable.fieldPathText)} bind the same field")
            }
            resolved.append(path)
        }
        return resolved
    }
}

extension FieldDescriptor {
    /// A field one text value can set: a scalar, an enum, or a message whose JSON form is a string
    /// or a number (the wrappers, Timestamp, Duration, FieldMask). Path variables and query
    /// parameters may only bind such fields.
    var isStringConvertibleLeaf: Bool {
        guard kind == .message || kind == .group else { return true }
        guard let wellKnown = messageType?.wellKnown else { return false }
        switch wellKnown {
        case .timestamp, .duration, .fieldMask: return true
        default: return wellKnown.isWrapper
        }
    }
}

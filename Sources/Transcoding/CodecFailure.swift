/// Why one translation by `JSONTranscoder` failed, while the failure unwinds: it is thrown where the
/// problem is found (with the byte offset), each enclosing field adds its name on the way out, and
/// the public entry points render it once as a `TranscodeError`. The happy path builds no text.
struct CodecFailure: Error {
    /// Which input the offset and the message refer to.
    enum Input { case json, wire, text }

    var input: Input
    var offset: Int?
    var problem: Problem
    /// Field names and `[index]` / `["key"]` selectors, innermost first.
    var path: [String] = []

    init(_ input: Input, at offset: Int?, _ problem: Problem) {
        self.input = input
        self.offset = offset
        self.problem = problem
    }

    static func json(_ offset: Int, _ problem: Problem) -> CodecFailure { CodecFailure(.json, at: offset, problem) }
    static func wire(_ offset: Int, _ problem: Problem) -> CodecFailure { CodecFailure(.wire, at: offset, problem) }

    /// Adds the segment of an enclosing field (`author`, `[2]`, `["key"]`).
    func inside(_ segment: String) -> CodecFailure {
        var copy = self
        copy.path.append(segment)
        return copy
    }

    /// `user.id`, `tags[2]`, `labels["k"].name`; nil at the top level.
    var joinedPath: String? {
        if path.isEmpty { return nil }
        var text = ""
        for segment in path.reversed() {
            if !text.isEmpty && !segment.hasPrefix("[") { text += "." }
            text += segment
        }
        return text
    }

    var transcodeError: TranscodeError {
        let path = joinedPath
        let text = problem.text(field: path)
        let message: String
        switch input {
        case .json: message = "invalid JSON" + (offset.map { " at byte \($0)" } ?? "") + ": " + text
        case .wire: message = "invalid protobuf message" + (offset.map { " at byte \($0)" } ?? "") + ": " + text
        case .text: message = text
        }
        return TranscodeError(message: message, offset: offset, fieldPath: path)
    }
}

/// Every message the JSON codec gives, in one table. `field` is the path of the field concerned,
/// when there is one. Values are shown as they were written (`3000000000`, `"abc"`).
enum Problem {
    case syntax(String)
    case tooDeep
    case expected(String)
    /// The path ends with the unknown name itself.
    case unknownField(type: String)
    case duplicateField
    case oneofConflict(other: String, oneof: String)
    case outOfRange(value: String, kind: String)
    case notAnInteger(value: String, kind: String)
    case invalidValue(value: String, kind: String)
    case unknownEnumValue(value: String, enumName: String)
    case invalidBase64(value: String)
    case duplicateMapKey(key: String)
    case nullElement
    case nullMapValue
    case invalidWellKnown(type: String, value: String, reason: String)
    case any(String)
    case unsupported(String)
    case wire(String)

    func text(field: String?) -> String {
        let forField = field.map { " for field \"\($0)\"" } ?? ""
        let ofField = field.map { " in field \"\($0)\"" } ?? ""
        switch self {
        case .syntax(let what): return what
        case .tooDeep: return "nesting deeper than \(JSONTranscoder.maxDepth) levels" + ofField
        case .expected(let what): return "expected \(what)" + forField
        case .unknownField(let type): return "unknown field \"\(field ?? "")\" in \(type)"
        case .duplicateField: return "duplicate field \"\(field ?? "")\""
        case .oneofConflict(let other, let oneof):
            return "field \"\(field ?? "")\" and field \(quoted(other)) are both set in oneof \(quoted(oneof))"
        case .outOfRange(let value, let kind): return "value \(value) is out of range for \(kind) field" + fieldName(field)
        case .notAnInteger(let value, let kind): return "value \(value) is not an integer for \(kind) field" + fieldName(field)
        case .invalidValue(let value, let kind): return "invalid value \(value) for \(kind) field" + fieldName(field)
        case .unknownEnumValue(let value, let enumName):
            return "unknown value \(value) for enum \(enumName)" + (field.map { " of field \"\($0)\"" } ?? "")
        case .invalidBase64(let value): return "invalid base64 \(value) for bytes field" + fieldName(field)
        case .duplicateMapKey(let key): return "duplicate map key \(key)" + ofField
        case .nullElement: return "null is not allowed as an element of repeated field" + fieldName(field)
        case .nullMapValue: return "null is not allowed as a map value" + ofField
        case .invalidWellKnown(let type, let value, let reason):
            return "invalid \(type) \(value)" + forField + ": " + reason
        case .any(let what): return what + ofField
        case .unsupported(let what): return what + ofField
        case .wire(let what): return what + ofField
        }
    }

    private func fieldName(_ field: String?) -> String { field.map { " \"\($0)\"" } ?? "" }
    private func quoted(_ s: String) -> String { "\"\(s)\"" }
}

/// Text for messages: a name, key or value from the input, with what would break a one-line
/// message escaped and anything long cut short.
func printable(_ bytes: UnsafeRawBufferPointer, limit: Int = 64) -> String {
    var text = ""
    let shown = min(bytes.count, limit)
    var utf8 = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<shown]), as: UTF8.self)
    if shown < bytes.count { utf8 += "…" }
    for scalar in utf8.unicodeScalars {
        switch scalar.value {
        case 0x22: text += "\\\""
        case 0x5C: text += "\\\\"
        case 0..<0x20, 0x7F, 0x85, 0x2028, 0x2029:
            text += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                + String(scalar.value, radix: 16)
        default: text.unicodeScalars.append(scalar)
        }
    }
    return text
}

func printable(_ string: String) -> String {
    var string = string
    return string.withUTF8 { printable(UnsafeRawBufferPointer($0)) }
}

/// The name of a field kind in messages: `int32`, `uint64`, `enum`, …
func kindName(_ kind: FieldKind) -> String {
    switch kind {
    case .double: "double"
    case .float: "float"
    case .int64: "int64"
    case .uint64: "uint64"
    case .int32: "int32"
    case .fixed64: "fixed64"
    case .fixed32: "fixed32"
    case .bool: "bool"
    case .string: "string"
    case .group: "group"
    case .message: "message"
    case .bytes: "bytes"
    case .uint32: "uint32"
    case .enumeration: "enum"
    case .sfixed32: "sfixed32"
    case .sfixed64: "sfixed64"
    case .sint32: "sint32"
    case .sint64: "sint64"
    }
}

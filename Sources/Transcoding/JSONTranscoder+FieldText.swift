/// URL path variables and query parameters (`GET /v1/shelves/{shelf}/books?page_size=10`) as field
/// values: plain text, already percent-decoded, not JSON. The leaf field of a path is written
/// inside its enclosing message fields (`book.author.id` → book { author { id } }); protobuf merges
/// the occurrences of a message field, so one such fragment per parameter can follow the body.
///
/// Text forms: `true`/`false`; integers in decimal (or integral exponent forms, as in JSON);
/// floats as numbers or `NaN`, `Infinity`, `-Infinity`; enums by name or number; bytes in base64
/// (either alphabet); strings as they are; wrappers as their value; Timestamp, Duration and
/// FieldMask in their JSON text forms (without quotes).
///
/// A map field takes one entry per parameter (`labels[key]=value`, as grpc-gateway writes it):
/// `mapKey` is the key's text, in the key type's text form, and `text` the value's.
enum FieldText {
    static func append(text: UnsafeRawBufferPointer, path: [FieldDescriptor], index: Int, mapKey: UnsafeRawBufferPointer? = nil,
                       registry: DescriptorRegistry, into out: inout ProtoWriter) throws(CodecFailure) {
        guard index < path.count else { throw failure(path, .unsupported("an empty field path")) }
        let field = path[index]
        guard index == path.count - 1 else {
            guard field.kind == .message, !field.isRepeated, let type = field.messageType, type.wellKnown == nil else {
                throw failure(Array(path[...index]), .unsupported("a URL parameter cannot set a field inside a repeated or non-message field"))
            }
            out.appendTag(field.number, .lengthDelimited)
            let start = out.beginLengthDelimited()
            try append(text: text, path: path, index: index + 1, mapKey: mapKey, registry: registry, into: &out)
            out.endLengthDelimited(start)
            return
        }
        if field.isMap {
            guard let mapKey, let entry = field.messageType, let keyField = entry.field(number: 1),
                  let valueField = entry.field(number: 2) else {
                throw failure(path, .unsupported("a URL parameter sets a map field one entry at a time: \"name[key]=value\""))
            }
            // One MapEntry message { 1: key, 2: value }; protobuf keeps the last entry of a key.
            out.appendTag(field.number, .lengthDelimited)
            let start = out.beginLengthDelimited()
            try appendScalar(mapKey, keyField, path, &out)
            try appendLeaf(text, valueField, path, &out)
            out.endLengthDelimited(start)
            return
        }
        if mapKey != nil { throw failure(path, .unsupported("\"name[key]=value\" sets an entry of a map field")) }
        try appendLeaf(text, field, path, &out)
    }

    /// The value of one field that a text sets: a scalar, an enum, or a well-known type's text form.
    private static func appendLeaf(_ text: UnsafeRawBufferPointer, _ field: FieldDescriptor, _ path: [FieldDescriptor],
                                   _ out: inout ProtoWriter) throws(CodecFailure) {
        if field.kind == .group { throw failure(path, .unsupported("group fields are not supported")) }
        if field.kind != .message {
            return try appendScalar(text, field, path, &out)
        }
        guard let type = field.messageType, let wellKnown = type.wellKnown else {
            throw failure(path, .unsupported("a URL parameter cannot set a message field"))
        }
        out.appendTag(field.number, .lengthDelimited)
        let start = out.beginLengthDelimited()
        switch wellKnown {
        case .timestamp, .duration:
            let parsed = wellKnown == .timestamp ? WellKnownText.parseTimestamp(text) : WellKnownText.parseDuration(text)
            switch parsed {
            case .success(let (seconds, nanos)): JSONToProto.writeSecondsAndNanos(seconds, nanos, &out)
            case .failure(let reason):
                throw failure(path, .invalidWellKnown(type: wellKnown == .timestamp ? "Timestamp" : "Duration",
                                                      value: "\"" + printable(text) + "\"", reason: reason.text))
            }
        case .fieldMask:
            var pathStart = 0
            for i in 0...text.count where !text.isEmpty && (i == text.count || text[i] == UInt8(ascii: ",")) {
                let part = UnsafeRawBufferPointer(rebasing: text[pathStart..<i])
                out.appendTag(1, .lengthDelimited)
                out.appendVarint(UInt64(WellKnownText.snakeCaseCount(part)))
                guard WellKnownText.appendSnakeCasePath(part, to: &out.bytes) else {
                    throw failure(path, .invalidWellKnown(type: "FieldMask", value: "\"" + printable(text) + "\"",
                                                          reason: "path \"\(printable(part))\" has '_' (paths are lowerCamelCase)"))
                }
                pathStart = i + 1
            }
        default:
            guard wellKnown.isWrapper, let inner = type.field(number: 1) else {
                throw failure(path, .unsupported("a URL parameter cannot set a \(type.fullName) field"))
            }
            try appendScalar(text, inner, path, &out)
        }
        out.endLengthDelimited(start)
    }

    private static func failure(_ path: [FieldDescriptor], _ problem: Problem) -> CodecFailure {
        var failure = CodecFailure(.text, at: nil, problem)
        failure.path = [path.map(\.name).joined(separator: ".")]
        return failure
    }

    /// Tag and value of a scalar field from its text.
    private static func appendScalar(_ text: UnsafeRawBufferPointer, _ field: FieldDescriptor, _ path: [FieldDescriptor],
                                     _ out: inout ProtoWriter) throws(CodecFailure) {
        let kind = field.kind
        var invalid: CodecFailure { failure(path, .invalidValue(value: "\"" + printable(text) + "\"", kind: kindName(kind))) }
        switch kind {
        case .string:
            guard UTF8Validation.firstInvalid(text) == nil else { throw invalid }
            out.appendTag(field.number, .lengthDelimited)
            out.appendLengthDelimited(text)
        case .bytes:
            guard JSONToProto.appendBase64(text, field.number, &out, tagged: true, skipDefault: false) else { throw invalid }
        case .bool:
            if text.elementsEqual("true".utf8) {
                out.appendTag(field.number, .varint)
                out.appendVarint(1)
            } else if text.elementsEqual("false".utf8) {
                out.appendTag(field.number, .varint)
                out.appendVarint(0)
            } else {
                throw invalid
            }
        case .enumeration:
            guard let type = field.enumType else { throw invalid }
            var number = type.number(named: text)
            if number == nil, let token = JSONToProto.numberInside(text),
               case .value(let negative, let magnitude) = token.integerValue,
               magnitude <= (negative ? 1 << 31 : UInt64(Int32.max)) {
                number = Int32(truncatingIfNeeded: negative ? 0 &- Int64(magnitude) : Int64(magnitude))
            }
            guard let number else {
                throw failure(path, .unknownEnumValue(value: "\"" + printable(text) + "\"", enumName: type.fullName))
            }
            out.appendTag(field.number, .varint)
            out.appendVarint(UInt64(bitPattern: Int64(number)))
        case .float, .double:
            var value: Double
            if let special = JSONToProto.nonFinite(text) {
                value = special
            } else {
                guard let token = JSONToProto.numberInside(text) else { throw invalid }
                value = token.doubleValue(in: text.baseAddress!.assumingMemoryBound(to: UInt8.self))
                if !value.isFinite || (kind == .float && !Float(value).isFinite) {
                    throw failure(path, .outOfRange(value: "\"" + printable(text) + "\"", kind: kindName(kind)))
                }
            }
            if kind == .float {
                out.appendTag(field.number, .fixed32)
                out.appendFixed32(Float(value).bitPattern)
            } else {
                out.appendTag(field.number, .fixed64)
                out.appendFixed64(value.bitPattern)
            }
        case .message, .group:
            throw invalid
        default:
            guard let token = JSONToProto.numberInside(text) else { throw invalid }
            var thrown: CodecFailure?
            do throws(CodecFailure) {
                let bits = try IntegerRange.bits(token.integerValue, kind, at: 0, text: { "\"" + printable(text) + "\"" },
                                                 input: .text)
                JSONToProto.writeScalarBits(bits, field.number, kind, &out)
            } catch {
                thrown = error
            }
            if var thrown {
                thrown.offset = nil
                thrown.path = [path.map(\.name).joined(separator: ".")]
                throw thrown
            }
        }
    }
}

/// JSON → protobuf: one translation, from a scanner over the JSON bytes straight into a
/// `ProtoWriter`. Fields are written in the order the JSON names them; nested messages are
/// written in place with a reserved length (`ProtoWriter.beginLengthDelimited`).
///
/// As protobuf's `json_format.Parse`: both names of a field are accepted, a field named twice (by
/// either name) is an error, two members of one oneof are an error, `null` leaves a field unset
/// (but is `NULL_VALUE` for `google.protobuf.Value` and `NullValue` fields), and a map key that
/// occurs twice is an error. Implicit-presence fields holding their default are not written.
struct JSONToProto {
    var scanner: JSONScanner
    let registry: DescriptorRegistry
    /// Decoded text of names and values with escapes (rare); reused.
    var scratch: [UInt8] = []
    /// The keys written so far by the maps being written (a stack: a map's entries from its base).
    var keySpans: [KeySpan] = []
    /// Messages entered (the top-level one is 1).
    var depth = 0

    /// Where a map entry's key field sits in the output (for finding a key given twice).
    struct KeySpan {
        var start: Int
        var count: Int
    }

    init(json: UnsafeRawBufferPointer, registry: DescriptorRegistry) {
        scanner = JSONScanner(json)
        self.registry = registry
    }

    // MARK: Documents

    mutating func encodeDocument(_ type: MessageDescriptor, into out: inout ProtoWriter) throws(CodecFailure) {
        try encodeMessage(type, &out)
        try expectEnd()
    }

    mutating func encodeFieldDocument(_ field: FieldDescriptor, into out: inout ProtoWriter) throws(CodecFailure) {
        depth = 1
        if scanner.peek() == UInt8(ascii: "n") {
            try encodeNull(field, &out)
        } else if field.isMap {
            try encodeMap(field, &out)
        } else if field.isRepeated {
            try encodeArray(field, &out)
        } else {
            try encodeSingular(field, &out)
        }
        try expectEnd()
    }

    private mutating func expectEnd() throws(CodecFailure) {
        scanner.skipWhitespace()
        guard scanner.pos == scanner.count else {
            throw .json(scanner.pos, .syntax("unexpected \(scanner.describeHere()) after the JSON value"))
        }
    }

    // MARK: Messages

    /// A message value: an object, or the special form of a well-known type.
    mutating func encodeMessage(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JSONTranscoder.maxDepth else { throw .json(scanner.pos, .tooDeep) }
        guard let wellKnown = type.wellKnown else {
            return try encodeObject(type, &out, skippingType: false)
        }
        switch wellKnown {
        case .any: try encodeAny(type, &out)
        case .timestamp: try encodeTimestamp(type, &out)
        case .duration: try encodeDuration(type, &out)
        case .fieldMask: try encodeFieldMask(type, &out)
        case .structValue: try encodeMap(try wellKnownField(type, 1, .message), &out)
        case .listValue: try encodeArray(try wellKnownField(type, 1, .message), &out)
        case .value: try encodeValue(type, &out)
        case .empty: try encodeObject(type, &out, skippingType: false)
        default: try encodeWrapper(type, &out)
        }
    }

    /// The fields of a regular message as an object. `skippingType`: the object is an `Any`'s,
    /// whose `@type` member is not a field.
    mutating func encodeObject(_ type: MessageDescriptor, _ out: inout ProtoWriter,
                               skippingType: Bool) throws(CodecFailure) {
        guard scanner.peek() == UInt8(ascii: "{") else { throw .json(scanner.pos, .expected("an object")) }
        scanner.pos += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.pos += 1
            return
        }
        var seen = IndexSet()
        var oneofs = IndexSet()
        let infos = type.codec
        repeat {
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.unexpected(expecting: "a field name") }
            let keyQuote = scanner.pos
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            let index: Int?
            if key.hasEscapes {
                scratch.removeAll(keepingCapacity: true)
                scanner.appendDecoded(key, to: &scratch)
                if skippingType && scratch.elementsEqual("@type".utf8) {
                    try scanner.skipValue(depth: depth)
                    continue
                }
                index = scratch.withUnsafeBytes { type.fieldIndex(named: $0) }
            } else {
                let name = scanner.raw(key.start, key.end)
                if skippingType && name.elementsEqual("@type".utf8) {
                    try scanner.skipValue(depth: depth)
                    continue
                }
                index = type.fieldIndex(named: name)
            }
            guard let index else {
                throw CodecFailure.json(keyQuote, .unknownField(type: type.fullName))
                    .inside(scanner.printableString(at: keyQuote))
            }
            guard seen.insert(index) else {
                throw CodecFailure.json(keyQuote, .duplicateField).inside(scanner.printableString(at: keyQuote))
            }
            let c = infos[index]
            if c.isPlainScalar {
                // The fast path: no descriptor to touch (null leaves a plain scalar unset).
                do throws(CodecFailure) {
                    if scanner.peek() == UInt8(ascii: "n") {
                        _ = try scanner.literal()
                    } else {
                        try encodeScalar(c.kind, c.number, nil, &out, tagged: true, skipDefault: !c.hasPresence)
                    }
                } catch {
                    throw error.inside(scanner.printableString(at: keyQuote))
                }
                continue
            }
            let field = c.field.takeUnretainedValue()
            do throws(CodecFailure) {
                if let oneof = field.oneofIndex, scanner.peek() != UInt8(ascii: "n") {
                    guard oneofs.insert(oneof) else { throw oneofConflict(type, field, oneof, seen, at: keyQuote) }
                }
                try encodeField(field, &out)
            } catch {
                throw error.inside(scanner.printableString(at: keyQuote))
            }
        } while try scanner.commaOr(UInt8(ascii: "}"))
    }

    private func oneofConflict(_ type: MessageDescriptor, _ field: FieldDescriptor, _ oneof: Int,
                               _ seen: IndexSet, at offset: Int) -> CodecFailure {
        let other = type.fields.indices.first { i in
            type.fields[i] !== field && type.fields[i].oneofIndex == oneof && seen.contains(i)
        }.map { type.fields[$0].jsonName } ?? "?"
        return .json(offset, .oneofConflict(other: other, oneof: type.oneofs[oneof].name))
    }

    /// The value of one field of an object (after its `:`).
    mutating func encodeField(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        if scanner.peek() == UInt8(ascii: "n") { return try encodeNull(field, &out) }
        if field.isMap {
            try encodeMap(field, &out)
        } else if field.isRepeated {
            try encodeArray(field, &out)
        } else {
            try encodeSingular(field, &out)
        }
    }

    /// `null` as a field's value: unset, except for `Value` (NULL_VALUE) and `NullValue` fields.
    private mutating func encodeNull(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        _ = try scanner.literal()
        if field.isRepeated { return }
        if field.kind == .message, field.messageType?.wellKnown == .value {
            Self.writeNullValue(field.number, &out)
        } else if field.kind == .enumeration, field.enumType?.isNullValue == true, field.hasPresence {
            out.appendTag(field.number, .varint)
            out.appendVarint(0)
        }
    }

    /// Whether `null` is a value of the field's type, not "unset": `google.protobuf.Value`
    /// (NULL_VALUE) and the `NullValue` enum. Elsewhere `null` may not be an element of a repeated
    /// field nor a map value. (protobuf's Python parser also rejects `[null]` for a repeated
    /// `NullValue`, which its printer writes; this codec reads what it writes.)
    static func acceptsNull(_ field: FieldDescriptor) -> Bool {
        if field.kind == .message { return field.messageType?.wellKnown == .value }
        return field.kind == .enumeration && field.enumType?.isNullValue == true
    }

    /// A `google.protobuf.Value` field holding `null_value: NULL_VALUE`.
    static func writeNullValue(_ number: Int32, _ out: inout ProtoWriter) {
        out.appendTag(number, .lengthDelimited)
        out.appendVarint(2)
        out.bytes.append(0x08)  // null_value = 1, varint
        out.bytes.append(0x00)
    }

    /// A non-repeated field's value (not `null`).
    private mutating func encodeSingular(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        switch field.kind {
        case .message: try encodeMessageField(field, &out)
        case .group: throw .json(scanner.pos, .unsupported("group fields are not supported"))
        default: try encodeScalar(field, &out, tagged: true, skipDefault: !field.hasPresence)
        }
    }

    /// Tag, length and the message written in place.
    mutating func encodeMessageField(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        guard let type = field.messageType else {
            throw .json(scanner.pos, .unsupported("group fields are not supported"))
        }
        out.appendTag(field.number, .lengthDelimited)
        let start = out.beginLengthDelimited()
        try encodeMessage(type, &out)
        out.endLengthDelimited(start)
    }

    // MARK: Repeated fields and maps

    /// A JSON array as the elements of a repeated field: packed in one field when the field is
    /// packed, else one tagged field per element.
    mutating func encodeArray(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        guard scanner.peek() == UInt8(ascii: "[") else { throw .json(scanner.pos, .expected("an array")) }
        scanner.pos += 1
        if scanner.peek() == UInt8(ascii: "]") {
            scanner.pos += 1
            return
        }
        if field.kind == .group { throw .json(scanner.pos, .unsupported("group fields are not supported")) }
        var index = 0
        let packed = field.isPacked
        var start = 0
        if packed {
            out.appendTag(field.number, .lengthDelimited)
            start = out.beginLengthDelimited()
        }
        let nullable = Self.acceptsNull(field)
        repeat {
            do throws(CodecFailure) {
                if scanner.peek() == UInt8(ascii: "n") {
                    guard nullable else { throw CodecFailure.json(scanner.pos, .nullElement) }
                    _ = try scanner.literal()
                    if field.kind == .message {
                        Self.writeNullValue(field.number, &out)
                    } else {
                        if !packed { out.appendTag(field.number, .varint) }
                        out.appendVarint(0)
                    }
                } else if field.kind == .message {
                    try encodeMessageField(field, &out)
                } else {
                    try encodeScalar(field, &out, tagged: !packed, skipDefault: false)
                }
            } catch {
                throw error.inside("[\(index)]")
            }
            index += 1
        } while try scanner.commaOr(UInt8(ascii: "]"))
        if packed { out.endLengthDelimited(start) }
    }

    /// A JSON object as the entries of a map field (or of `Struct.fields`): one entry message per
    /// member, key and value always written. A key given twice (after conversion: `"1"` and `"01"`
    /// are the same int32 key) is an error, as JSON objects with repeated names are for protobuf.
    mutating func encodeMap(_ field: FieldDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        guard let entry = field.messageType, let keyField = entry.field(number: 1),
              let valueField = entry.field(number: 2) else {
            throw .json(scanner.pos, .unsupported("map entry without key or value"))
        }
        guard scanner.peek() == UInt8(ascii: "{") else { throw .json(scanner.pos, .expected("an object")) }
        scanner.pos += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.pos += 1
            return
        }
        let spanBase = keySpans.count
        defer { keySpans.removeSubrange(spanBase...) }
        var hashes: [UInt64: Int] = [:]  // filled only for large maps
        let valueIsNullable = Self.acceptsNull(valueField)
        repeat {
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.unexpected(expecting: "a string key") }
            let keyQuote = scanner.pos
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            do throws(CodecFailure) {
                out.appendTag(field.number, .lengthDelimited)
                let start = out.beginLengthDelimited()
                try encodeMapKey(key, keyField, &out)
                let keyCount = out.bytes.count - start
                if scanner.peek() == UInt8(ascii: "n") {
                    guard valueIsNullable else { throw CodecFailure.json(scanner.pos, .nullMapValue) }
                    _ = try scanner.literal()
                    if valueField.kind == .message {
                        Self.writeNullValue(2, &out)
                    } else {
                        out.appendTag(2, .varint)
                        out.appendVarint(0)
                    }
                } else if valueField.kind == .message {
                    try encodeMessageField(valueField, &out)
                } else if valueField.kind == .group {
                    throw CodecFailure.json(scanner.pos, .unsupported("group fields are not supported"))
                } else {
                    try encodeScalar(valueField, &out, tagged: true, skipDefault: false)
                }
                let bodyCount = out.bytes.count - start
                out.endLengthDelimited(start)
                let span = KeySpan(start: out.bytes.count - bodyCount, count: keyCount)
                if isDuplicate(span, since: spanBase, &hashes, out.bytes) {
                    throw CodecFailure.json(keyQuote, .duplicateMapKey(key: "\"" + scanner.printableString(at: keyQuote) + "\""))
                }
                keySpans.append(span)
            } catch {
                throw error.inside("[\"" + scanner.printableString(at: keyQuote) + "\"]")
            }
        } while try scanner.commaOr(UInt8(ascii: "}"))
    }

    /// Whether the key bytes at `span` equal those of an earlier entry of the same map. Linear for
    /// small maps; past 16 entries a table of hashes (allocated then) finds candidates.
    private func isDuplicate(_ span: KeySpan, since base: Int, _ hashes: inout [UInt64: Int], _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            func key(_ s: KeySpan) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[s.start..<(s.start + s.count)]) }
            let new = key(span)
            let count = keySpans.count - base
            if count < 16 {
                for i in base..<keySpans.count where key(keySpans[i]).elementsEqual(new) { return true }
                return false
            }
            if hashes.isEmpty {
                for i in base..<keySpans.count {
                    let h = Self.hash(key(keySpans[i]))
                    if hashes[h] == nil { hashes[h] = i }
                }
            }
            let h = Self.hash(new)
            if let i = hashes[h] {
                if key(keySpans[i]).elementsEqual(new) { return true }
                // A collision: compare with every key (rare).
                for j in base..<keySpans.count where key(keySpans[j]).elementsEqual(new) { return true }
            } else {
                hashes[h] = keySpans.count
            }
            return false
        }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// A map key (always a JSON string) as the entry's field 1, converted to the key's type.
    private mutating func encodeMapKey(_ key: JSONScanner.StringToken, _ field: FieldDescriptor,
                                       _ out: inout ProtoWriter) throws(CodecFailure) {
        switch field.kind {
        case .string:
            out.appendTag(1, .lengthDelimited)
            out.appendVarint(UInt64(key.decodedCount))
            scanner.appendDecoded(key, to: &out.bytes)
        case .bool:
            let text = scanner.raw(key.start, key.end)
            if text.elementsEqual("true".utf8) {
                out.appendTag(1, .varint)
                out.appendVarint(1)
            } else if text.elementsEqual("false".utf8) {
                out.appendTag(1, .varint)
                out.appendVarint(0)
            } else {
                throw .json(key.quote, .invalidValue(value: "\"" + scanner.printableString(at: key.quote) + "\"", kind: "bool map key"))
            }
        default:
            let bits = try integerInString(key, field.kind)
            Self.writeScalarBits(bits, 1, field.kind, &out)
        }
    }

    // MARK: Scalars

    /// One scalar value of `field`'s kind, with its tag when `tagged`. `skipDefault`: write
    /// nothing for the default (implicit presence).
    @inline(__always)
    mutating func encodeScalar(_ field: FieldDescriptor, _ out: inout ProtoWriter, tagged: Bool,
                               skipDefault: Bool) throws(CodecFailure) {
        try encodeScalar(field.kind, field.number, field.kind == .enumeration ? field.enumType : nil, &out,
                         tagged: tagged, skipDefault: skipDefault)
    }

    /// One scalar of `kind` for field `number` (`enumType`: an enum's type, for its names).
    mutating func encodeScalar(_ kind: FieldKind, _ number: Int32, _ enumType: EnumDescriptor?, _ out: inout ProtoWriter,
                               tagged: Bool, skipDefault: Bool) throws(CodecFailure) {
        switch kind {
        case .string:
            guard scanner.peek() == UInt8(ascii: "\"") else { throw .json(scanner.pos, .expected("a string")) }
            let token = try scanner.scanString()
            if skipDefault && token.decodedCount == 0 { return }
            if tagged { out.appendTag(number, .lengthDelimited) }
            out.appendVarint(UInt64(token.decodedCount))
            scanner.appendDecoded(token, to: &out.bytes)
        case .bytes:
            guard scanner.peek() == UInt8(ascii: "\"") else { throw .json(scanner.pos, .expected("a base64 string")) }
            let token = try scanner.scanString()
            try encodeBase64(token, number, &out, tagged: tagged, skipDefault: skipDefault)
        case .bool:
            let b = scanner.peek()
            guard b == UInt8(ascii: "t") || b == UInt8(ascii: "f") else { throw .json(scanner.pos, .expected("true or false")) }
            let value: UInt64 = try scanner.literal() == UInt8(ascii: "t") ? 1 : 0
            if skipDefault && value == 0 { return }
            if tagged { out.appendTag(number, .varint) }
            out.appendVarint(value)
        case .enumeration:
            let value = try enumNumber(enumType)
            if skipDefault && value == 0 { return }
            if tagged { out.appendTag(number, .varint) }
            out.appendVarint(UInt64(bitPattern: Int64(value)))
        case .float:
            let value = Float(try floatingPoint(kind))
            if skipDefault && value.bitPattern == 0 { return }
            if tagged { out.appendTag(number, .fixed32) }
            out.appendFixed32(value.bitPattern)
        case .double:
            let value = try floatingPoint(kind)
            if skipDefault && value.bitPattern == 0 { return }
            if tagged { out.appendTag(number, .fixed64) }
            out.appendFixed64(value.bitPattern)
        case .message, .group:
            throw .json(scanner.pos, .unsupported("not a scalar field"))
        default:
            let bits = try integer(kind)
            if skipDefault && bits == 0 { return }
            if tagged {
                Self.writeScalarBits(bits, number, kind, &out)
            } else {
                Self.writePayloadBits(bits, kind, &out)
            }
        }
    }

    /// Tag and value of an integer kind, from its wire bits.
    static func writeScalarBits(_ bits: UInt64, _ number: Int32, _ kind: FieldKind, _ out: inout ProtoWriter) {
        out.appendTag(number, kind.wireType)
        writePayloadBits(bits, kind, &out)
    }

    @inline(__always)
    static func writePayloadBits(_ bits: UInt64, _ kind: FieldKind, _ out: inout ProtoWriter) {
        switch kind.wireType {
        case .fixed32: out.appendFixed32(UInt32(truncatingIfNeeded: bits))
        case .fixed64: out.appendFixed64(bits)
        default: out.appendVarint(bits)
        }
    }

    /// An integer field's value — a JSON number (`1e2` is 100) or a string holding one — as the
    /// wire bits of `kind` (sign-extended, ZigZag or fixed as the kind says).
    private mutating func integer(_ kind: FieldKind) throws(CodecFailure) -> UInt64 {
        let b = scanner.peek()
        if b == UInt8(ascii: "\"") {
            let token = try scanner.scanString()
            return try integerInString(token, kind)
        }
        guard b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 else {
            throw .json(scanner.pos, .expected("a number"))
        }
        let token = try scanner.scanNumber()
        let text = { [scanner] in printable(scanner.raw(token.start, token.end)) }
        return try IntegerRange.bits(token.integerValue, kind, at: token.start, text: text, input: .json)
    }

    /// An integer written in a string (a map key, or `"123"` for an integer field).
    private mutating func integerInString(_ token: JSONScanner.StringToken, _ kind: FieldKind) throws(CodecFailure) -> UInt64 {
        let text = { [scanner] in "\"" + scanner.printableString(at: token.quote) + "\"" }
        guard !token.hasEscapes, let number = Self.numberInside(scanner.raw(token.start, token.end)) else {
            throw .json(token.quote, .invalidValue(value: text(), kind: kindName(kind)))
        }
        return try IntegerRange.bits(number.integerValue, kind, at: token.quote, text: text, input: .json)
    }

    /// The number filling all of `text`, or nil.
    static func numberInside(_ text: UnsafeRawBufferPointer) -> JSONScanner.NumberToken? {
        var inner = JSONScanner(text)
        guard let token = try? inner.scanNumber(), inner.pos == inner.count else { return nil }
        return token
    }

    /// A float or double field's value: a number, or a string holding one or `"NaN"`,
    /// `"Infinity"`, `"-Infinity"`. A number past the kind's range is an error.
    private mutating func floatingPoint(_ kind: FieldKind) throws(CodecFailure) -> Double {
        let b = scanner.peek()
        let start = scanner.pos
        let value: Double
        if b == UInt8(ascii: "\"") {
            let token = try scanner.scanString()
            let text = scanner.raw(token.start, token.end)
            if let special = Self.nonFinite(text) { return special }
            guard !token.hasEscapes, let number = Self.numberInside(text) else {
                throw .json(start, .invalidValue(value: "\"" + scanner.printableString(at: start) + "\"", kind: kindName(kind)))
            }
            value = number.doubleValue(in: text.baseAddress!.assumingMemoryBound(to: UInt8.self))
        } else {
            guard b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 else {
                throw .json(scanner.pos, .expected("a number"))
            }
            let token = try scanner.scanNumber()
            value = token.doubleValue(in: scanner.bytes)
        }
        if !value.isFinite || (kind == .float && !Float(value).isFinite) {
            let text = b == UInt8(ascii: "\"") ? "\"" + scanner.printableString(at: start) + "\""
                : printable(scanner.raw(start, scanner.pos))
            throw .json(start, .outOfRange(value: text, kind: kindName(kind)))
        }
        return value
    }

    static func nonFinite(_ text: UnsafeRawBufferPointer) -> Double? {
        if text.elementsEqual("NaN".utf8) { return .nan }
        if text.elementsEqual("Infinity".utf8) { return .infinity }
        if text.elementsEqual("-Infinity".utf8) { return -.infinity }
        return nil
    }

    /// An enum field's value: a value name, or a number (any int32: proto3 enums are open).
    private mutating func enumNumber(_ enumType: EnumDescriptor?) throws(CodecFailure) -> Int32 {
        guard let type = enumType else { throw .json(scanner.pos, .unsupported("enum field without its enum type")) }
        let b = scanner.peek()
        let start = scanner.pos
        if b == UInt8(ascii: "\"") {
            let token = try scanner.scanString()
            let found: Int32?
            if token.hasEscapes {
                scratch.removeAll(keepingCapacity: true)
                scanner.appendDecoded(token, to: &scratch)
                found = scratch.withUnsafeBytes { type.number(named: $0) }
            } else {
                found = type.number(named: scanner.raw(token.start, token.end))
            }
            if let found { return found }
            // A number in a string, as protobuf's parsers accept.
            if !token.hasEscapes, let number = Self.numberInside(scanner.raw(token.start, token.end)),
               case .value(let negative, let magnitude) = number.integerValue,
               magnitude <= (negative ? 1 << 31 : UInt64(Int32.max)) {
                return Int32(truncatingIfNeeded: negative ? 0 &- Int64(magnitude) : Int64(magnitude))
            }
            throw .json(start, .unknownEnumValue(value: "\"" + scanner.printableString(at: start) + "\"",
                                                 enumName: type.fullName))
        }
        guard b == UInt8(ascii: "-") || b &- UInt8(ascii: "0") < 10 else {
            throw .json(scanner.pos, .expected("an enum name or number"))
        }
        let token = try scanner.scanNumber()
        let text = { [scanner] in printable(scanner.raw(token.start, token.end)) }
        let bits = try IntegerRange.bits(token.integerValue, .int32, at: start, text: text, input: .json, kindName: "enum")
        return Int32(truncatingIfNeeded: bits)
    }

    /// A bytes value: base64 in either alphabet, padding optional, decoded straight into `out`.
    private mutating func encodeBase64(_ token: JSONScanner.StringToken, _ number: Int32, _ out: inout ProtoWriter,
                                       tagged: Bool, skipDefault: Bool) throws(CodecFailure) {
        let ok: Bool
        if token.hasEscapes {
            scratch.removeAll(keepingCapacity: true)
            scanner.appendDecoded(token, to: &scratch)
            ok = scratch.withUnsafeBytes { Self.appendBase64($0, number, &out, tagged: tagged, skipDefault: skipDefault) }
        } else {
            ok = Self.appendBase64(scanner.raw(token.start, token.end), number, &out, tagged: tagged, skipDefault: skipDefault)
        }
        guard ok else {
            throw .json(token.quote, .invalidBase64(value: "\"" + scanner.printableString(at: token.quote) + "\""))
        }
    }

    /// Tag (when `tagged`), length and the decoded bytes of base64 `text`; false when it is not
    /// base64 (what was appended is then garbage: the whole translation fails).
    static func appendBase64(_ text: UnsafeRawBufferPointer, _ number: Int32, _ out: inout ProtoWriter,
                             tagged: Bool, skipDefault: Bool) -> Bool {
        guard let length = base64DecodedLength(text) else { return false }
        if skipDefault && length == 0 { return true }
        if tagged { out.appendTag(number, .lengthDelimited) }
        out.appendVarint(UInt64(length))
        let mark = out.bytes.count
        if case .failure = Base64.decode(text, into: &out.bytes) { return false }
        return out.bytes.count - mark == length
    }

    /// The number of bytes `text` decodes to, or nil when no base64 text is that long.
    static func base64DecodedLength(_ text: UnsafeRawBufferPointer) -> Int? {
        var n = text.count
        if n > 0 && text[n - 1] == UInt8(ascii: "=") {
            n -= 1
            if n > 0 && text[n - 1] == UInt8(ascii: "=") { n -= 1 }
        }
        switch n % 4 {
        case 0: return n / 4 * 3
        case 2: return n / 4 * 3 + 1
        case 3: return n / 4 * 3 + 2
        default: return nil
        }
    }

    // MARK: Helpers for the well-known types

    /// Field `number` of a well-known type, checked to be of `kind` (a registry built from an odd
    /// descriptor set must not crash the codec).
    func wellKnownField(_ type: MessageDescriptor, _ number: Int32, _ kind: FieldKind) throws(CodecFailure) -> FieldDescriptor {
        guard let field = type.field(number: number), field.kind == kind else {
            throw .json(scanner.pos, .unsupported("\(type.fullName) does not have the standard field \(number)"))
        }
        return field
    }
}

/// A set of small integers (field or oneof indexes): two words inline, more only for messages
/// with over 128 fields.
struct IndexSet {
    private var low: UInt64 = 0
    private var high: UInt64 = 0
    private var rest: [UInt64] = []

    /// Adds `i`; false when it was already there.
    @inline(__always)
    mutating func insert(_ i: Int) -> Bool {
        if i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            if low & bit != 0 { return false }
            low |= bit
            return true
        }
        if i < 128 {
            let bit: UInt64 = 1 << UInt64(i - 64)
            if high & bit != 0 { return false }
            high |= bit
            return true
        }
        let word = (i - 128) >> 6
        if rest.count <= word { rest.append(contentsOf: repeatElement(0, count: word - rest.count + 1)) }
        let bit: UInt64 = 1 << UInt64((i - 128) & 63)
        if rest[word] & bit != 0 { return false }
        rest[word] |= bit
        return true
    }

    func contains(_ i: Int) -> Bool {
        if i < 64 { return low & (1 << UInt64(i)) != 0 }
        if i < 128 { return high & (1 << UInt64(i - 64)) != 0 }
        let word = (i - 128) >> 6
        return word < rest.count && rest[word] & (1 << UInt64((i - 128) & 63)) != 0
    }
}

/// The ranges of the integer kinds, and their wire bits.
enum IntegerRange {
    /// The wire bits of an integer value for `kind`, or the error for a value out of its range.
    static func bits(_ value: JSONScanner.NumberToken.IntegerValue, _ kind: FieldKind, at offset: Int,
                     text: () -> String, input: CodecFailure.Input, kindName name: String? = nil) throws(CodecFailure) -> UInt64 {
        guard case .value(let negative, let magnitude) = value else {
            let shownKind = name ?? kindName(kind)
            if value == .notAnInteger {
                throw CodecFailure(input, at: offset, .notAnInteger(value: text(), kind: shownKind))
            }
            throw CodecFailure(input, at: offset, .outOfRange(value: text(), kind: shownKind))
        }
        func outOfRange() -> CodecFailure { CodecFailure(input, at: offset, .outOfRange(value: text(), kind: name ?? kindName(kind))) }
        switch kind {
        case .int32, .sint32, .sfixed32, .enumeration:
            guard magnitude <= (negative ? 1 << 31 : UInt64(Int32.max)) else { throw outOfRange() }
            let v = Int32(truncatingIfNeeded: negative ? 0 &- Int64(magnitude) : Int64(magnitude))
            switch kind {
            case .sint32: return UInt64(UInt32(bitPattern: (v << 1) ^ (v >> 31)))
            case .sfixed32: return UInt64(UInt32(bitPattern: v))
            default: return UInt64(bitPattern: Int64(v))
            }
        case .int64, .sint64, .sfixed64:
            guard magnitude <= (negative ? 1 << 63 : UInt64(Int64.max)) else { throw outOfRange() }
            let v = negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude)
            return kind == .sint64 ? UInt64(bitPattern: (v << 1) ^ (v >> 63)) : UInt64(bitPattern: v)
        case .uint32, .fixed32:
            guard !negative || magnitude == 0, magnitude <= UInt64(UInt32.max) else { throw outOfRange() }
            return magnitude
        case .uint64, .fixed64:
            guard !negative || magnitude == 0 else { throw outOfRange() }
            return magnitude
        default:
            throw outOfRange()
        }
    }
}

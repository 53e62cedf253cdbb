/// JSON → protobuf for the well-known types whose JSON form is special (proto3 JSON mapping):
/// `Any`, `Timestamp`, `Duration`, `FieldMask`, `Value` and the wrappers (`Struct` and
/// `ListValue` are a map and a repeated field, written by the generic code; `Empty` is `{}`).
extension JSONToProto {
    /// `{"@type": URL, ...fields}`, or `{"@type": URL, "value": <special form>}` for a well-known
    /// type with a special form. `@type` may come anywhere: the object is scanned once for it,
    /// then read again as the named message. `{}` is an empty Any.
    mutating func encodeAny(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        guard scanner.peek() == UInt8(ascii: "{") else { throw .json(scanner.pos, .expected("an object")) }
        let objectStart = scanner.pos
        scanner.pos += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.pos += 1
            return
        }
        var url: JSONScanner.StringToken?
        repeat {
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.unexpected(expecting: "a field name") }
            let keyQuote = scanner.pos
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            if isKey(key, "@type") {
                guard url == nil else { throw CodecFailure.json(keyQuote, .duplicateField).inside("@type") }
                guard scanner.peek() == UInt8(ascii: "\"") else {
                    throw CodecFailure.json(scanner.pos, .expected("a string")).inside("@type")
                }
                url = try scanner.scanString()
            } else {
                try scanner.skipValue(depth: depth)
            }
        } while try scanner.commaOr(UInt8(ascii: "}"))
        let end = scanner.pos
        guard let url else {
            throw .json(objectStart, .any("missing \"@type\" in google.protobuf.Any"))
        }
        let name = scanner.string(url)
        guard let inner = Self.messageType(forTypeURL: name, in: registry) else {
            throw CodecFailure.json(url.quote, .any("unknown type URL \"\(printable(name))\" in google.protobuf.Any"))
                .inside("@type")
        }
        out.appendTag(1, .lengthDelimited)  // type_url
        out.appendVarint(UInt64(url.decodedCount))
        scanner.appendDecoded(url, to: &out.bytes)
        out.appendTag(2, .lengthDelimited)  // value
        let start = out.beginLengthDelimited()
        scanner.pos = objectStart
        if Self.hasSpecialForm(inner) {
            try encodeAnyValueMember(inner, &out)
        } else {
            depth += 1
            defer { depth -= 1 }
            guard depth <= JSONTranscoder.maxDepth else { throw .json(scanner.pos, .tooDeep) }
            try encodeObject(inner, &out, skippingType: true)
        }
        assert(scanner.pos == end)
        out.endLengthDelimited(start)
        if out.bytes.count == start { out.bytes.removeLast(2) }  // an empty value is left out, as protobuf does
    }

    /// The second pass over an Any holding a well-known type: only `@type` and `value`.
    private mutating func encodeAnyValueMember(_ inner: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        let objectStart = scanner.pos
        scanner.pos += 1  // {
        var sawValue = false
        repeat {
            _ = scanner.peek()
            let keyQuote = scanner.pos
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            if isKey(key, "@type") {
                try scanner.skipValue(depth: depth)
            } else if isKey(key, "value") {
                guard !sawValue else { throw CodecFailure.json(keyQuote, .duplicateField).inside("value") }
                sawValue = true
                do throws(CodecFailure) {
                    try encodeMessage(inner, &out)
                } catch {
                    throw error.inside("value")
                }
            } else {
                throw CodecFailure.json(keyQuote, .unknownField(type: "google.protobuf.Any holding \(inner.fullName)"))
                    .inside(scanner.printableString(at: keyQuote))
            }
        } while try scanner.commaOr(UInt8(ascii: "}"))
        guard sawValue else {
            throw .json(objectStart, .any("missing \"value\" in google.protobuf.Any holding \(inner.fullName)"))
        }
    }

    private func isKey(_ key: JSONScanner.StringToken, _ name: StaticString) -> Bool {
        if key.hasEscapes { return scanner.string(key) == name.description }
        return scanner.raw(key.start, key.end).elementsEqual(
            UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// The message an Any's type URL names: the part after the last `/` (or all of it).
    static func messageType(forTypeURL url: String, in registry: DescriptorRegistry) -> MessageDescriptor? {
        if url.contains("/") { return registry.message(forTypeURL: url) }
        return registry.message(named: url)
    }

    /// Well-known types that an Any holds as `"value": <special form>` (`Empty` is not one: its
    /// form is the regular `{}`).
    static func hasSpecialForm(_ type: MessageDescriptor) -> Bool {
        guard let wellKnown = type.wellKnown else { return false }
        return wellKnown != .empty
    }

    /// `"1972-01-01T10:00:20.021Z"`.
    mutating func encodeTimestamp(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        let (parsed, quote) = try withWellKnownString { WellKnownText.parseTimestamp($0) }
        switch parsed {
        case .success(let (seconds, nanos)): Self.writeSecondsAndNanos(seconds, nanos, &out)
        case .failure(let reason):
            throw .json(quote, .invalidWellKnown(type: "Timestamp", value: "\"" + scanner.printableString(at: quote) + "\"",
                                                 reason: reason.text))
        }
    }

    /// `"1.5s"`, `"-0.000000001s"`.
    mutating func encodeDuration(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        let (parsed, quote) = try withWellKnownString { WellKnownText.parseDuration($0) }
        switch parsed {
        case .success(let (seconds, nanos)): Self.writeSecondsAndNanos(seconds, nanos, &out)
        case .failure(let reason):
            throw .json(quote, .invalidWellKnown(type: "Duration", value: "\"" + scanner.printableString(at: quote) + "\"",
                                                 reason: reason.text))
        }
    }

    /// `seconds = 1` (int64) and `nanos = 2` (int32), each left out when 0.
    static func writeSecondsAndNanos(_ seconds: Int64, _ nanos: Int32, _ out: inout ProtoWriter) {
        if seconds != 0 {
            out.appendTag(1, .varint)
            out.appendVarint(UInt64(bitPattern: seconds))
        }
        if nanos != 0 {
            out.appendTag(2, .varint)
            out.appendVarint(UInt64(bitPattern: Int64(nanos)))
        }
    }

    /// `body` over the text of the string value here (decoded into `scratch` when it has escapes),
    /// and where its quote is.
    private mutating func withWellKnownString<R>(_ body: (UnsafeRawBufferPointer) -> R) throws(CodecFailure) -> (R, Int) {
        guard scanner.peek() == UInt8(ascii: "\"") else { throw .json(scanner.pos, .expected("a string")) }
        let token = try scanner.scanString()
        if !token.hasEscapes { return (body(scanner.raw(token.start, token.end)), token.quote) }
        scratch.removeAll(keepingCapacity: true)
        scanner.appendDecoded(token, to: &scratch)
        return (scratch.withUnsafeBytes { body($0) }, token.quote)
    }

    /// `"user.displayName,photo"`: comma-separated paths, lowerCamelCase → snake_case.
    mutating func encodeFieldMask(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        let (badPath, quote) = try withWellKnownString { text -> String? in
            if text.isEmpty { return nil }
            var pathStart = 0
            for i in 0...text.count where i == text.count || text[i] == UInt8(ascii: ",") {
                let path = UnsafeRawBufferPointer(rebasing: text[pathStart..<i])
                out.appendTag(1, .lengthDelimited)
                out.appendVarint(UInt64(WellKnownText.snakeCaseCount(path)))
                guard WellKnownText.appendSnakeCasePath(path, to: &out.bytes) else { return printable(path) }
                pathStart = i + 1
            }
            return nil
        }
        if let badPath {
            throw .json(quote, .invalidWellKnown(type: "FieldMask", value: "\"" + scanner.printableString(at: quote) + "\"",
                                                 reason: "path \"\(badPath)\" has '_' (paths are lowerCamelCase in JSON)"))
        }
    }

    /// Any JSON value as `google.protobuf.Value`.
    mutating func encodeValue(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        let b = scanner.peek()
        switch b {
        case UInt8(ascii: "n"):
            _ = try scanner.literal()
            out.appendTag(1, .varint)  // null_value
            out.appendVarint(0)
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            let value: UInt64 = try scanner.literal() == UInt8(ascii: "t") ? 1 : 0
            out.appendTag(4, .varint)  // bool_value
            out.appendVarint(value)
        case UInt8(ascii: "\""):
            let token = try scanner.scanString()
            out.appendTag(3, .lengthDelimited)  // string_value
            out.appendVarint(UInt64(token.decodedCount))
            scanner.appendDecoded(token, to: &out.bytes)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let token = try scanner.scanNumber()
            let value = token.doubleValue(in: scanner.bytes)
            guard value.isFinite else {
                throw .json(token.start, .outOfRange(value: printable(scanner.raw(token.start, token.end)), kind: "double"))
            }
            out.appendTag(2, .fixed64)  // number_value
            out.appendFixed64(value.bitPattern)
        case UInt8(ascii: "{"):
            try encodeMessageField(try wellKnownField(type, 5, .message), &out)  // struct_value
        case UInt8(ascii: "["):
            try encodeMessageField(try wellKnownField(type, 6, .message), &out)  // list_value
        default:
            throw scanner.unexpected(expecting: "a value")
        }
    }

    /// A wrapper (`google.protobuf.Int32Value`, …): the JSON form of its `value` field.
    mutating func encodeWrapper(_ type: MessageDescriptor, _ out: inout ProtoWriter) throws(CodecFailure) {
        guard let field = type.field(number: 1) else {
            throw .json(scanner.pos, .unsupported("\(type.fullName) does not have the standard field 1"))
        }
        try encodeScalar(field, &out, tagged: true, skipDefault: true)
    }
}

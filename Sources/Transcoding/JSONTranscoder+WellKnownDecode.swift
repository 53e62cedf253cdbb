/// Protobuf → JSON for the well-known types whose JSON form is special (proto3 JSON mapping), as
/// protobuf's `MessageToJson` writes them: Any with `@type`, Timestamp and Duration with 0, 3, 6
/// or 9 fraction digits, FieldMask paths in lowerCamelCase, Struct / Value / ListValue as the JSON
/// they hold, the wrappers as their value. Values that have no JSON form are errors (a Timestamp
/// out of range, a Value holding NaN, an Any whose type the registry does not know).
extension ProtoToJSON {
    mutating func emitWellKnown(_ wellKnown: WellKnownType, _ type: MessageDescriptor,
                                _ segments: Segments) throws(CodecFailure) {
        switch wellKnown {
        case .any: try emitAny(type, segments)
        case .timestamp: try emitTime(type, segments, isTimestamp: true)
        case .duration: try emitTime(type, segments, isTimestamp: false)
        case .fieldMask: try emitFieldMask(type, segments)
        case .structValue:
            let index = try standardField(type, 1, .message, segments)
            let scanBase = try scan(type, segments)
            defer { scans.pop(type.fields.count) }
            try emitMap(type.fields[index], scans[scanBase + index], segments)
        case .listValue:
            let index = try standardField(type, 1, .message, segments)
            let scanBase = try scan(type, segments)
            defer { scans.pop(type.fields.count) }
            try emitRepeated(type.fields[index], scans[scanBase + index], segments)
        case .value: try emitValueWellKnown(type, segments)
        case .empty:
            out.append(UInt8(ascii: "{"))
            var needsComma = false
            try emitFields(type, segments, needsComma: &needsComma)
            out.append(UInt8(ascii: "}"))
        default: try emitWrapper(type, segments)
        }
    }

    /// The index of field `number` of a well-known type, checked to be of `kind`.
    private func standardField(_ type: MessageDescriptor, _ number: Int32, _ kind: FieldKind,
                               _ segments: Segments) throws(CodecFailure) -> Int {
        let index = type.fieldIndex(number: number)
        guard index >= 0, type.fields[index].kind == kind else {
            throw .wire(segments.first.baseAddress.map { offset($0) } ?? 0,
                        .unsupported("\(type.fullName) does not have the standard field \(number)"))
        }
        return index
    }

    /// The last value of field `index` (the scan's notes at `scanBase`), or nil when absent.
    private func lastValue(_ scanBase: Int, _ index: Int, _ segments: Segments) -> Raw? {
        let info = scans[scanBase + index]
        return info.count > 0 ? read(info, segments) : nil
    }

    private func where_(_ segments: Segments) -> Int { segments.first.baseAddress.map { offset($0) } ?? 0 }

    /// `{"@type": URL, ...fields}`, or `"value"` holding a special form; `{}` when empty.
    private mutating func emitAny(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) {
        let urlIndex = try standardField(type, 1, .string, segments)
        let valueIndex = try standardField(type, 2, .bytes, segments)
        let scanBase = try scan(type, segments)
        let url = lastValue(scanBase, urlIndex, segments)?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let value = lastValue(scanBase, valueIndex, segments)?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0)
        scans.pop(type.fields.count)
        if url.isEmpty && value.isEmpty {
            out.append("{}")
            return
        }
        guard !url.isEmpty else { throw .wire(where_(segments), .any("google.protobuf.Any has a value but no type URL")) }
        if let bad = UTF8Validation.firstInvalid(url) {
            throw .wire(offset(url.baseAddress! + bad), .wire("invalid UTF-8 in google.protobuf.Any type URL"))
        }
        let name = String(decoding: url, as: UTF8.self)
        guard let inner = JSONToProto.messageType(forTypeURL: name, in: registry) else {
            throw .wire(offset(url.baseAddress!), .any("unknown type URL \"\(printable(name))\" in google.protobuf.Any"))
        }
        out.append("{\"@type\":")
        _ = out.appendString(url)
        if JSONToProto.hasSpecialForm(inner) {
            out.append(",\"value\":")
            do throws(CodecFailure) {
                try emitMessage(inner, Segments(value))
            } catch {
                throw error.inside("value")
            }
        } else {
            depth += 1
            defer { depth -= 1 }
            guard depth <= JSONTranscoder.maxDepth else { throw .wire(where_(segments), .tooDeep) }
            var needsComma = true
            try emitFields(inner, Segments(value), needsComma: &needsComma)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Timestamp or Duration from `seconds = 1` and `nanos = 2`.
    private mutating func emitTime(_ type: MessageDescriptor, _ segments: Segments, isTimestamp: Bool) throws(CodecFailure) {
        let secondsIndex = try standardField(type, 1, .int64, segments)
        let nanosIndex = try standardField(type, 2, .int32, segments)
        let scanBase = try scan(type, segments)
        let seconds = Int64(bitPattern: lastValue(scanBase, secondsIndex, segments)?.bits ?? 0)
        let nanos = Int32(truncatingIfNeeded: lastValue(scanBase, nanosIndex, segments)?.bits ?? 0)
        scans.pop(type.fields.count)
        let problem = isTimestamp
            ? WellKnownText.appendTimestamp(seconds: seconds, nanos: nanos, to: &out)
            : WellKnownText.appendDuration(seconds: seconds, nanos: nanos, to: &out)
        if let problem {
            throw .wire(where_(segments), .wire((isTimestamp ? "google.protobuf.Timestamp " : "google.protobuf.Duration ")
                                                + problem.text))
        }
    }

    /// `"a.fooBar,b"`: the paths in lowerCamelCase, comma-separated.
    private mutating func emitFieldMask(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) {
        let index = try standardField(type, 1, .string, segments)
        let scanBase = try scan(type, segments)
        let info = scans[scanBase + index]
        scans.pop(type.fields.count)
        var text: [UInt8] = []
        if info.count > 0 {
            var walk = OccurrenceWalk(info, number: 1, wireType: 2, acceptsPacked: false, segments: segments, base: base)
            while let occurrence = try walk.next() {
                var cursor = WireCursor(segments[occurrence.segment], base: base)
                cursor.p = occurrence.value
                let path = try cursor.lengthDelimited()
                if let bad = UTF8Validation.firstInvalid(path) {
                    throw .wire(offset(path.baseAddress! + bad), .wire("invalid UTF-8 in google.protobuf.FieldMask path"))
                }
                if !text.isEmpty || occurrence.tag != info.first { text.append(UInt8(ascii: ",")) }
                if let reason = WellKnownText.appendCamelCasePath(path, to: &text) {
                    throw .wire(offset(occurrence.tag), .wire("google.protobuf.FieldMask " + reason.text + ", which JSON cannot hold"))
                }
            }
        }
        _ = text.withUnsafeBytes { out.appendString($0) }
    }

    /// The JSON value a `google.protobuf.Value` holds (`null` when none).
    private mutating func emitValueWellKnown(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) {
        let scanBase = try scan(type, segments)
        defer { scans.pop(type.fields.count) }
        var winner = -1
        for i in 0..<type.fields.count where scans[scanBase + i].count > 0 && type.fields[i].number <= 6 {
            if winner < 0 || scans[scanBase + i].isLater(than: scans[scanBase + winner]) { winner = i }
        }
        guard winner >= 0 else {
            out.append("null")
            return
        }
        let field = type.fields[winner]
        let info = scans[scanBase + winner]
        switch (field.number, field.kind) {
        case (1, .enumeration):
            out.append("null")
        case (2, .double):
            let value = Double(bitPattern: read(info, segments).bits)
            guard value.isFinite else {
                throw .wire(offset(info.last!), .wire("google.protobuf.Value number_value \(value) cannot be written as a JSON number"))
            }
            out.appendDouble(value)
        case (3, .string), (4, .bool):
            try emitScalar(field, read(info, segments))
        case (5, .message), (6, .message):
            var cutoff: FieldScan?
            if let oneof = field.oneofIndex, case .current(let c) = oneofState(type, scanBase, winner, oneof) { cutoff = c }
            try emitMerged(field, info, segments, cutoff: cutoff)
        default:
            throw .wire(offset(info.last!), .unsupported("google.protobuf.Value does not have the standard fields"))
        }
    }

    /// A wrapper: its `value` field's JSON (the default when absent).
    private mutating func emitWrapper(_ type: MessageDescriptor, _ segments: Segments) throws(CodecFailure) {
        let index = type.fieldIndex(number: 1)
        guard index >= 0 else {
            throw .wire(where_(segments), .unsupported("\(type.fullName) does not have the standard field 1"))
        }
        let field = type.fields[index]
        let scanBase = try scan(type, segments)
        let value = lastValue(scanBase, index, segments)
        scans.pop(type.fields.count)
        if let value { try emitScalar(field, value) } else { emitDefault(field) }
    }
}

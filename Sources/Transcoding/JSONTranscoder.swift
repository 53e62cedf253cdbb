/// The proto3 JSON codec: translates between protobuf wire bytes and the proto3 JSON mapping
/// (https://protobuf.dev/programming-guides/json/) for the message types of a `DescriptorRegistry`,
/// directly — no message tree in between, no Foundation. JSON is read by a scanner over the
/// borrowed input bytes (field names are looked up without making strings); protobuf is read in
/// place, and written with `ProtoWriter`.
///
/// A value: the registry is immutable and the codec keeps no state between calls, so one
/// transcoder may be used from any number of threads at once, without locks. Each call allocates
/// only its output and, where a message needs it, small scratch arrays.
///
/// Errors name the byte offset and the field path: `invalid JSON at byte 41: expected a string
/// for field "user.id"`, `invalid protobuf message at byte 7: invalid UTF-8 in string field
/// "title"`. On error nothing is appended to the output (it is truncated back).
public struct JSONTranscoder: Sendable {
    public let registry: DescriptorRegistry
    public let options: JSONOutputOptions

    /// The deepest nesting of messages accepted in either direction (as protobuf's own parsers).
    public static let maxDepth = 100

    public init(registry: DescriptorRegistry, options: JSONOutputOptions = .init()) {
        self.registry = registry
        self.options = options
    }

    /// Translates one JSON value — an object, or the special form of a well-known type, with
    /// whitespace around it allowed — to `type`'s wire format, appended to `out`. Both JSON and
    /// proto field names are accepted; `null` leaves a field unset.
    public func encode(json: UnsafeRawBufferPointer, as type: MessageDescriptor,
                       into out: inout ProtoWriter) throws(TranscodeError) {
        let mark = out.bytes.count
        var encoder = JSONToProto(json: json, registry: registry)
        do {
            try encoder.encodeDocument(type, into: &out)
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error.transcodeError
        }
    }

    /// Translates one JSON value to one field of a message: its tag and payload (for a repeated
    /// field, a JSON array gives every element; for a map, an object every entry), appended to
    /// `out`. `null` appends nothing. Used for `body: "field"` of a `google.api.http` rule.
    public func encodeField(json: UnsafeRawBufferPointer, field: FieldDescriptor,
                            into out: inout ProtoWriter) throws(TranscodeError) {
        let mark = out.bytes.count
        var encoder = JSONToProto(json: json, registry: registry)
        do {
            try encoder.encodeFieldDocument(field, into: &out)
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error.transcodeError
        }
    }

    /// Translates a message in wire format to compact JSON appended to `out`, as protobuf's
    /// `MessageToJson` would print it under `options`. Unknown fields are skipped; a non-repeated
    /// message field that occurs several times is merged, a scalar one takes its last value.
    public func decode(proto: UnsafeRawBufferPointer, as type: MessageDescriptor,
                       into out: inout [UInt8]) throws(TranscodeError) {
        try ProtoToJSON.translate(proto, registry, options, into: &out) { (d: inout ProtoToJSON) throws(CodecFailure) in
            try d.emitDocument(type)
        }
    }

    /// Writes only the JSON value of `field` of a message in wire format (for `response_body:
    /// "field"`): its value when set; when unset `[]` for a repeated field, `{}` for a map,
    /// `null` for a message and the default for a scalar.
    public func decodeField(proto: UnsafeRawBufferPointer, as type: MessageDescriptor, field: FieldDescriptor,
                            into out: inout [UInt8]) throws(TranscodeError) {
        try ProtoToJSON.translate(proto, registry, options, into: &out) { (d: inout ProtoToJSON) throws(CodecFailure) in
            try d.emitFieldDocument(type, field)
        }
    }

    /// Appends a text value — a URL path variable or a query parameter, already percent-decoded,
    /// not JSON — as the value of the field at the end of `path` (`book.author.id` is `[book,
    /// author, id]`), wrapped in the enclosing message fields. Protobuf merges repeated
    /// occurrences of a message field, so a gateway appends one of these per parameter after the
    /// body's bytes. A repeated leaf gets one element per call; a map leaf one entry, whose key's
    /// text is `mapKey`.
    public func appendFieldValue(text: UnsafeRawBufferPointer, path: [FieldDescriptor], mapKey: UnsafeRawBufferPointer? = nil,
                                 into out: inout ProtoWriter) throws(TranscodeError) {
        let mark = out.bytes.count
        do {
            try FieldText.append(text: text, path: path, index: 0, mapKey: mapKey, registry: registry, into: &out)
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error.transcodeError
        }
    }
}

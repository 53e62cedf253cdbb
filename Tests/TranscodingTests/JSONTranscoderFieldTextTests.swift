// URL path variables and query parameters as field values (JSONTranscoder.appendFieldValue): each
// scalar kind from text, enums, bytes, wrappers, Timestamp / Duration / FieldMask, nested paths
// inside their messages, repeated leaves, and the exact error texts.
import Testing
import Transcoding

@Suite struct JSONTranscoderFieldTextTests {
    /// The fields named by a dotted path of proto names from `type`.
    static func path(_ type: String, _ dotted: String) -> [FieldDescriptor] {
        var message = Codec.type(type)
        var fields: [FieldDescriptor] = []
        for name in dotted.split(separator: ".") {
            let field = message.field(named: String(name))!
            fields.append(field)
            if let next = field.messageType { message = next }
        }
        return fields
    }

    static func append(_ type: String, _ dotted: String, _ text: String) -> String {
        var writer = ProtoWriter()
        do throws(TranscodeError) {
            try withBytes(text) { (raw) throws(TranscodeError) in
                try JSONTranscoder(registry: Codec.registry).appendFieldValue(text: raw, path: path(type, dotted), into: &writer)
            }
            return Codec.hex(writer.bytes)
        } catch {
            return "ERROR " + error.message
        }
    }

    static let cases: [(String, String, String, String)] = [
        ("Book", "count", "10", "18 0a"),
        ("Book", "count", "0", "18 00"),
        ("Book", "count", "-1", "18 ff ff ff ff ff ff ff ff ff 01"),
        ("Book", "count", "1e2", "18 64"),
        ("Book", "id", "a b/é", "0a 06 61 20 62 2f c3 a9"),
        ("Book", "id", "", "0a 00"),
        ("Book", "user.id", "u1", "22 04 0a 02 75 31"),
        ("Book", "user.display_name", "D", "22 03 12 01 44"),
        ("Book", "tags", "a", "2a 01 61"),
        ("Book", "color", "RED", "30 01"),
        ("Book", "color", "2", "30 02"),
        ("Book", "color", "-1", "30 ff ff ff ff ff ff ff ff ff 01"),
        ("Scalars", "bool_value", "true", "68 01"),
        ("Scalars", "bool_value", "false", "68 00"),
        ("Scalars", "double_value", "1.5", "09 00 00 00 00 00 00 f8 3f"),
        ("Scalars", "double_value", "NaN", "09 00 00 00 00 00 00 f8 7f"),
        ("Scalars", "double_value", "-Infinity", "09 00 00 00 00 00 00 f0 ff"),
        ("Scalars", "float_value", "0.1", "15 cd cc cc 3d"),
        ("Scalars", "float_value", "Infinity", "15 00 00 80 7f"),
        ("Scalars", "int64_value", "-9223372036854775808", "20 80 80 80 80 80 80 80 80 80 01"),
        ("Scalars", "uint64_value", "18446744073709551615", "30 ff ff ff ff ff ff ff ff ff 01"),
        ("Scalars", "uint32_value", "4294967295", "28 ff ff ff ff 0f"),
        ("Scalars", "sint32_value", "-1", "38 01"),
        ("Scalars", "sint64_value", "-2", "40 03"),
        ("Scalars", "fixed32_value", "1", "4d 01 00 00 00"),
        ("Scalars", "fixed64_value", "1", "51 01 00 00 00 00 00 00 00"),
        ("Scalars", "sfixed32_value", "-1", "5d ff ff ff ff"),
        ("Scalars", "sfixed64_value", "-1", "61 ff ff ff ff ff ff ff ff"),
        ("Scalars", "bytes_value", "AQID", "7a 03 01 02 03"),
        ("Scalars", "bytes_value", "-_8", "7a 02 fb ff"),
        ("Scalars", "bytes_value", "+/8=", "7a 02 fb ff"),
        ("Scalars", "aliased", "ALSO_FIRST", "88 01 01"),
        ("Repeated", "int32_values", "7", "18 07"),
        ("Repeated", "colors", "BLUE", "80 01 03"),
        ("Optionals", "int32_value", "0", "18 00"),
        ("WellKnown", "timestamp", "1970-01-01T00:00:01Z", "12 02 08 01"),
        ("WellKnown", "timestamp", "1970-01-01T01:00:00+01:00", "12 00"),
        ("WellKnown", "duration", "1.5s", "1a 08 08 01 10 80 ca b5 ee 01"),
        ("WellKnown", "field_mask", "a.bC,d", "22 0a 0a 05 61 2e 62 5f 63 0a 01 64"),
        ("WellKnown", "field_mask", "", "22 00"),
        ("WellKnown", "int32_wrapper", "5", "72 02 08 05"),
        ("WellKnown", "string_wrapper", "", "8a 01 02 0a 00"),
        ("WellKnown", "bool_wrapper", "true", "82 01 02 08 01"),
        ("WellKnown", "int64_wrappers", "-1", "c2 01 0b 08 ff ff ff ff ff ff ff ff ff 01"),
        ("Everything", "book.user.id", "x", "4a 05 22 03 0a 01 78"),
        ("Everything", "high_number", "h", "c2 3e 01 68"),
        // Errors name the parameter's path in proto names.
        ("Book", "count", "abc", #"ERROR invalid value "abc" for int32 field "count""#),
        ("Book", "count", "", #"ERROR invalid value "" for int32 field "count""#),
        ("Book", "count", "3000000000", #"ERROR value "3000000000" is out of range for int32 field "count""#),
        ("Book", "count", "1.5", #"ERROR value "1.5" is not an integer for int32 field "count""#),
        ("Book", "color", "PURPLE", #"ERROR unknown value "PURPLE" for enum trestle.test.v1.Color of field "color""#),
        ("Book", "user.id", "\u{1}", "0a"),
        ("Book", "labels", "k", #"ERROR a URL parameter sets a map field one entry at a time: "name[key]=value" in field "labels""#),
        ("Book", "user", "u", #"ERROR a URL parameter cannot set a message field in field "user""#),
        ("Scalars", "bool_value", "yes", #"ERROR invalid value "yes" for bool field "bool_value""#),
        ("Scalars", "bool_value", "1", #"ERROR invalid value "1" for bool field "bool_value""#),
        ("Scalars", "uint32_value", "-1", #"ERROR value "-1" is out of range for uint32 field "uint32_value""#),
        ("Scalars", "float_value", "1e39", #"ERROR value "1e39" is out of range for float field "float_value""#),
        ("Scalars", "double_value", "nan", #"ERROR invalid value "nan" for double field "double_value""#),
        ("Scalars", "bytes_value", "A", #"ERROR invalid value "A" for bytes field "bytes_value""#),
        ("WellKnown", "timestamp", "yesterday", #"ERROR invalid Timestamp "yesterday" for field "timestamp": expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"#),
        ("WellKnown", "duration", "5m", #"ERROR invalid Duration "5m" for field "duration": expected a final 's'"#),
        ("WellKnown", "field_mask", "a_b", #"ERROR invalid FieldMask "a_b" for field "field_mask": path "a_b" has '_' (paths are lowerCamelCase)"#),
        ("WellKnown", "int32_wrapper", "x", #"ERROR invalid value "x" for int32 field "int32_wrapper""#),
        ("WellKnown", "struct", "x", #"ERROR a URL parameter cannot set a google.protobuf.Struct field in field "struct""#),
        ("Repeated", "users.id", "x", #"ERROR a URL parameter cannot set a field inside a repeated or non-message field in field "users""#),
    ]

    @Test(arguments: cases)
    func fieldValue(_ type: String, _ path: String, _ text: String, _ expected: String) {
        let result = Self.append(type, path, text)
        if expected == "0a" {  // a control character is a valid string value
            #expect(result == "22 03 0a 01 01")
        } else {
            #expect(result == expected, "\(path)=\(text)")
        }
    }

    @Test func invalidUTF8IsAnError() {
        var writer = ProtoWriter()
        let error = [UInt8]([0x61, 0xFF]).withUnsafeBytes { raw -> TranscodeError? in
            do throws(TranscodeError) {
                try JSONTranscoder(registry: Codec.registry).appendFieldValue(text: raw, path: Self.path("Book", "id"), into: &writer)
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.message == #"invalid value "a\#u{FFFD}" for string field "id""#)
        #expect(error?.fieldPath == "id")
        #expect(writer.bytes.isEmpty)
    }

    @Test func parametersMergeAfterTheBody() throws {
        // The body, then one fragment per parameter: the message they make together.
        var writer = ProtoWriter()
        let codec = JSONTranscoder(registry: Codec.registry)
        try withBytes(#"{"title": "T", "user": {"id": "body"}}"#) { (raw) throws(TranscodeError) in
            try codec.encode(json: raw, as: Codec.type("Book"), into: &writer)
        }
        for (path, value) in [("user.display_name", "D"), ("user.id", "param"), ("tags", "x"), ("tags", "y")] {
            try withBytes(value) { (raw) throws(TranscodeError) in
                try codec.appendFieldValue(text: raw, path: Self.path("Book", path), into: &writer)
            }
        }
        #expect(Codec.decode(writer.bytes, as: Codec.type("Book"))
            == #"{"title":"T","user":{"id":"param","displayName":"D"},"tags":["x","y"]}"#)
    }

    /// `name[key]=value` entries of maps (grpc-gateway's query syntax), as the JSON the message
    /// they make decodes to: keys of every kind in their text forms, values as any leaf's.
    static let mapEntries: [(field: String, key: String, value: String, json: String)] = [
        ("string_keys", "env", "prod", #"{"stringKeys":{"env":"prod"}}"#),
        ("string_keys", "", "empty key", #"{"stringKeys":{"":"empty key"}}"#),
        ("int32_keys", "-7", "x", #"{"int32Keys":{"-7":"x"}}"#),
        ("uint64_keys", "18446744073709551615", "x", #"{"uint64Keys":{"18446744073709551615":"x"}}"#),
        ("sint64_keys", "-3", "x", #"{"sint64Keys":{"-3":"x"}}"#),
        ("bool_keys", "true", "x", #"{"boolKeys":{"true":"x"}}"#),
        ("double_values", "pi", "3.25", #"{"doubleValues":{"pi":3.25}}"#),
        ("color_values", "c", "GREEN", #"{"colorValues":{"c":"GREEN"}}"#),
        ("bytes_values", "b", "AAE=", #"{"bytesValues":{"b":"AAE="}}"#),
        ("timestamp_values", "1", "2024-01-02T03:04:05Z", #"{"timestampValues":{"1":"2024-01-02T03:04:05Z"}}"#),
        ("wrapper_values", "w", "5", #"{"wrapperValues":{"w":5}}"#),
        ("int32_keys", "x", "v", #"ERROR invalid value "x" for int32 field "int32_keys""#),
        ("bool_keys", "1", "v", #"ERROR invalid value "1" for bool field "bool_keys""#),
        ("uint32_values", "k", "-1", #"ERROR value "-1" is out of range for uint32 field "uint32_values""#),
        ("user_values", "k", "v", #"ERROR a URL parameter cannot set a message field in field "user_values""#),
    ]

    @Test(arguments: mapEntries)
    func mapEntry(field: String, key: String, value: String, json: String) {
        var writer = ProtoWriter()
        let result: String
        do throws(TranscodeError) {
            try withBytes(value) { (raw) throws(TranscodeError) in
                try withBytes(key) { (k) throws(TranscodeError) in
                    try JSONTranscoder(registry: Codec.registry).appendFieldValue(
                        text: raw, path: Self.path("Maps", field), mapKey: k, into: &writer)
                }
            }
            result = Codec.decode(writer.bytes, as: Codec.type("Maps"))
        } catch {
            result = "ERROR " + error.message
            #expect(writer.bytes.isEmpty)
        }
        #expect(result == json)
    }

    @Test func twoEntriesMakeOneMapAndAMapNeedsAKey() throws {
        var writer = ProtoWriter()
        let codec = JSONTranscoder(registry: Codec.registry)
        for (key, value) in [("a", "1"), ("b", "2")] {
            try withBytes(value) { (raw) throws(TranscodeError) in
                try withBytes(key) { (k) throws(TranscodeError) in
                    try codec.appendFieldValue(text: raw, path: Self.path("Maps", "string_keys"), mapKey: k, into: &writer)
                }
            }
        }
        #expect(Codec.decode(writer.bytes, as: Codec.type("Maps")) == #"{"stringKeys":{"a":"1","b":"2"}}"#)
        #expect(Self.append("Maps", "string_keys", "x")
            == #"ERROR a URL parameter sets a map field one entry at a time: "name[key]=value" in field "string_keys""#)
    }
}

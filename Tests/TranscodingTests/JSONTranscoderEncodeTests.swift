// JSON → protobuf (JSONTranscoder.encode): every scalar kind and its limits, enums, maps of each
// key kind, repeated fields, oneofs, nested messages, and the exact error texts. Expected bytes
// were checked against protobuf's own json_format.Parse + SerializeToString.
import Testing
import Transcoding

@Suite struct JSONTranscoderEncodeTests {
    static let scalars: [(String, String)] = [
        ("{\"int32Value\": 150}", "18 96 01"),
        ("{\"int32_value\": 150}", "18 96 01"),
        ("{\"int32Value\": \"150\"}", "18 96 01"),
        ("{\"int32Value\": 1e2}", "18 64"),
        ("{\"int32Value\": 1.5e1}", "18 0f"),
        ("{\"int32Value\": \"1E2\"}", "18 64"),
        ("{\"int32Value\": -1}", "18 ff ff ff ff ff ff ff ff ff 01"),
        ("{\"int32Value\": 2147483647}", "18 ff ff ff ff 07"),
        ("{\"int32Value\": -2147483648}", "18 80 80 80 80 f8 ff ff ff ff 01"),
        ("{\"int32Value\": 0}", ""),
        ("{\"int32Value\": -0}", ""),
        ("{\"uint32Value\": 4294967295}", "28 ff ff ff ff 0f"),
        ("{\"int64Value\": \"9223372036854775807\"}", "20 ff ff ff ff ff ff ff ff 7f"),
        ("{\"int64Value\": \"-9223372036854775808\"}", "20 80 80 80 80 80 80 80 80 80 01"),
        ("{\"int64Value\": -9223372036854775808}", "20 80 80 80 80 80 80 80 80 80 01"),
        ("{\"uint64Value\": \"18446744073709551615\"}", "30 ff ff ff ff ff ff ff ff ff 01"),
        ("{\"sint32Value\": -1}", "38 01"),
        ("{\"sint32Value\": -2147483648}", "38 ff ff ff ff 0f"),
        ("{\"sint64Value\": \"-2\"}", "40 03"),
        ("{\"sint64Value\": \"-9223372036854775808\"}", "40 ff ff ff ff ff ff ff ff ff 01"),
        ("{\"fixed32Value\": 4294967295}", "4d ff ff ff ff"),
        ("{\"fixed64Value\": \"18446744073709551615\"}", "51 ff ff ff ff ff ff ff ff"),
        ("{\"sfixed32Value\": -1}", "5d ff ff ff ff"),
        ("{\"sfixed64Value\": \"-9223372036854775808\"}", "61 00 00 00 00 00 00 00 80"),
        ("{\"boolValue\": true}", "68 01"),
        ("{\"boolValue\": false}", ""),
        ("{\"stringValue\": \"hi\"}", "72 02 68 69"),
        ("{\"stringValue\": \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"}", "72 0a c3 a9 f0 9f 98 80 0a 22 5c 2f"),
        ("{\"stringValue\": \"é😀\"}", "72 06 c3 a9 f0 9f 98 80"),
        ("{\"stringValue\": \"\"}", ""),
        ("{\"bytesValue\": \"AQID\"}", "7a 03 01 02 03"),
        ("{\"bytesValue\": \"-_8\"}", "7a 02 fb ff"),
        ("{\"bytesValue\": \"+/8=\"}", "7a 02 fb ff"),
        ("{\"bytesValue\": \"AQ\"}", "7a 01 01"),
        ("{\"bytesValue\": \"\"}", ""),
        ("{\"color\": \"BLUE\"}", "80 01 03"),
        ("{\"color\": 2}", "80 01 02"),
        ("{\"color\": 7}", "80 01 07"),
        ("{\"color\": \"2\"}", "80 01 02"),
        ("{\"color\": \"INFRARED\"}", "80 01 ff ff ff ff ff ff ff ff ff 01"),
        ("{\"color\": \"COLOR_UNSPECIFIED\"}", ""),
        ("{\"aliased\": \"ALSO_FIRST\"}", "88 01 01"),
        ("{\"doubleValue\": 0.5}", "09 00 00 00 00 00 00 e0 3f"),
        ("{\"doubleValue\": \"NaN\"}", "09 00 00 00 00 00 00 f8 7f"),
        ("{\"doubleValue\": \"Infinity\"}", "09 00 00 00 00 00 00 f0 7f"),
        ("{\"doubleValue\": \"-Infinity\"}", "09 00 00 00 00 00 00 f0 ff"),
        ("{\"doubleValue\": -0.0}", "09 00 00 00 00 00 00 00 80"),
        ("{\"doubleValue\": 1.7976931348623157e308}", "09 ff ff ff ff ff ff ef 7f"),
        ("{\"doubleValue\": 5e-324}", "09 01 00 00 00 00 00 00 00"),
        ("{\"doubleValue\": 0.30000000000000004}", "09 34 33 33 33 33 33 d3 3f"),
        ("{\"doubleValue\": 123456789012345678901234567890}", "09 3e 37 6c ff 90 ee f8 45"),
        ("{\"doubleValue\": \"1e10\"}", "09 00 00 00 20 5f a0 02 42"),
        ("{\"doubleValue\": 2.2250738585072011e-308}", "09 ff ff ff ff ff ff 0f 00"),
        ("{\"floatValue\": 0.1}", "15 cd cc cc 3d"),
        ("{\"floatValue\": \"1.5\"}", "15 00 00 c0 3f"),
        ("{\"floatValue\": 3.4028234663852886e38}", "15 ff ff 7f 7f"),
        ("{\"floatValue\": 1e-45}", "15 01 00 00 00"),
        ("{\"floatValue\": -1e-50}", "15 00 00 00 80"),
        (" \n{ \"int32Value\" : 1 , \"boolValue\":true} \t", "18 01 68 01"),
        // Exact integers: protobuf's Python parser goes through a double here and rejects it.
        ("{\"uint64Value\": 1.8446744073709551615e19}", "30 ff ff ff ff ff ff ff ff ff 01"),
        ("{\"int64Value\": \"9007199254740993\"}", "20 81 80 80 80 80 80 80 10"),
        ("{\"int32Value\": 100e-2}", "18 01"),
        ("{\"int32Value\": 1000000000000000000000e-12}", "18 80 94 eb dc 03"),
    ]

    @Test(arguments: scalars)
    func scalar(_ json: String, _ hex: String) {
        #expect(Codec.encode(json, as: "Scalars") == hex, "\(json)")
    }

    static let errors: [(String, String, String)] = [
        // Integer limits.
        ("Scalars", #"{"int32Value": 3000000000}"#, #"invalid JSON at byte 15: value 3000000000 is out of range for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": 2147483648}"#, #"invalid JSON at byte 15: value 2147483648 is out of range for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": -2147483649}"#, #"invalid JSON at byte 15: value -2147483649 is out of range for int32 field "int32Value""#),
        ("Scalars", #"{"uint32Value": -1}"#, #"invalid JSON at byte 16: value -1 is out of range for uint32 field "uint32Value""#),
        ("Scalars", #"{"uint32Value": 4294967296}"#, #"invalid JSON at byte 16: value 4294967296 is out of range for uint32 field "uint32Value""#),
        ("Scalars", #"{"fixed32Value": 4294967296}"#, #"invalid JSON at byte 17: value 4294967296 is out of range for fixed32 field "fixed32Value""#),
        ("Scalars", #"{"sint32Value": "2147483648"}"#, #"invalid JSON at byte 16: value "2147483648" is out of range for sint32 field "sint32Value""#),
        ("Scalars", #"{"int64Value": "9223372036854775808"}"#, #"invalid JSON at byte 15: value "9223372036854775808" is out of range for int64 field "int64Value""#),
        ("Scalars", #"{"int64Value": "-9223372036854775809"}"#, #"invalid JSON at byte 15: value "-9223372036854775809" is out of range for int64 field "int64Value""#),
        ("Scalars", #"{"uint64Value": "18446744073709551616"}"#, #"invalid JSON at byte 16: value "18446744073709551616" is out of range for uint64 field "uint64Value""#),
        ("Scalars", #"{"uint64Value": "-1"}"#, #"invalid JSON at byte 16: value "-1" is out of range for uint64 field "uint64Value""#),
        ("Scalars", #"{"int64Value": 1e19}"#, #"invalid JSON at byte 15: value 1e19 is out of range for int64 field "int64Value""#),
        ("Scalars", #"{"int32Value": 1.5}"#, #"invalid JSON at byte 15: value 1.5 is not an integer for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": "1.5"}"#, #"invalid JSON at byte 15: value "1.5" is not an integer for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": "abc"}"#, #"invalid JSON at byte 15: invalid value "abc" for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": " 1"}"#, #"invalid JSON at byte 15: invalid value " 1" for int32 field "int32Value""#),
        ("Scalars", #"{"int32Value": true}"#, #"invalid JSON at byte 15: expected a number for field "int32Value""#),
        ("Scalars", #"{"int32Value": [1]}"#, #"invalid JSON at byte 15: expected a number for field "int32Value""#),
        // Floating point.
        ("Scalars", #"{"floatValue": 3.5e38}"#, #"invalid JSON at byte 15: value 3.5e38 is out of range for float field "floatValue""#),
        ("Scalars", #"{"floatValue": "-1e39"}"#, #"invalid JSON at byte 15: value "-1e39" is out of range for float field "floatValue""#),
        ("Scalars", #"{"doubleValue": 1e400}"#, #"invalid JSON at byte 16: value 1e400 is out of range for double field "doubleValue""#),
        ("Scalars", #"{"doubleValue": "nan"}"#, #"invalid JSON at byte 16: invalid value "nan" for double field "doubleValue""#),
        ("Scalars", #"{"doubleValue": "inf"}"#, #"invalid JSON at byte 16: invalid value "inf" for double field "doubleValue""#),
        ("Scalars", #"{"doubleValue": NaN}"#, #"invalid JSON at byte 16: expected a number for field "doubleValue""#),
        // Other kinds.
        ("Scalars", #"{"boolValue": "true"}"#, #"invalid JSON at byte 14: expected true or false for field "boolValue""#),
        ("Scalars", #"{"boolValue": 1}"#, #"invalid JSON at byte 14: expected true or false for field "boolValue""#),
        ("Scalars", #"{"stringValue": 1}"#, #"invalid JSON at byte 16: expected a string for field "stringValue""#),
        ("Scalars", #"{"bytesValue": "A"}"#, #"invalid JSON at byte 15: invalid base64 "A" for bytes field "bytesValue""#),
        ("Scalars", #"{"bytesValue": "AQ$="}"#, #"invalid JSON at byte 15: invalid base64 "AQ$=" for bytes field "bytesValue""#),
        ("Scalars", #"{"color": "PURPLE"}"#, #"invalid JSON at byte 10: unknown value "PURPLE" for enum trestle.test.v1.Color of field "color""#),
        ("Scalars", #"{"color": 2147483648}"#, #"invalid JSON at byte 10: value 2147483648 is out of range for enum field "color""#),
        ("Scalars", #"{"color": true}"#, #"invalid JSON at byte 10: expected an enum name or number for field "color""#),
        // Fields.
        ("Book", #"{"foo": 1}"#, #"invalid JSON at byte 1: unknown field "foo" in trestle.test.v1.Book"#),
        ("Book", #"{"user": {"id": "u", "nick": 1}}"#, #"invalid JSON at byte 21: unknown field "user.nick" in trestle.test.v1.User"#),
        ("Book", #"{"user": {"id": 5}}"#, #"invalid JSON at byte 16: expected a string for field "user.id""#),
        ("Book", #"{"count": 3000000000}"#, #"invalid JSON at byte 10: value 3000000000 is out of range for int32 field "count""#),
        ("Book", #"{"id": "a", "id": "b"}"#, #"invalid JSON at byte 12: duplicate field "id""#),
        ("User", #"{"displayName": "a", "display_name": "b"}"#, #"invalid JSON at byte 21: duplicate field "display_name""#),
        ("Book", #"{"tags": "a"}"#, #"invalid JSON at byte 9: expected an array for field "tags""#),
        ("Book", #"{"tags": ["a", 1]}"#, #"invalid JSON at byte 15: expected a string for field "tags[1]""#),
        ("Book", #"{"tags": [null]}"#, #"invalid JSON at byte 10: null is not allowed as an element of repeated field "tags[0]""#),
        ("Book", #"{"user": []}"#, #"invalid JSON at byte 9: expected an object for field "user""#),
        ("Book", #"{"labels": []}"#, #"invalid JSON at byte 11: expected an object for field "labels""#),
        ("Book", #"{"labels": {"k": 1}}"#, #"invalid JSON at byte 17: expected a string for field "labels["k"]""#),
        ("Book", #"{"labels": {"k": null}}"#, #"invalid JSON at byte 17: null is not allowed as a map value in field "labels["k"]""#),
        ("Book", #"{"labels": {"k": "a", "k": "b"}}"#, #"invalid JSON at byte 22: duplicate map key "k" in field "labels["k"]""#),
        ("Maps", #"{"int32Keys": {"1": "a", "1.0": "b"}}"#, #"invalid JSON at byte 25: duplicate map key "1.0" in field "int32Keys["1.0"]""#),
        ("Maps", #"{"boolKeys": {"yes": "a"}}"#, #"invalid JSON at byte 14: invalid value "yes" for bool map key field "boolKeys["yes"]""#),
        ("Maps", #"{"int32Keys": {"x": "a"}}"#, #"invalid JSON at byte 15: invalid value "x" for int32 field "int32Keys["x"]""#),
        ("Maps", #"{"uint32Keys": {"-1": "a"}}"#, #"invalid JSON at byte 16: value "-1" is out of range for uint32 field "uint32Keys["-1"]""#),
        ("Oneofs", #"{"name": "a", "number": 1}"#, #"invalid JSON at byte 14: field "number" and field "name" are both set in oneof "kind""#),
        ("Oneofs", #"{"user": {}, "color": "RED"}"#, #"invalid JSON at byte 13: field "color" and field "user" are both set in oneof "kind""#),
        // Syntax.
        ("Book", #""#, #"invalid JSON at byte 0: expected an object"#),
        ("Book", #"[]"#, #"invalid JSON at byte 0: expected an object"#),
        ("Book", #"{"id": "a",}"#, #"invalid JSON at byte 11: expected a field name, found '}'"#),
        ("Book", #"{"id" "a"}"#, #"invalid JSON at byte 6: expected ':', found '"'"#),
        ("Book", #"{"id": "a" "title": "b"}"#, #"invalid JSON at byte 11: expected ',' or '}', found '"'"#),
        ("Book", #"{"id": "a"} x"#, #"invalid JSON at byte 12: unexpected 'x' after the JSON value"#),
        ("Book", #"{"id": "a"}{}"#, #"invalid JSON at byte 11: unexpected '{' after the JSON value"#),
        ("Book", #"{"id": "a"#, #"invalid JSON at byte 7: unterminated string"#),
        ("Book", #"{"id": "a\x"}"#, #"invalid JSON at byte 9: invalid escape in string"#),
        ("Book", #"{"id": "\ud800"}"#, #"invalid JSON at byte 8: unpaired surrogate in \u escape"#),
        ("Book", #"{"id": "\udc00\ud800"}"#, #"invalid JSON at byte 8: unpaired surrogate in \u escape"#),
        ("Book", #"{"id": "\u12"}"#, #"invalid JSON at byte 8: invalid \u escape"#),
        ("Book", "{\"id\": \"a\u{1}\"}", #"invalid JSON at byte 9: control character in string (must be escaped)"#),
        ("Book", #"{"count": 01}"#, #"invalid JSON at byte 10: invalid number (leading zero)"#),
        ("Book", #"{"count": 1.}"#, #"invalid JSON at byte 10: invalid number (no digit after '.')"#),
        ("Book", #"{"count": -}"#, #"invalid JSON at byte 10: invalid number"#),
        ("Book", #"{"count": +1}"#, #"invalid JSON at byte 10: expected a number for field "count""#),
        ("Book", #"{"user": nul}"#, #"invalid JSON at byte 9: invalid literal; expected null"#),
        ("Book", #"{"count": 1"#, #"invalid JSON at byte 11: expected ',' or '}', found end of input"#),
    ]

    @Test(arguments: errors)
    func error(_ type: String, _ json: String, _ message: String) {
        #expect(Codec.encode(json, as: type) == "ERROR " + message, "\(json)")
    }

    @Test func errorCarriesOffsetAndFieldPath() throws {
        let error = try #require(Codec.encodeError(#"{"user": {"id": 5}}"#, as: "Book"))
        #expect(error.offset == 16)
        #expect(error.fieldPath == "user.id")
        #expect(Codec.encodeError(#"{"count": "x"}"#, as: "Book")?.fieldPath == "count")
        #expect(Codec.encodeError(#"{"id": "a"} x"#, as: "Book")?.fieldPath == nil)
    }

    @Test func invalidUTF8IsRejected() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3]] {
            let json = Array(#"{"id": ""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(Codec.encodeBytes(json, as: Codec.type("Book")) == nil, "\(bad)")
        }
        let valid = Array(#"{"id": ""#.utf8) + [0xF4, 0x8F, 0xBF, 0xBF] + Array(#""}"#.utf8)
        #expect(Codec.encodeBytes(valid, as: Codec.type("Book")) == [0x0A, 4, 0xF4, 0x8F, 0xBF, 0xBF])
    }

    static let messages: [(String, String, String)] = [
        ("Book", #"{"id": "b1", "user": {"id": "u1"}}"#, "0a 02 62 31 22 04 0a 02 75 31"),
        ("Book", #"{"user": {}}"#, "22 00"),
        ("Book", #"{"user": null, "id": null, "tags": null, "labels": null}"#, ""),
        ("Book", #"{"tags": ["a", "b"], "color": "RED"}"#, "2a 01 61 2a 01 62 30 01"),
        ("Book", #"{"tags": []}"#, ""),
        ("Book", #"{"labels": {"k": "v"}}"#, "3a 06 0a 01 6b 12 01 76"),
        ("Book", #"{"labels": {"": ""}}"#, "3a 04 0a 00 12 00"),
        ("User", #"{"display_name": "n"}"#, "12 01 6e"),
        ("JsonNames", #"{"customName": 1, "snakeCaseField": "s", "field2WithDigit": 2, "aBC": "c", "Leading": "l", "trailing": "t", "mixedCase": "m"}"#,
         "08 01 12 01 73 18 02 22 01 63 2a 01 6c 32 01 74 3a 01 6d"),
        ("JsonNames", #"{"foo_bar": 1, "snake_case_field": "s", "a_b_c": "c", "_leading": "l", "trailing_": "t"}"#,
         "08 01 12 01 73 22 01 63 2a 01 6c 32 01 74"),
        // Packed (the proto3 default) and unpacked repeated scalars.
        ("Repeated", #"{"int32Values": [1, -1, "2"], "unpackedInt32": [1, 2]}"#,
         "1a 0c 01 ff ff ff ff ff ff ff ff ff 01 02 a0 01 01 a0 01 02"),
        ("Repeated", #"{"doubleValues": [1, "NaN"], "floatValues": [0.5], "boolValues": [true, false]}"#,
         "0a 10 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 f8 7f 12 04 00 00 00 3f 6a 02 01 00"),
        ("Repeated", #"{"colors": ["RED", 5, "BLUE"], "unpackedColors": ["GREEN"], "sint64Values": ["-1"]}"#,
         "82 01 03 01 05 03 d0 01 02 42 01 01"),
        ("Repeated", #"{"users": [{"id": "a"}, {}], "bytesValues": ["AA==", ""]}"#, "8a 01 03 0a 01 61 8a 01 00 7a 01 00 7a 00"),
        // Proto3 optional: presence, so defaults are written.
        ("Optionals", #"{"int32Value": 0, "stringValue": "", "boolValue": false, "color": "COLOR_UNSPECIFIED", "doubleValue": 0}"#,
         "18 00 72 00 68 00 80 01 00 09 00 00 00 00 00 00 00 00"),
        // Oneofs: a member with its default is set; null leaves it unset (no conflict).
        ("Oneofs", #"{"number": 0}"#, "10 00"),
        ("Oneofs", #"{"name": null, "number": 7}"#, "10 07"),
        ("Oneofs", #"{"name": "a", "flag": true, "plain": 3}"#, "0a 01 61 58 01 68 03"),
        ("Oneofs", #"{"null": null}"#, "38 00"),
        ("Oneofs", #"{"null": "NULL_VALUE"}"#, "38 00"),
        ("Oneofs", #"{"value": null}"#, "32 02 08 00"),
        ("Oneofs", #"{"user": {"id": "x"}}"#, "1a 03 0a 01 78"),
        // Recursion.
        ("Recursive", #"{"depth": 1, "child": {"depth": 2, "child": {"depth": 3}}, "children": [{"depth": 4}], "byName": {"a": {"depth": 5}}}"#,
         "08 01 12 06 08 02 12 02 08 03 1a 02 08 04 22 07 0a 01 61 12 02 08 05"),
    ]

    @Test(arguments: messages)
    func message(_ type: String, _ json: String, _ hex: String) {
        #expect(Codec.encode(json, as: type) == hex, "\(json)")
    }

    /// One entry for each key type, with the key converted from its string.
    static let mapKeys: [(String, String)] = [
        (#"{"int32Keys": {"-1": "a"}}"#, "0a 0e 08 ff ff ff ff ff ff ff ff ff 01 12 01 61"),
        (#"{"int64Keys": {"-9223372036854775808": "a"}}"#, "12 0e 08 80 80 80 80 80 80 80 80 80 01 12 01 61"),
        (#"{"uint32Keys": {"4294967295": "a"}}"#, "1a 09 08 ff ff ff ff 0f 12 01 61"),
        (#"{"uint64Keys": {"18446744073709551615": "a"}}"#, "22 0e 08 ff ff ff ff ff ff ff ff ff 01 12 01 61"),
        (#"{"sint32Keys": {"-1": "a"}}"#, "2a 05 08 01 12 01 61"),
        (#"{"sint64Keys": {"1": "a"}}"#, "32 05 08 02 12 01 61"),
        (#"{"fixed32Keys": {"1": "a"}}"#, "3a 08 0d 01 00 00 00 12 01 61"),
        (#"{"fixed64Keys": {"1": "a"}}"#, "42 0c 09 01 00 00 00 00 00 00 00 12 01 61"),
        (#"{"sfixed32Keys": {"-1": "a"}}"#, "4a 08 0d ff ff ff ff 12 01 61"),
        (#"{"sfixed64Keys": {"-1": "a"}}"#, "52 0c 09 ff ff ff ff ff ff ff ff 12 01 61"),
        (#"{"boolKeys": {"true": "a", "false": "b"}}"#, "5a 05 08 01 12 01 61 5a 05 08 00 12 01 62"),
        (#"{"stringKeys": {"k\u00e9": "a"}}"#, "62 08 0a 03 6b c3 a9 12 01 61"),
        (#"{"int32Keys": {"1e2": "a"}}"#, "0a 05 08 64 12 01 61"),
        (#"{"doubleValues": {"a": "NaN"}, "colorValues": {"b": "GREEN"}, "bytesValues": {"c": "AQ=="}}"#,
         "6a 0c 0a 01 61 11 00 00 00 00 00 00 f8 7f 9a 01 05 0a 01 62 10 02 92 01 06 0a 01 63 12 01 01"),
        (#"{"int64Values": {"a": "0"}, "boolValues": {"b": false}}"#, "7a 05 0a 01 61 10 00 8a 01 05 0a 01 62 10 00"),
        (#"{"userValues": {"u": {"id": "x"}}, "wrapperValues": {"w": 3}, "valueValues": {"v": null}}"#,
         "a2 01 08 0a 01 75 12 03 0a 01 78 ba 01 07 0a 01 77 12 02 08 03 b2 01 07 0a 01 76 12 02 08 00"),
    ]

    @Test(arguments: mapKeys)
    func mapKey(_ json: String, _ hex: String) {
        #expect(Codec.encode(json, as: "Maps") == hex, "\(json)")
    }

    @Test func manyMapEntriesFindADuplicateKey() {
        let entries = (0..<100).map { "\"k\($0)\": \"v\"" }
        let unique = "{\"stringKeys\": {" + entries.joined(separator: ", ") + "}}"
        #expect(!Codec.encode(unique, as: "Maps").hasPrefix("ERROR"))
        let twice = "{\"stringKeys\": {" + (entries + ["\"k42\": \"w\""]).joined(separator: ", ") + "}}"
        #expect(Codec.encode(twice, as: "Maps").hasPrefix("ERROR invalid JSON at byte"))
        #expect(Codec.encode(twice, as: "Maps").contains(#"duplicate map key "k42""#))
    }

    @Test func nestingIsBounded() {
        func nested(_ levels: Int) -> String {
            String(repeating: #"{"child": "#, count: levels - 1) + "{}" + String(repeating: "}", count: levels - 1)
        }
        #expect(!Codec.encode(nested(100), as: "Recursive").hasPrefix("ERROR"))
        #expect(Codec.encode(nested(101), as: "Recursive") == "ERROR invalid JSON at byte 1000: nesting deeper than 100 levels in field \"" + Array(repeating: "child", count: 100).joined(separator: ".") + "\"")
        let deepValue = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(Codec.encode(deepValue, as: "google.protobuf.Value").contains("nesting deeper than 100 levels"))
    }

    @Test func encodeFieldWritesOneField() throws {
        let book = Codec.type("Book")
        let codec = JSONTranscoder(registry: Codec.registry)
        func field(_ name: String, _ json: String) -> String {
            var writer = ProtoWriter()
            do throws(TranscodeError) {
                try withBytes(json) { (raw) throws(TranscodeError) in
                    try codec.encodeField(json: raw, field: book.field(named: name)!, into: &writer)
                }
                return Codec.hex(writer.bytes)
            } catch {
                return "ERROR " + error.message
            }
        }
        #expect(field("user", #" {"id": "u"} "#) == "22 03 0a 01 75")
        #expect(field("tags", #"["a"]"#) == "2a 01 61")
        #expect(field("labels", #"{"k": "v"}"#) == "3a 06 0a 01 6b 12 01 76")
        #expect(field("title", #""t""#) == "12 01 74")
        #expect(field("title", "null") == "")
        #expect(field("count", "0") == "")
        #expect(field("user", #"{"id": 1}"#) == #"ERROR invalid JSON at byte 7: expected a string for field "id""#)
        #expect(field("user", #"{} {}"#) == "ERROR invalid JSON at byte 3: unexpected '{' after the JSON value")
    }

    @Test func outputIsUntouchedOnError() {
        var writer = ProtoWriter()
        writer.bytes = [1, 2, 3]
        let json = Array(#"{"id": "a", "count": "x"}"#.utf8)
        #expect(throws: TranscodeError.self) {
            try withBytes(json) { (raw) throws(TranscodeError) in
                try JSONTranscoder(registry: Codec.registry).encode(json: raw, as: Codec.type("Book"), into: &writer)
            }
        }
        #expect(writer.bytes == [1, 2, 3])
    }

    @Test func largeNestedMessagesGetLongLengths() {
        let long = String(repeating: "x", count: 300)
        let hex = Codec.encode("{\"user\": {\"id\": \"\(long)\"}}", as: "Book")
        #expect(hex.hasPrefix("22 af 02 0a ac 02 78 78"))
        #expect(Codec.roundTrip("{\"user\": {\"id\": \"\(long)\"}, \"id\": \"b\"}", as: "Book") == "{\"id\":\"b\",\"user\":{\"id\":\"\(long)\"}}")
    }
}

// Protobuf → JSON (JSONTranscoder.decode): the output of each kind, the options, merging and
// last-one-wins, packed and unpacked, unknown fields, maps with repeated keys, oneofs, and the
// exact error texts. Every expected JSON text was checked to equal, as JSON values, what
// protobuf's json_format.MessageToJson prints for the same bytes.
import Testing
import Transcoding

@Suite struct JSONTranscoderDecodeTests {
    /// (message, wire bytes, options: d emitDefaults, e enumsAsNumbers, p useProtoNames, JSON)
    static let cases: [(String, String, String, String)] = [
        ("Scalars", "18 96 01", "", #"{"int32Value":150}"#),
        ("Scalars", "18 ff ff ff ff ff ff ff ff ff 01", "", #"{"int32Value":-1}"#),
        ("Scalars", "18 ff ff ff ff 0f", "", #"{"int32Value":-1}"#),
        ("Scalars", "18 80 80 80 80 10", "", #""#),
        ("Scalars", "20 ff ff ff ff ff ff ff ff 7f", "", #"{"int64Value":"9223372036854775807"}"#),
        ("Scalars", "20 80 80 80 80 80 80 80 80 80 01", "", #"{"int64Value":"-9223372036854775808"}"#),
        ("Scalars", "28 ff ff ff ff 0f", "", #"{"uint32Value":4294967295}"#),
        ("Scalars", "30 ff ff ff ff ff ff ff ff ff 01", "", #"{"uint64Value":"18446744073709551615"}"#),
        ("Scalars", "38 01 40 03", "", #"{"sint32Value":-1,"sint64Value":"-2"}"#),
        ("Scalars", "38 fe ff ff ff 0f", "", #"{"sint32Value":2147483647}"#),
        ("Scalars", "4d ff ff ff ff 51 ff ff ff ff ff ff ff ff", "", #"{"fixed32Value":4294967295,"fixed64Value":"18446744073709551615"}"#),
        ("Scalars", "5d ff ff ff ff 61 00 00 00 00 00 00 00 80", "", #"{"sfixed32Value":-1,"sfixed64Value":"-9223372036854775808"}"#),
        ("Scalars", "68 01", "", #"{"boolValue":true}"#),
        ("Scalars", "68 02", "", #"{"boolValue":true}"#),
        ("Scalars", "72 02 68 69", "", #"{"stringValue":"hi"}"#),
        ("Scalars", "72 0e 22 5c 2f 0a 0d 09 08 0c 01 1f 7f c3 a9 2e", "", "{\"stringValue\":\"\\\"\\\\/\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é.\"}"),
        ("Scalars", "72 04 f0 9f 98 80", "", #"{"stringValue":"😀"}"#),
        ("Scalars", "7a 03 01 02 03", "", #"{"bytesValue":"AQID"}"#),
        ("Scalars", "7a 02 fb ff", "", #"{"bytesValue":"+/8="}"#),
        ("Scalars", "7a 01 00", "", #"{"bytesValue":"AA=="}"#),
        ("Scalars", "80 01 03", "", #"{"color":"BLUE"}"#),
        ("Scalars", "80 01 07", "", #"{"color":7}"#),
        ("Scalars", "80 01 ff ff ff ff ff ff ff ff ff 01", "", #"{"color":"INFRARED"}"#),
        ("Scalars", "80 01 03", "e", #"{"color":3}"#),
        ("Scalars", "88 01 01", "", #"{"aliased":"FIRST"}"#),
        ("Scalars", "09 00 00 00 00 00 00 e0 3f", "", #"{"doubleValue":0.5}"#),
        ("Scalars", "09 00 00 00 00 00 00 f0 3f", "", #"{"doubleValue":1.0}"#),
        ("Scalars", "09 00 00 00 00 00 00 f8 7f", "", #"{"doubleValue":"NaN"}"#),
        ("Scalars", "09 00 00 00 00 00 00 f0 7f", "", #"{"doubleValue":"Infinity"}"#),
        ("Scalars", "09 00 00 00 00 00 00 f0 ff", "", #"{"doubleValue":"-Infinity"}"#),
        ("Scalars", "09 00 00 00 00 00 00 00 80", "", #"{"doubleValue":-0.0}"#),
        ("Scalars", "09 00 00 00 00 00 00 00 00", "", #""#),
        ("Scalars", "09 34 33 33 33 33 33 d3 3f", "", #"{"doubleValue":0.30000000000000004}"#),
        ("Scalars", "09 92 d5 4d 06 cf f0 80 44", "", #"{"doubleValue":1e+22}"#),
        ("Scalars", "09 01 00 00 00 00 00 00 00", "", #"{"doubleValue":5e-324}"#),
        ("Scalars", "09 ff ff ff ff ff ff ef 7f", "", #"{"doubleValue":1.7976931348623157e+308}"#),
        ("Scalars", "15 cd cc cc 3d", "", #"{"floatValue":0.1}"#),
        ("Scalars", "15 ff ff 7f 7f", "", #"{"floatValue":3.4028235e+38}"#),
        ("Scalars", "15 01 00 00 00", "", #"{"floatValue":1e-45}"#),
        ("Scalars", "15 00 00 c0 7f", "", #"{"floatValue":"NaN"}"#),
        ("Scalars", "15 00 00 80 ff", "", #"{"floatValue":"-Infinity"}"#),
        ("Scalars", "15 00 00 80 4b", "", #"{"floatValue":16777216.0}"#),
        ("Scalars", "", "d", #"{"doubleValue":0.0,"floatValue":0.0,"int32Value":0,"int64Value":"0","uint32Value":0,"uint64Value":"0","sint32Value":0,"sint64Value":"0","fixed32Value":0,"fixed64Value":"0","sfixed32Value":0,"sfixed64Value":"0","boolValue":false,"stringValue":"","bytesValue":"","color":"COLOR_UNSPECIFIED","aliased":"ALIASED_UNSPECIFIED"}"#),
        ("Scalars", "18 01", "dp", #"{"double_value":0.0,"float_value":0.0,"int32_value":1,"int64_value":"0","uint32_value":0,"uint64_value":"0","sint32_value":0,"sint64_value":"0","fixed32_value":0,"fixed64_value":"0","sfixed32_value":0,"sfixed64_value":"0","bool_value":false,"string_value":"","bytes_value":"","color":"COLOR_UNSPECIFIED","aliased":"ALIASED_UNSPECIFIED"}"#),
        ("Scalars", "", "de", #"{"doubleValue":0.0,"floatValue":0.0,"int32Value":0,"int64Value":"0","uint32Value":0,"uint64Value":"0","sint32Value":0,"sint64Value":"0","fixed32Value":0,"fixed64Value":"0","sfixed32Value":0,"sfixed64Value":"0","boolValue":false,"stringValue":"","bytesValue":"","color":0,"aliased":0}"#),
        ("Book", "", "d", #"{"id":"","title":"","count":0,"tags":[],"color":"COLOR_UNSPECIFIED","labels":{}}"#),
        ("Optionals", "", "d", #"{}"#),
        ("Optionals", "18 00 72 00 80 01 00", "", #"{"int32Value":0,"stringValue":"","color":"COLOR_UNSPECIFIED"}"#),
        ("Oneofs", "", "d", #"{"plain":0}"#),
        ("JsonNames", "08 01 12 01 73 18 02 22 01 63 2a 01 6c 32 01 74 3a 01 6d", "", #"{"customName":1,"snakeCaseField":"s","field2WithDigit":2,"aBC":"c","Leading":"l","trailing":"t","mixedCase":"m"}"#),
        ("JsonNames", "08 01 12 01 73 18 02 22 01 63 2a 01 6c 32 01 74 3a 01 6d", "p", #"{"foo_bar":1,"snake_case_field":"s","field2_with_digit":2,"a_b_c":"c","_leading":"l","trailing_":"t","mixedCase":"m"}"#),
        ("Book", "18 01 18 02", "", #"{"count":2}"#),
        ("Book", "18 01 18 00", "", #""#),
        ("Book", "22 03 0a 01 61 0a 01 62 22 03 12 01 63", "", #"{"id":"b","user":{"id":"a","displayName":"c"}}"#),
        ("Book", "22 03 0a 01 61 22 03 0a 01 78", "", #"{"user":{"id":"x"}}"#),
        ("Book", "2a 01 61 18 01 2a 01 62", "", #"{"count":1,"tags":["a","b"]}"#),
        ("Book", "3a 06 0a 01 6b 12 01 61 3a 06 0a 01 6a 12 01 62 3a 06 0a 01 6b 12 01 63", "", #"{"labels":{"j":"b","k":"c"}}"#),
        ("Book", "3a 03 12 01 76 3a 03 0a 01 6b", "", #"{"labels":{"":"v","k":""}}"#),
        ("Book", "3a 0c 0a 01 6b 12 01 61 0a 01 6a 12 01 62", "", #"{"labels":{"j":"b"}}"#),
        ("Book", "f8 07 01 fa 07 02 01 02 fd 07 01 02 03 04 f9 07 01 02 03 04 05 06 07 08 fb 07 08 01 fc 07 0a 01 61", "", #"{"id":"a"}"#),
        ("Book", "1d 01 00 00 00 0a 01 61", "", #"{"id":"a"}"#),
        ("Book", "0a 00", "", #""#),
        ("Repeated", "1a 02 01 02 18 03 1a 01 04", "", #"{"int32Values":[1,2,3,4]}"#),
        ("Repeated", "a0 01 01 a2 01 02 02 03", "", #"{"unpackedInt32":[1,2,3]}"#),
        ("Repeated", "0a 08 00 00 00 00 00 00 f0 3f 09 00 00 00 00 00 00 00 40", "", #"{"doubleValues":[1.0,2.0]}"#),
        ("Repeated", "12 08 cd cc cc 3d 00 00 c0 7f", "", #"{"floatValues":[0.1,"NaN"]}"#),
        ("Repeated", "82 01 03 01 07 00", "", #"{"colors":["RED",7,"COLOR_UNSPECIFIED"]}"#),
        ("Repeated", "6a 03 01 00 02", "", #"{"boolValues":[true,false,true]}"#),
        ("Repeated", "8a 01 03 0a 01 61 8a 01 00 7a 00 7a 01 ff", "", #"{"bytesValues":["","/w=="],"users":[{"id":"a"},{}]}"#),
        ("Repeated", "42 03 01 02 03", "", #"{"sint64Values":["-1","1","-2"]}"#),
        ("Repeated", "0a 00 12 00", "", #"{}"#),
        ("Repeated", "0a 00 12 04 00 00 80 3f", "", #"{"floatValues":[1.0]}"#),
        ("Repeated", "", "d", #"{"doubleValues":[],"floatValues":[],"int32Values":[],"int64Values":[],"uint32Values":[],"uint64Values":[],"sint32Values":[],"sint64Values":[],"fixed32Values":[],"fixed64Values":[],"sfixed32Values":[],"sfixed64Values":[],"boolValues":[],"stringValues":[],"bytesValues":[],"colors":[],"users":[],"unpackedInt32":[],"unpackedSint64":[],"unpackedDouble":[],"unpackedFloat":[],"unpackedFixed32":[],"unpackedBool":[],"unpackedColors":[]}"#),
        ("Oneofs", "0a 01 61 10 05", "", #"{"number":5}"#),
        ("Oneofs", "10 05 0a 01 61", "", #"{"name":"a"}"#),
        ("Oneofs", "1a 03 0a 01 61 10 05 1a 03 12 01 62", "", #"{"user":{"displayName":"b"}}"#),
        ("Oneofs", "1a 03 0a 01 61 1a 03 12 01 62 58 01", "", #"{"user":{"id":"a","displayName":"b"},"flag":true}"#),
        ("Oneofs", "10 00", "", #"{"number":0}"#),
        ("Oneofs", "38 00", "", #"{"null":null}"#),
        ("Oneofs", "32 00", "", #"{"value":null}"#),
        ("Maps", "0a 0e 08 ff ff ff ff ff ff ff ff ff 01 12 01 61", "", #"{"int32Keys":{"-1":"a"}}"#),
        ("Maps", "12 0e 08 80 80 80 80 80 80 80 80 80 01 12 01 61", "", #"{"int64Keys":{"-9223372036854775808":"a"}}"#),
        ("Maps", "1a 09 08 ff ff ff ff 0f 12 01 61", "", #"{"uint32Keys":{"4294967295":"a"}}"#),
        ("Maps", "22 0e 08 ff ff ff ff ff ff ff ff ff 01 12 01 61", "", #"{"uint64Keys":{"18446744073709551615":"a"}}"#),
        ("Maps", "2a 05 08 01 12 01 61 32 05 08 02 12 01 62", "", #"{"sint32Keys":{"-1":"a"},"sint64Keys":{"1":"b"}}"#),
        ("Maps", "3a 08 0d 01 00 00 00 12 01 61 42 0c 09 01 00 00 00 00 00 00 00 12 01 62", "", #"{"fixed32Keys":{"1":"a"},"fixed64Keys":{"1":"b"}}"#),
        ("Maps", "4a 08 0d ff ff ff ff 12 01 61 52 0c 09 ff ff ff ff ff ff ff ff 12 01 62", "", #"{"sfixed32Keys":{"-1":"a"},"sfixed64Keys":{"-1":"b"}}"#),
        ("Maps", "5a 05 08 01 12 01 61 5a 05 08 00 12 01 62 5a 05 08 02 12 01 63", "", #"{"boolKeys":{"false":"b","true":"c"}}"#),
        ("Maps", "62 08 0a 03 6b c3 a9 12 01 61", "", #"{"stringKeys":{"ké":"a"}}"#),
        ("Maps", "0a 05 08 01 12 01 61 0a 09 08 81 80 80 80 10 12 01 62", "", #"{"int32Keys":{"1":"b"}}"#),
        ("Maps", "a2 01 03 0a 01 75 ba 01 03 0a 01 77 b2 01 03 0a 01 76 9a 01 03 0a 01 63 6a 03 0a 01 64", "", #"{"doubleValues":{"d":0.0},"colorValues":{"c":"COLOR_UNSPECIFIED"},"userValues":{"u":{}},"valueValues":{"v":null},"wrapperValues":{"w":0}}"#),
        ("Maps", "a2 01 0d 0a 01 75 12 03 0a 01 61 12 03 12 01 62", "", #"{"userValues":{"u":{"id":"a","displayName":"b"}}}"#),
        ("Maps", "aa 01 02 08 05", "", #"{"timestampValues":{"5":"1970-01-01T00:00:00Z"}}"#),
        ("Maps", "c2 01 03 0a 01 61", "", #"{"anyValues":{"a":{}}}"#),
        ("Recursive", "08 01 12 06 08 02 12 02 08 03 1a 02 08 04 22 07 0a 01 61 12 02 08 05", "", #"{"depth":1,"child":{"depth":2,"child":{"depth":3}},"children":[{"depth":4}],"byName":{"a":{"depth":5}}}"#),
        ("Everything", "c2 3e 01 68 52 00", "", #"{"highNumber":"h","more":[{}]}"#),
    ]

    static func options(_ flags: String) -> JSONOutputOptions {
        JSONOutputOptions(emitDefaults: flags.contains("d"), enumsAsNumbers: flags.contains("e"),
                          useProtoNames: flags.contains("p"))
    }

    @Test(arguments: cases)
    func decode(_ type: String, _ hex: String, _ flags: String, _ json: String) {
        #expect(Codec.decode(hex, as: type, Self.options(flags)) == (json.isEmpty ? "{}" : json), "\(hex)")
    }

    static let errors: [(String, String, String)] = [
        ("Book", "18", "invalid protobuf message at byte 1: truncated varint"),
        ("Book", "18 80 80 80 80 80 80 80 80 80 80 01", "invalid protobuf message at byte 1: varint longer than 10 bytes"),
        ("Book", "0a 05 61", "invalid protobuf message at byte 1: length 5 runs past the end of the message"),
        ("Book", "00", "invalid protobuf message at byte 0: invalid field key 0"),
        ("Book", "0e", "invalid protobuf message at byte 0: invalid field key 14"),
        ("Book", "0c", "invalid protobuf message at byte 1: end of group 1 without its start"),
        ("Book", "0b", "invalid protobuf message at byte 1: unterminated group 1"),
        ("Book", "0b 14", "invalid protobuf message at byte 2: end of group 2 inside group 1"),
        ("Book", "1d 01 00", "invalid protobuf message at byte 1: truncated fixed32"),
        ("Book", "0a 01 ff", #"invalid protobuf message at byte 2: invalid UTF-8 in field "id""#),
        ("Book", "0a 02 c3 28", #"invalid protobuf message at byte 2: invalid UTF-8 in field "id""#),
        ("Book", "0a 03 ed a0 80", #"invalid protobuf message at byte 2: invalid UTF-8 in field "id""#),
        ("Book", "22 03 0a 01 ff", #"invalid protobuf message at byte 4: invalid UTF-8 in field "user.id""#),
        ("Book", "22 02 0a 05", #"invalid protobuf message at byte 3: length 5 runs past the end of the message in field "user""#),
        ("Book", "2a 01 61 2a 01 80", #"invalid protobuf message at byte 5: invalid UTF-8 in field "tags[1]""#),
        ("Book", "3a 05 0a 01 80 12 00", #"invalid protobuf message at byte 4: invalid UTF-8 in map key in field "labels""#),
        ("Book", "3a 06 0a 01 6b 12 01 80", #"invalid protobuf message at byte 7: invalid UTF-8 in field "labels["k"]""#),
        ("Repeated", "4a 03 01 02 03", #"invalid protobuf message at byte 1: packed fixed32 values of 3 bytes in field "fixed32Values""#),
        ("Repeated", "1a 02 01 80", #"invalid protobuf message at byte 3: truncated varint in field "int32Values[1]""#),
    ]

    @Test(arguments: errors)
    func error(_ type: String, _ hex: String, _ message: String) {
        #expect(Codec.decode(hex, as: type) == "ERROR " + message, "\(hex)")
    }

    @Test func protoNamesNameErrorPaths() {
        #expect(Codec.decode("32 0c 0a 04 6e 61 6d 65 12 04 0a 02 0a ff", as: "Everything", Self.options("p"))
            == #"ERROR invalid protobuf message at byte 13: invalid UTF-8 in field "json_names.snake_case_field""#)
    }

    @Test func nestingIsBounded() {
        var bytes: [UInt8] = []
        for _ in 0..<99 { bytes = [0x12] + Self.varint(bytes.count) + bytes }  // Recursive.child: 100 messages
        #expect(!Codec.decode(bytes, as: Codec.type("Recursive")).hasPrefix("ERROR"))
        bytes = [0x12] + Self.varint(bytes.count) + bytes
        let result = Codec.decode(bytes, as: Codec.type("Recursive"))
        #expect(result.hasPrefix("ERROR invalid protobuf message at byte "))
        #expect(result.contains("nesting deeper than 100 levels"))
    }

    static func varint(_ n: Int) -> [UInt8] {
        var v = n
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    @Test func decodeFieldWritesOneValue() {
        let book = Codec.type("Book")
        func field(_ name: String, _ hex: String) -> String {
            var out: [UInt8] = []
            do throws(TranscodeError) {
                try withBytes(Codec.bytes(hex)) { (raw) throws(TranscodeError) in
                    try JSONTranscoder(registry: Codec.registry).decodeField(proto: raw, as: book, field: book.field(named: name)!, into: &out)
                }
                return String(decoding: out, as: UTF8.self)
            } catch {
                return "ERROR " + error.message
            }
        }
        let bytes = "0a 02 62 31 22 03 0a 01 75 2a 01 61 3a 06 0a 01 6b 12 01 76 18 07"
        #expect(field("user", bytes) == #"{"id":"u"}"#)
        #expect(field("tags", bytes) == #"["a"]"#)
        #expect(field("labels", bytes) == #"{"k":"v"}"#)
        #expect(field("count", bytes) == "7")
        #expect(field("id", bytes) == #""b1""#)
        #expect(field("user", "") == "null")
        #expect(field("tags", "") == "[]")
        #expect(field("labels", "") == "{}")
        #expect(field("count", "") == "0")
        #expect(field("color", "") == #""COLOR_UNSPECIFIED""#)
        #expect(field("title", "12 01 ff") == #"ERROR invalid protobuf message at byte 2: invalid UTF-8 in field "title""#)
    }

    @Test func outputIsAppendedAndRestoredOnError() {
        var out = Array("[".utf8)
        Codec.bytes("0a 01 61").withUnsafeBytes { raw in
            _ = try? JSONTranscoder(registry: Codec.registry).decode(proto: raw, as: Codec.type("Book"), into: &out)
        }
        #expect(String(decoding: out, as: UTF8.self) == #"[{"id":"a"}"#)
        Codec.bytes("0a 01 ff").withUnsafeBytes { raw in
            _ = try? JSONTranscoder(registry: Codec.registry).decode(proto: raw, as: Codec.type("Book"), into: &out)
        }
        #expect(String(decoding: out, as: UTF8.self) == #"[{"id":"a"}"#)
    }

    @Test func manyMapEntriesKeepTheLastOfEachKey() {
        var bytes: [UInt8] = []
        for round in 0..<2 {
            for i in 0..<50 {
                let key = Array("k\(i)".utf8)
                let value = Array("\(round)".utf8)
                let entry = [0x0A, UInt8(key.count)] + key + [0x12, UInt8(value.count)] + value
                bytes += [0x3A, UInt8(entry.count)] + entry
            }
        }
        let json = Codec.decode(bytes, as: Codec.type("Book"))
        let expected = "{\"labels\":{" + (0..<50).map { "\"k\($0)\":\"1\"" }.joined(separator: ",") + "}}"
        #expect(json == expected)
    }

    @Test func concurrentUseFromManyTasks() async {
        let codec = JSONTranscoder(registry: Codec.registry)
        let type = Codec.type("Book")
        let json = Array(#"{"id":"b1","title":"T","count":3,"user":{"id":"u","displayName":"D"},"tags":["a","b"],"color":"RED","labels":{"k":"v"}}"#.utf8)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 {
                        var writer = ProtoWriter()
                        var out: [UInt8] = []
                        let ok = json.withUnsafeBytes { raw in (try? codec.encode(json: raw, as: type, into: &writer)) != nil }
                        guard ok else { return false }
                        let ok2 = writer.bytes.withUnsafeBytes { raw in (try? codec.decode(proto: raw, as: type, into: &out)) != nil }
                        guard ok2, out == json else { return false }
                    }
                    return true
                }
            }
            var all: [Bool] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results == Array(repeating: true, count: 8))
    }
}

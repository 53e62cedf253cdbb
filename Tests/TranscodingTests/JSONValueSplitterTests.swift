// JSONValueSplitter: the values of a streamed body (newline-delimited or concatenated), fed in any
// pieces — split at every byte position the results are the same — and its errors.
import Testing
import Transcoding

@Suite struct JSONValueSplitterTests {
    static let streams: [(String, [String], String?)] = [
        ("{\"a\":1}\n{\"b\":2}\n", [#"{"a":1}"#, #"{"b":2}"#], nil),
        (#"{"a":1}{"b":2}[3]"#, [#"{"a":1}"#, #"{"b":2}"#, "[3]"], nil),
        ("  [1, 2] \"s\" 12 true null -0.5e+3 {\"x\":\"}\"}\r\n\t", ["[1, 2]", #""s""#, "12", "true", "null", "-0.5e+3", #"{"x":"}"}"#], nil),
        (#"{"a":"\"}\\"}"#, [#"{"a":"\"}\\"}"#], nil),
        (#"{"a":[{"b":"]"},[[]]]}"#, [#"{"a":[{"b":"]"},[[]]]}"#], nil),
        ("\"a\\u0022b\"\"c\"", [#""a\u0022b""#, #""c""#], nil),
        ("1 2", ["1", "2"], nil),
        ("", [], nil),
        ("  \n ", [], nil),
        ("{\"é\":\"😀\"}", ["{\"é\":\"😀\"}"], nil),
        (#"{"a":1},{"b":2}"#, [#"{"a":1}"#], "invalid JSON at byte 7: unexpected ',' between JSON values"),
        ("{]", [], "invalid JSON at byte 1: ']' does not close '{'"),
        ("[[}]", [], "invalid JSON at byte 2: '}' does not close '['"),
        ("} {}", [], "invalid JSON at byte 0: unexpected '}' between JSON values"),
        ("{} x", ["{}"], "invalid JSON at byte 3: unexpected 'x' between JSON values"),
        ("{\"a\":", [], "invalid JSON at byte 5: the body ends inside a JSON value (started at byte 0)"),
        ("{\"a\":\"x", [], "invalid JSON at byte 7: the body ends inside a JSON value (started at byte 0)"),
        ("{} \u{1}", ["{}"], "invalid JSON at byte 3: unexpected byte 0x01 between JSON values"),
        (String(repeating: "[", count: 101), [], "invalid JSON at byte 100: nesting deeper than 100 levels"),
        (String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
         [String(repeating: "[", count: 100) + String(repeating: "]", count: 100)], nil),
    ]

    /// Values and error of `stream` fed in two pieces cut at `cut` (whole when nil), then byte by byte.
    static func split(_ stream: [UInt8], cutAt cut: Int?) -> ([String], String?) {
        let pieces = cut.map { [$0, stream.count - $0] } ?? []
        let result = TranscodingFuzzProperties.split(stream, pieces: pieces.filter { $0 > 0 })
        return (result.values.map { String(decoding: stream[$0], as: UTF8.self) }, result.error)
    }

    @Test(arguments: streams)
    func values(_ stream: String, _ values: [String], _ error: String?) {
        let bytes = Array(stream.utf8)
        let whole = Self.split(bytes, cutAt: nil)
        #expect(whole.0 == values)
        #expect(whole.1 == error)
        for cut in 0...bytes.count {
            let pieces = Self.split(bytes, cutAt: cut)
            #expect(pieces.0 == whole.0 && pieces.1 == whole.1, "cut at \(cut)")
        }
        let byteByByte = TranscodingFuzzProperties.split(bytes, pieces: [1])
        #expect(byteByByte.values.map { String(decoding: bytes[$0], as: UTF8.self) } == values)
        #expect(byteByByte.error == error)
    }

    @Test func scansEachByteOnce() throws {
        // One value in 1-byte pieces: each call scans only the new byte.
        var splitter = JSONValueSplitter()
        let stream = Array(#"{"k": "a long string value"} "#.utf8)
        var found: [Range<Int>] = []
        for i in 0..<stream.count {
            try withBytes(stream[i...i]) { (raw) throws(TranscodeError) in
                if let r = try splitter.next(in: raw, at: i) { found.append(r) }
            }
            #expect(splitter.scannedCount == i + 1)
        }
        #expect(found == [0..<(stream.count - 1)])
        #expect(splitter.valueStart == nil)
    }

    @Test func arrayCallerDropsTakenBytes() throws {
        var splitter = JSONValueSplitter()
        var body = Array(#"{"a":1} {"b":"#.utf8)
        var taken: [String] = []
        var offset = 0
        while let range = try splitter.nextValue(in: body, from: offset) {
            taken.append(String(decoding: body[range], as: UTF8.self))
            offset = range.upperBound
        }
        #expect(taken == [#"{"a":1}"#])
        #expect(splitter.hasPartialValue(body))
        body.removeSubrange(0..<offset)
        splitter.consumed(offset)
        #expect(splitter.consumedTotal == 7)
        body += Array(#"2}  "#.utf8)
        let next = try splitter.nextValue(in: body)
        #expect(next.map { String(decoding: body[$0], as: UTF8.self) } == #"{"b":2}"#)
        #expect(!splitter.hasPartialValue(body))
        #expect(try splitter.finish() == nil)
    }

    @Test func errorsAreSticky() {
        var splitter = JSONValueSplitter()
        let first = try? withBytes("]") { (raw) throws(TranscodeError) in try splitter.next(in: raw, at: 0) }
        #expect(first == nil)
        #expect(throws: TranscodeError(message: "invalid JSON at byte 0: unexpected ']' between JSON values", offset: 0)) {
            try withBytes("") { (raw) throws(TranscodeError) in try splitter.next(in: raw, at: 1) }
        }
        #expect(throws: TranscodeError.self) { try splitter.finish() }
    }
}

// The properties that the FuzzTranscoding fuzz target checks on every input, and the test that
// replays under `swift test` every input kept for it: Fuzz/crashers/FuzzTranscoding/ (inputs that
// once crashed the codec or broke a property) and the seed corpus Fuzz/corpus/FuzzTranscoding/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzTranscoding/
// TranscodingFuzzProperties.swift is a symlink to it) with FUZZING defined; only the test suite at
// the bottom is left out there. Both read the messages of Tests/TranscodingTests/Fixtures/codec_test.pb.
import Channel
import Transcoding

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The JSON codec and the value splitter on arbitrary bytes. The first byte picks what is tested:
///
/// - `J` (or a byte ≡ 0 mod 3): JSON → protobuf. The second byte picks the message type and the
///   output options; the rest is the JSON. When it is accepted, decode(encode(json)) is stable:
///   it encodes and decodes to the same JSON again, and encode → decode → encode of it gives the
///   identical bytes. (The very first bytes may differ from those only in the order of fields:
///   they follow the input's member order, the decoded JSON declaration order.) When it is not
///   accepted, the error is one line `invalid JSON at byte N: …` with N inside the input.
/// - `B` (≡ 1): protobuf → JSON, the same second byte, then the wire bytes. When it is accepted,
///   the JSON encodes, and that decodes to the same JSON; when not, the error is one line
///   `invalid protobuf message at byte N: …`.
/// - `S` (≡ 2): the rest is a stream of JSON values. Fed whole, byte by byte and in pieces seeded
///   from the input, the splitter reports the same values and the same error; the values are in
///   order, do not overlap and start with `{`, `[`, `"`, `-`, a digit, `t`, `f` or `n`.
/// - `W`: the rest is a gRPC-Web text body for `Base64StreamDecoder`. Fed whole, byte by byte and
///   in pieces seeded from the input, it decodes to the same bytes or fails at the same offset,
///   which is inside the text; decoded bytes, re-encoded by `Base64StreamEncoder` with a flush at
///   a seeded point, decode to the same bytes again.
/// - `T`: the rest is trailers for `GRPCWebTrailers`, fields separated by NUL, each name and value
///   split at its first `:` (a field without one has an empty value), as nghttp2 hands them over
///   (no CR, LF or NUL inside). The frame has flag 0x80 and a big-endian length of exactly the rest;
///   the rest is the fields as `name:value\r\n` lines, names lower-cased (ASCII only), values
///   untouched, read back in order; and a gRPC frame decoder (the request side, where a client may
///   send no trailers) refuses it as flag 0x80.
/// - `P`: the rest is a `google.api.http` path template. Rejected: `invalid path template "T": …
///   at offset N` with N inside the text. Accepted: the text is visible ASCII; `**` is the last
///   segment; variables are in order, disjoint, inside the segments, with distinct non-empty
///   field paths of identifiers, multi-segment exactly when they cover several segments or a `**`;
///   the template written back (each variable as `{path=segments}`) and its `shape` parse again to
///   the same segments, verb and (for the former) variables.
/// - `G`: `GRPCWebJSONCodec`, the gRPC-Web JSON framing. The second byte picks the message type
///   (as `J`), whether the stream is the request (even) or the response (odd), and (bit 3 of the
///   third byte) whether `grpc-encoding` is gzip; the rest is the stream of frames. Fed whole, byte
///   by byte and in seeded pieces, the codec emits the same frames and fails with the same status
///   and message (or none); every frame it emits has flag 0 and its payload's length in the
///   prefix; a request frame's payload is protobuf that decodes to JSON, a response frame's payload
///   JSON that encodes back; a message's one-line error names no byte outside the stream; the end
///   of a request is refused exactly when the stream stops inside a message.
enum TranscodingFuzzProperties {
    static let types = [
        "trestle.test.v1.Everything", "trestle.test.v1.Scalars", "trestle.test.v1.Repeated", "trestle.test.v1.Maps",
        "trestle.test.v1.Oneofs", "trestle.test.v1.WellKnown", "trestle.test.v1.Recursive", "trestle.test.v1.Book",
        "google.protobuf.Value", "google.protobuf.Any", "google.protobuf.Timestamp", "google.protobuf.Duration",
    ]

    /// Broken properties, in words; empty when all held.
    static func check(_ input: [UInt8]) -> [String] {
        guard let mode = input.first else { return [] }
        if mode == UInt8(ascii: "W") { return checkBase64Stream(Array(input.dropFirst())) }
        if mode == UInt8(ascii: "T") { return checkWebTrailers(Array(input.dropFirst())) }
        if mode == UInt8(ascii: "P") { return checkPathTemplate(Array(input.dropFirst())) }
        if mode == UInt8(ascii: "G") { return checkWebJSON(input) }
        switch mode == UInt8(ascii: "J") ? 0 : mode == UInt8(ascii: "B") ? 1 : mode == UInt8(ascii: "S") ? 2 : Int(mode % 3) {
        case 0: return checkJSON(input)
        case 1: return checkBinary(input)
        default: return checkSplitter(Array(input.dropFirst()))
        }
    }

    /// The message type and the options the second byte picks.
    static func setup(_ input: [UInt8]) -> (MessageDescriptor, JSONTranscoder, [UInt8]) {
        let selector = input.count > 1 ? input[1] : 0
        let type = CodecFixture.registry.message(named: types[Int(selector >> 3) % types.count])!
        let options = JSONOutputOptions(emitDefaults: selector & 1 != 0, enumsAsNumbers: selector & 2 != 0,
                                        useProtoNames: selector & 4 != 0)
        return (type, JSONTranscoder(registry: CodecFixture.registry, options: options), Array(input.dropFirst(2)))
    }

    static func checkJSON(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let (type, codec, json) = setup(input)
        let first = encode(codec, json, type)
        switch first {
        case .failure(let error):
            checkMessage(error, prefix: "invalid JSON at byte ", limit: json.count, &failures)
        case .success(let binary):
            // json → b1 → j2 → b2 → j3 → b3: j3 == j2 and b3 == b2.
            guard case .success(let j2) = expectDecodes(codec, binary, type, json, &failures),
                  case .success(let b2) = expectEncodes(codec, j2, type, json, &failures),
                  case .success(let j3) = expectDecodes(codec, b2, type, json, &failures),
                  case .success(let b3) = expectEncodes(codec, j3, type, json, &failures) else { break }
            failures.expect(j3 == j2, "\(type.fullName): \(fuzzShow(json)): decode(encode(\(fuzzShow(j2)))) is \(fuzzShow(j3))")
            failures.expect(b3 == b2, "\(type.fullName): \(fuzzShow(json)): \(fuzzShow(j2)) encodes to \(fuzzShow(b2)), then to \(fuzzShow(b3))")
        }
        return failures.messages
    }

    private static func expectDecodes(_ codec: JSONTranscoder, _ binary: [UInt8], _ type: MessageDescriptor,
                                      _ input: [UInt8], _ failures: inout FuzzFailures) -> Result<[UInt8], TranscodeError> {
        let result = decode(codec, binary, type)
        if case .failure(let error) = result {
            failures.fail("\(type.fullName): from \(fuzzShow(input)), \(fuzzShow(binary)) does not decode: \(error.message)")
        }
        return result
    }

    private static func expectEncodes(_ codec: JSONTranscoder, _ json: [UInt8], _ type: MessageDescriptor,
                                      _ input: [UInt8], _ failures: inout FuzzFailures) -> Result<[UInt8], TranscodeError> {
        let result = encode(codec, json, type)
        if case .failure(let error) = result {
            failures.fail("\(type.fullName): from \(fuzzShow(input)), the decoded \(fuzzShow(json)) does not encode: \(error.message)")
        }
        return result
    }

    static func checkBinary(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let (type, codec, binary) = setup(input)
        switch decode(codec, binary, type) {
        case .failure(let error):
            checkMessage(error, prefix: "invalid protobuf message at byte ", limit: binary.count, &failures)
        case .success(let text):
            switch encode(codec, text, type) {
            case .failure(let error):
                failures.fail("\(type.fullName): \(fuzzShow(binary)) decodes to \(fuzzShow(text)), which does not encode: \(error.message)")
            case .success(let again):
                switch decode(codec, again, type) {
                case .failure(let error):
                    failures.fail("\(type.fullName): \(fuzzShow(text)) encodes to bytes that do not decode: \(error.message)")
                case .success(let text2):
                    failures.expect(text2 == text, "\(type.fullName): \(fuzzShow(binary)) → \(fuzzShow(text)) → \(fuzzShow(again)) → \(fuzzShow(text2)), not the same JSON")
                }
            }
        }
        return failures.messages
    }

    /// One line, the given prefix, an offset within the input.
    static func checkMessage(_ error: TranscodeError, prefix: String, limit: Int, _ failures: inout FuzzFailures) {
        let message = error.message
        failures.expect(!message.contains("\n") && !message.contains("\r"), "error message spans lines: \(message.debugDescription)")
        guard message.hasPrefix(prefix) else {
            failures.fail("error message does not start with \(prefix.debugDescription): \(message.debugDescription)")
            return
        }
        let digits = message.dropFirst(prefix.count).prefix { $0.isNumber }
        guard let offset = Int(digits), message.dropFirst(prefix.count + digits.count).hasPrefix(": ") else {
            failures.fail("error message without a byte offset: \(message.debugDescription)")
            return
        }
        failures.expect(offset <= limit, "error offset \(offset) past the input (\(limit) bytes): \(message)")
        failures.expect(error.offset == offset, "error.offset \(String(describing: error.offset)) is not the offset in \(message)")
    }

    static func checkSplitter(_ stream: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let whole = split(stream, pieces: [])
        var seed = stream.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let random = (0..<8).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 60) + 1
        }
        for pieces in [[1], [2, 3], [7], random] {
            let cut = split(stream, pieces: pieces)
            failures.expect(cut == whole, "fed in pieces of \(pieces) the splitter gives \(cut), whole \(whole)")
        }
        var previousEnd = 0
        for range in whole.values {
            failures.expect(range.lowerBound >= previousEnd && range.upperBound > range.lowerBound, "value \(range) overlaps or is empty")
            previousEnd = range.upperBound
            if range.upperBound <= stream.count {
                let b = stream[range.lowerBound]
                failures.expect("{[\"-0123456789tfn".utf8.contains(b), "value \(range) starts with \(fuzzShow([b]))")
            }
        }
        return failures.messages
    }

    /// The text fed to a `Base64StreamDecoder` in pieces of the given sizes in turn (all at once
    /// when empty): the bytes, or the error's offset.
    static func decodeBase64(_ text: [UInt8], pieces: [Int]) -> Result<[UInt8], Base64Error> {
        var decoder = Base64StreamDecoder()
        var out: [UInt8] = []
        var fed = 0, k = 0
        while fed < text.count {
            let n = pieces.isEmpty ? text.count : min(pieces[k % pieces.count], text.count - fed)
            k += 1
            if let e = text[fed ..< fed + n].withUnsafeBytes({ decoder.decode($0, into: &out) }) { return .failure(e) }
            fed += n
        }
        if let e = decoder.finish(into: &out) { return .failure(e) }
        return .success(out)
    }

    static func checkBase64Stream(_ text: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let whole = decodeBase64(text, pieces: [])
        var seed = text.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let random = (0..<8).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 61) + 1
        }
        for pieces in [[1], [2, 3], [5], random] {
            let cut = decodeBase64(text, pieces: pieces)
            failures.expect(cut == whole, "fed in pieces of \(pieces) the decoder gives \(cut), whole \(whole)")
        }
        switch whole {
        case .failure(let e):
            failures.expect(e.offset >= 0 && e.offset <= text.count, "error offset \(e.offset) outside a text of \(text.count)")
        case .success(let bytes):
            failures.expect(bytes.count <= text.count * 3 / 4 + 2, "\(bytes.count) bytes from \(text.count) characters")
            var encoder = Base64StreamEncoder()
            var again: [UInt8] = []
            let cut = bytes.isEmpty ? 0 : Int(seed % UInt64(bytes.count))
            bytes[..<cut].withUnsafeBytes { encoder.encode($0, into: &again) }
            encoder.flush(into: &again)
            bytes[cut...].withUnsafeBytes { encoder.encode($0, into: &again) }
            encoder.flush(into: &again)
            let round = decodeBase64(again, pieces: [])
            failures.expect(round == .success(bytes), "re-encoded (flushed at \(cut)) it decodes to \(round)")
        }
        return failures.messages
    }

    /// What a codec made of a stream fed in `pieces` (empty: whole): the frames, the failure, and
    /// for a request whether its end was refused.
    struct WebJSONRun: Equatable {
        var frames: [[UInt8]] = []
        var failure: GRPCWebJSONCodec.Failure?
        var endRefused = false
    }

    static func runWebJSON(_ stream: [UInt8], type: MessageDescriptor, transcoder: JSONTranscoder, request: Bool,
                           gzip: Bool, pieces: [Int]) -> WebJSONRun {
        let codec = GRPCWebJSONCodec(inputType: type, outputType: type, transcoder: transcoder,
                                     requestEncoding: gzip ? "gzip" : nil, maxRequestMessage: 1 << 16)
        codec.responseEncoding = gzip ? "gzip" : nil
        var run = WebJSONRun()
        var offset = 0
        var i = 0
        while offset < stream.count && run.failure == nil {
            let n = pieces.isEmpty ? stream.count : min(pieces[i % pieces.count], stream.count - offset)
            i += 1
            stream[offset ..< offset + n].withUnsafeBytes { raw in
                do throws(GRPCWebJSONCodec.Failure) {
                    if request {
                        try codec.request(raw) { run.frames.append(Array($0)) }
                    } else {
                        try codec.response(raw) { run.frames.append(Array($0)) }
                    }
                } catch {
                    run.failure = error
                }
            }
            offset += n
        }
        if request && run.failure == nil {
            do throws(GRPCWebJSONCodec.Failure) { try codec.requestEnd() } catch { run.endRefused = true }
        }
        return run
    }

    static func checkWebJSON(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let (type, transcoder, rest) = setup(input)
        let selector = input.count > 1 ? input[1] : 0
        let request = selector & 1 == 0
        let gzip = (rest.first ?? 0) & 8 != 0
        let stream = Array(rest.dropFirst())
        let whole = runWebJSON(stream, type: type, transcoder: transcoder, request: request, gzip: gzip, pieces: [])
        var seed = stream.reduce(UInt64(0x9E37_79B9_7F4A_7C15)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let random = (0..<8).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 60) + 1
        }
        for pieces in [[1], [2, 3], random] {
            let cut = runWebJSON(stream, type: type, transcoder: transcoder, request: request, gzip: gzip, pieces: pieces)
            failures.expect(cut == whole, "fed in pieces of \(pieces) the codec gives \(cut), whole \(whole)")
        }
        if let f = whole.failure {
            failures.expect(!f.message.isEmpty && !f.message.contains("\n"), "failure message \(f.message.debugDescription)")
        }
        for frame in whole.frames {
            guard frame.count >= 5, frame[0] == 0 else {
                failures.expect(false, "frame \(frame.prefix(8)) has no uncompressed prefix")
                continue
            }
            let length = Int(frame[1]) << 24 | Int(frame[2]) << 16 | Int(frame[3]) << 8 | Int(frame[4])
            failures.expect(length == frame.count - 5, "prefix length \(length) for \(frame.count - 5) bytes")
            let payload = Array(frame.dropFirst(5))
            if request {
                if case .failure(let e) = decode(transcoder, payload, type) {
                    failures.expect(false, "the protobuf sent upstream does not decode: \(e.message)")
                }
            } else if case .failure(let e) = encode(transcoder, payload, type) {
                failures.expect(false, "the JSON sent to the client does not encode back: \(e.message)")
            }
        }
        return failures.messages
    }

    static func checkWebTrailers(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let fields = input.split(separator: 0, omittingEmptySubsequences: false).map { field -> ([UInt8], [UInt8]) in
            let clean = field.filter { $0 != 0x0D && $0 != 0x0A }
            guard let colon = clean.firstIndex(of: UInt8(ascii: ":")) else { return (Array(clean), []) }
            return (Array(clean[..<colon]), Array(clean[(colon + 1)...]))
        }
        var trailers = GRPCWebTrailers(capacity: 8)
        for (name, value) in fields {
            name.withUnsafeBytes { n in value.withUnsafeBytes { v in trailers.add(name: n, value: v) } }
        }
        let frame = trailers.finish()
        guard frame.count >= 5 else { return ["\(fuzzShow(input)): a frame of \(frame.count) bytes"] }
        let length = frame[1...4].reduce(0) { $0 << 8 | Int($1) }
        failures.expect(frame[0] == 0x80, "\(fuzzShow(input)): flag \(frame[0])")
        failures.expect(length == frame.count - 5, "\(fuzzShow(input)): length \(length) for \(frame.count - 5) bytes")
        // Read back: lines ending CRLF, each split at its first ":" (names hold none).
        var lines = Array(frame.dropFirst(5))[...]
        for (index, (name, value)) in fields.enumerated() {
            let lower = name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            let expected = lower + [UInt8(ascii: ":")] + value + [0x0D, 0x0A]
            guard lines.starts(with: expected) else {
                failures.fail("\(fuzzShow(input)): field \(index) is not \(fuzzShow(expected)) in \(fuzzShow(lines))")
                return failures.messages
            }
            lines = lines.dropFirst(expected.count)
        }
        failures.expect(lines.isEmpty, "\(fuzzShow(input)): \(lines.count) bytes after the fields")
        var decoder = GRPCFrameDecoder(maxMessageSize: 1 << 20)
        do throws(GRPCFrameDecoder.DecodeError) {
            try decoder.feed(frame) { _ in failures.fail("\(fuzzShow(input)): the request-side decoder took a trailer frame") }
            failures.fail("\(fuzzShow(input)): the request-side decoder did not refuse flag 0x80")
        } catch {
            failures.expect(error == .invalidFlag(0x80), "\(fuzzShow(input)): \(error)")
        }
        return failures.messages
    }

    static func checkPathTemplate(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let text = String(decoding: input, as: UTF8.self)
        let bytes = Array(text.utf8)
        let template: PathTemplate
        do throws(HTTPRuleError) {
            template = try PathTemplate(text)
        } catch {
            let prefix = "invalid path template \"\(text)\": "
            let message = error.message
            failures.expect(message.hasPrefix(prefix), "\(fuzzShow(bytes)): \(message.debugDescription)")
            if let range = message.ranges(of: " at offset ").last, let offset = Int(message[range.upperBound...]) {
                failures.expect(offset >= 0 && offset <= bytes.count, "\(fuzzShow(bytes)): offset \(offset) outside the text")
            } else {
                failures.fail("\(fuzzShow(bytes)): no offset at the end of \(message.debugDescription)")
            }
            return failures.messages
        }
        let show = fuzzShow(bytes)
        failures.expect(bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "\(show): accepted with bytes that are not visible ASCII")
        if let deep = template.segments.firstIndex(of: .deepWildcard) {
            failures.expect(deep == template.segments.count - 1, "\(show): \"**\" is segment \(deep) of \(template.segments.count)")
        }
        var next = 0
        var seen: [[String]] = []
        for variable in template.variables {
            let r = variable.segmentRange
            failures.expect(r.lowerBound >= next && r.upperBound <= template.segments.count && !r.isEmpty,
                            "\(show): variable {\(variable.fieldPathText)} covers \(r) of \(template.segments.count) segments")
            next = max(next, r.upperBound)
            failures.expect(!variable.fieldPath.isEmpty && variable.fieldPath.allSatisfy { name in
                name.utf8.first.map { !($0 >= 0x30 && $0 <= 0x39) } == true && name.utf8.allSatisfy {
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == UInt8(ascii: "_")
                }
            }, "\(show): field path \(variable.fieldPath)")
            failures.expect(!seen.contains(variable.fieldPath), "\(show): {\(variable.fieldPathText)} twice")
            seen.append(variable.fieldPath)
            if r.upperBound <= template.segments.count {
                let multi = r.count > 1 || template.segments[r].contains(.deepWildcard)
                failures.expect(variable.isMultiSegment == multi, "\(show): {\(variable.fieldPathText)} isMultiSegment \(variable.isMultiSegment)")
            }
        }
        guard failures.messages.isEmpty else { return failures.messages }
        // Written back with every variable spelled out.
        func segmentText(_ segment: PathTemplate.Segment) -> String {
            switch segment {
            case .literal(let literal): literal
            case .wildcard: "*"
            case .deepWildcard: "**"
            }
        }
        var parts: [String] = []
        var index = 0
        for variable in template.variables {
            while index < variable.segmentRange.lowerBound { parts.append(segmentText(template.segments[index])); index += 1 }
            let inner = template.segments[variable.segmentRange].map(segmentText).joined(separator: "/")
            parts.append("{\(variable.fieldPathText)=\(inner)}")
            index = variable.segmentRange.upperBound
        }
        while index < template.segments.count { parts.append(segmentText(template.segments[index])); index += 1 }
        let written = "/" + parts.joined(separator: "/") + (template.verb.map { ":" + $0 } ?? "")
        for (what, again) in [("written back", written), ("shape", template.shape)] {
            do throws(HTTPRuleError) {
                let reparsed = try PathTemplate(again)
                failures.expect(reparsed.segments == template.segments && reparsed.verb == template.verb,
                                "\(show): \(what) \(again.debugDescription) parses to other segments or verb")
                if what == "written back" {
                    failures.expect(reparsed.variables == template.variables, "\(show): \(again.debugDescription) has other variables")
                } else {
                    failures.expect(reparsed.variables.isEmpty, "\(show): its shape \(again.debugDescription) has variables")
                }
            } catch {
                failures.fail("\(show): \(what) \(again.debugDescription) does not parse: \(error.message)")
            }
        }
        return failures.messages
    }

    struct Split: Equatable, CustomStringConvertible {
        var values: [Range<Int>] = []
        var error: String?
        var description: String { "\(values)" + (error.map { " error \($0)" } ?? "") }
    }

    /// The stream fed in pieces of the given sizes in turn (all at once when empty), from an
    /// array the caller trims as values are taken, as a gateway would.
    static func split(_ stream: [UInt8], pieces: [Int]) -> Split {
        var splitter = JSONValueSplitter()
        var result = Split()
        var buffer: [UInt8] = []
        var bufferStart = 0
        var fed = 0
        var k = 0
        do throws(TranscodeError) {
            while fed < stream.count {
                let n = pieces.isEmpty ? stream.count : min(pieces[k % pieces.count], stream.count - fed)
                k += 1
                buffer += stream[fed..<(fed + n)]
                fed += n
                while true {
                    let next = buffer.withUnsafeBytes { raw -> Result<Range<Int>?, TranscodeError> in
                        do throws(TranscodeError) { return .success(try splitter.next(in: raw, at: bufferStart)) } catch { return .failure(error) }
                    }
                    guard let range = try next.get() else { break }
                    result.values.append(range)
                }
                let keep = splitter.valueStart ?? splitter.scannedCount
                buffer.removeFirst(keep - bufferStart)
                bufferStart = keep
            }
            if let last = try splitter.finish() { result.values.append(last) }
        } catch {
            result.error = error.message
        }
        return result
    }

    static func encode(_ codec: JSONTranscoder, _ json: [UInt8], _ type: MessageDescriptor) -> Result<[UInt8], TranscodeError> {
        var writer = ProtoWriter()
        return json.withUnsafeBytes { raw in
            do throws(TranscodeError) {
                try codec.encode(json: raw, as: type, into: &writer)
                return .success(writer.bytes)
            } catch {
                return .failure(error)
            }
        }
    }

    static func decode(_ codec: JSONTranscoder, _ binary: [UInt8], _ type: MessageDescriptor) -> Result<[UInt8], TranscodeError> {
        var out: [UInt8] = []
        return binary.withUnsafeBytes { raw in
            do throws(TranscodeError) {
                try codec.decode(proto: raw, as: type, into: &out)
                return .success(out)
            } catch {
                return .failure(error)
            }
        }
    }
}

/// The registry of Tests/TranscodingTests/Fixtures/codec_test.pb, found from this file's path
/// (in the test target, or through the fuzz target's symlink).
enum CodecFixture {
    static let registry: DescriptorRegistry = {
        let path = fixturePath("codec_test.pb")
        guard let bytes = readAll(path) else { fatalError("cannot read \(path)") }
        do {
            return try DescriptorRegistry(fileDescriptorSets: [(name: path, bytes: bytes)])
        } catch {
            fatalError("\(path): \(error)")
        }
    }()

    /// Tests/TranscodingTests/Fixtures/`name`, looked for in the folders above this file.
    static func fixturePath(_ name: String, filePath: String = #filePath) -> String {
        var parts = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        while !parts.isEmpty {
            let candidate = parts.joined(separator: "/") + "/Tests/TranscodingTests/Fixtures/" + name
            if access(candidate, R_OK) == 0 { return candidate }
            let local = parts.joined(separator: "/") + "/Fixtures/" + name
            if parts.last == "TranscodingTests", access(local, R_OK) == 0 { return local }
            parts = parts.dropLast()
        }
        return "Tests/TranscodingTests/Fixtures/" + name
    }

    static func readAll(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}

#if !FUZZING
import Testing

@Suite struct TranscodingFuzzReplayTests {
    @Test func seedsKeepEveryProperty() {
        let seeds = FuzzReplay.files("corpus", "FuzzTranscoding")
        #expect(seeds.count >= 10, "the seed corpus Fuzz/corpus/FuzzTranscoding is missing")
        for (name, bytes) in seeds {
            let failures = TranscodingFuzzProperties.check(bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/FuzzTranscoding/\(name):\n\(failures.joined(separator: "\n"))")
        }
    }

    @Test func crashersNoLongerBreakAProperty() async {
        for (name, bytes) in FuzzReplay.files("crashers", "FuzzTranscoding") {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/FuzzTranscoding/\(name)"
            ) { [bytes = bytes as [UInt8]] in
                FuzzReplay.report(TranscodingFuzzProperties.check(bytes))
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/FuzzTranscoding/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }
}
#endif

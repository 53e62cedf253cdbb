// `trestle transcode`: the proto3 JSON codec on standard input, one message per line, for the
// differential test against protobuf's json_format (Tests/Integration/test_json_codec_differential.py)
// and for benchmarks (`--bench N`, called by scripts/bench).
import ArgumentParser
import Channel
import Transcoding

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct TranscodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcode",
        abstract: "Translate messages between protobuf and JSON, one per line of standard input.",
        discussion: """
            Each input line is a JSON message (--from json) or the hex of a binary one (--from binary); \
            each output line is the hex of the binary, or the JSON, or ERROR <message>.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, binary
    }

    @Option(name: .long, help: "A FileDescriptorSet (protoc --include_imports --descriptor_set_out).")
    var descriptorSet: String
    @Option(name: .long, help: "The message type's full name, e.g. trestle.test.v1.Book.")
    var message: String
    @Option(name: .long, help: "The input format: json, or binary (hex, one message per line).")
    var from: Format
    @Flag(name: .long, help: "Write fields without presence even when they hold their default.")
    var emitDefaults = false
    @Flag(name: .long, help: "Write enum values as numbers.")
    var enumsAsNumbers = false
    @Flag(name: .long, help: "Write proto field names instead of JSON names.")
    var protoNames = false
    @Option(name: .long, help: "Benchmark: translate the first input line N times each way and print MB/s.")
    var bench: Int?

    func run() throws {
        guard let bytes = readFile(descriptorSet) else {
            throw ValidationError("cannot read \(descriptorSet)")
        }
        let registry: DescriptorRegistry
        do {
            registry = try DescriptorRegistry(fileDescriptorSets: [(name: descriptorSet, bytes: bytes)])
        } catch {
            throw ValidationError(error.description)
        }
        guard let type = registry.message(named: message) else {
            throw ValidationError("\(descriptorSet) does not define the message \(message)")
        }
        let transcoder = JSONTranscoder(registry: registry, options: JSONOutputOptions(
            emitDefaults: emitDefaults, enumsAsNumbers: enumsAsNumbers, useProtoNames: protoNames))
        if let bench {
            guard let line = readLine(strippingNewline: true) else { throw ValidationError("--bench needs an input line") }
            try runBenchmark(transcoder, type, line: line, iterations: max(bench, 1))
            return
        }
        while let line = readLine(strippingNewline: true) {
            print(translate(transcoder, type, line))
        }
    }

    private func translate(_ transcoder: JSONTranscoder, _ type: MessageDescriptor, _ line: String) -> String {
        do throws(TranscodeError) {
            switch from {
            case .json:
                var writer = ProtoWriter()
                try withBytes(Array(line.utf8)) { (raw) throws(TranscodeError) in
                    try transcoder.encode(json: raw, as: type, into: &writer)
                }
                return hex(writer.bytes)
            case .binary:
                guard let binary = unhex(line) else { return "ERROR input line is not hex" }
                var json: [UInt8] = []
                try withBytes(binary) { (raw) throws(TranscodeError) in
                    try transcoder.decode(proto: raw, as: type, into: &json)
                }
                return String(decoding: json, as: UTF8.self)
            }
        } catch {
            return "ERROR " + error.message
        }
    }

    /// Times `iterations` translations each way of the first line's message.
    private func runBenchmark(_ transcoder: JSONTranscoder, _ type: MessageDescriptor, line: String,
                              iterations: Int) throws {
        var json: [UInt8]
        var binary: [UInt8]
        do throws(TranscodeError) {
            switch from {
            case .json:
                json = Array(line.utf8)
                var writer = ProtoWriter()
                try withBytes(json) { (raw) throws(TranscodeError) in try transcoder.encode(json: raw, as: type, into: &writer) }
                binary = writer.bytes
            case .binary:
                guard let b = unhex(line) else { throw TranscodeError(message: "input line is not hex") }
                binary = b
                json = []
                try withBytes(binary) { (raw) throws(TranscodeError) in try transcoder.decode(proto: raw, as: type, into: &json) }
            }
        } catch {
            throw ValidationError(error.message)
        }
        let clock = ContinuousClock()
        var sink = 0
        let encodeTime = try clock.measure {
            try json.withUnsafeBytes { raw in
                var writer = ProtoWriter(capacity: binary.count + 64)
                for _ in 0..<iterations {
                    writer.bytes.removeAll(keepingCapacity: true)
                    try transcoder.encode(json: raw, as: type, into: &writer)
                }
                sink &+= writer.bytes.count
            }
        }
        let decodeTime = try clock.measure {
            try binary.withUnsafeBytes { raw in
                var out: [UInt8] = []
                out.reserveCapacity(json.count + 64)
                for _ in 0..<iterations {
                    out.removeAll(keepingCapacity: true)
                    try transcoder.decode(proto: raw, as: type, into: &out)
                }
                sink &+= out.count
            }
        }
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        func rate(_ bytes: Int, _ d: Duration) -> String {
            let mb = Double(bytes) * Double(iterations) / seconds(d) / 1e6
            return String(Int(mb.rounded()))
        }
        print("message \(type.fullName): \(json.count) bytes of JSON, \(binary.count) bytes of protobuf, \(iterations) iterations")
        print("json->binary: \(rate(json.count, encodeTime)) MB/s of JSON in (\(rate(binary.count, encodeTime)) MB/s of protobuf out)")
        print("binary->json: \(rate(binary.count, decodeTime)) MB/s of protobuf in (\(rate(json.count, decodeTime)) MB/s of JSON out)")
        if sink == 42 { print("") }  // keeps the work observable
    }
}

/// `body` over the bytes of `bytes`, with typed throws (`withUnsafeBytes` rethrows untyped).
private func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(TranscodeError) -> R) throws(TranscodeError) -> R {
    let result = bytes.withUnsafeBytes { raw -> Result<R, TranscodeError> in
        do throws(TranscodeError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

private func readFile(_ path: String) -> [UInt8]? {
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

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

private func unhex(_ text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count / 2)
    var i = 0
    while i < utf8.count {
        guard let hi = ASCII.hexValue(utf8[i]), let lo = ASCII.hexValue(utf8[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

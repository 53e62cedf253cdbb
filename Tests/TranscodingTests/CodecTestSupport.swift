// Helpers of the JSON codec's tests (JSONTranscoder*Tests, JSONValueSplitterTests): translate
// with the codec_test.proto fixture's messages, as hex or text, errors as their messages.
import Testing
import Transcoding

enum Codec {
    static let registry = CodecFixture.registry

    static func type(_ name: String) -> MessageDescriptor {
        guard let type = registry.message(named: name.contains(".") ? name : "trestle.test.v1." + name) else {
            fatalError("codec_test.proto has no message \(name)")
        }
        return type
    }

    /// JSON → hex of the protobuf bytes (`"18 96 01"`), or `ERROR <message>`.
    static func encode(_ json: String, as name: String) -> String {
        var writer = ProtoWriter()
        do throws(TranscodeError) {
            try withBytes(json) { (raw) throws(TranscodeError) in
                try JSONTranscoder(registry: registry).encode(json: raw, as: type(name), into: &writer)
            }
            return hex(writer.bytes)
        } catch {
            return "ERROR " + error.message
        }
    }

    /// JSON → protobuf bytes; nil on error.
    static func encodeBytes(_ json: [UInt8], as type: MessageDescriptor) -> [UInt8]? {
        var writer = ProtoWriter()
        let ok = json.withUnsafeBytes { raw in
            (try? JSONTranscoder(registry: registry).encode(json: raw, as: type, into: &writer)) != nil
        }
        return ok ? writer.bytes : nil
    }

    /// Protobuf bytes (hex) → JSON text, or `ERROR <message>`.
    static func decode(_ hexBytes: String, as name: String, _ options: JSONOutputOptions = .init()) -> String {
        decode(bytes(hexBytes), as: type(name), options)
    }

    static func decode(_ proto: [UInt8], as type: MessageDescriptor, _ options: JSONOutputOptions = .init()) -> String {
        var out: [UInt8] = []
        do throws(TranscodeError) {
            try withBytes(proto) { (raw) throws(TranscodeError) in
                try JSONTranscoder(registry: registry, options: options).decode(proto: raw, as: type, into: &out)
            }
            return String(decoding: out, as: UTF8.self)
        } catch {
            return "ERROR " + error.message
        }
    }

    /// The error a translation throws, or nil.
    static func encodeError(_ json: String, as name: String) -> TranscodeError? {
        var writer = ProtoWriter()
        do throws(TranscodeError) {
            try withBytes(json) { (raw) throws(TranscodeError) in
                try JSONTranscoder(registry: registry).encode(json: raw, as: type(name), into: &writer)
            }
            return nil
        } catch {
            return error
        }
    }

    /// JSON → protobuf → JSON.
    static func roundTrip(_ json: String, as name: String, _ options: JSONOutputOptions = .init()) -> String {
        let encoded = encode(json, as: name)
        if encoded.hasPrefix("ERROR") { return encoded }
        return decode(encoded, as: name, options)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
    }

    /// `"18 96 01"` (spaces optional) → bytes.
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter { !$0.isWhitespace }
        var out: [UInt8] = []
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(i, offsetBy: 2)
            out.append(UInt8(digits[i..<j], radix: 16)!)
            i = j
        }
        return out
    }
}

/// `body` over the bytes of `bytes` (a String's UTF-8 or an array), with typed throws.
func withBytes<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws(TranscodeError) -> R) throws(TranscodeError) -> R {
    let array = Array(bytes)
    let result = array.withUnsafeBytes { raw -> Result<R, TranscodeError> in
        do throws(TranscodeError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws(TranscodeError) -> R) throws(TranscodeError) -> R {
    try withBytes(Array(text.utf8), body)
}

/// The JSON error body a JSON client gets: a `google.rpc.Status` in the proto3 JSON mapping,
/// `{"code":5,"message":"...","details":[{"@type":"type.googleapis.com/...", ...}]}`.
public enum StatusJSON {
    /// Appends the body for `code` and `message`. `detailsBin` is the upstream's
    /// `grpc-status-details-bin` value (base64 of a serialized `google.rpc.Status`); its `details`
    /// are written through `transcoder` when the registry knows `google.protobuf.Any` and the
    /// detail's type, else as `{"@type": url, "value": "<base64>"}` so that nothing is lost.
    /// A details value that cannot be read is left out (the code and message still stand).
    public static func write(code: Int, message: String, detailsBin: UnsafeRawBufferPointer?,
                             transcoder: JSONTranscoder?, registry: DescriptorRegistry?, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"code":"#.utf8)
        appendDecimal(code, into: &out)
        out.append(contentsOf: #","message":"#.utf8)
        appendString(message, into: &out)
        out.append(contentsOf: #","details":["#.utf8)
        if let detailsBin {
            var status: [UInt8] = []
            if case .success = Base64.decode(detailsBin, into: &status) {
                appendDetails(status, transcoder: transcoder, registry: registry, into: &out)
            }
        }
        out.append(contentsOf: "]}".utf8)
    }

    /// The `details` (field 3, repeated Any) of a serialized google.rpc.Status, comma-separated.
    private static func appendDetails(_ status: [UInt8], transcoder: JSONTranscoder?, registry: DescriptorRegistry?,
                                      into out: inout [UInt8]) {
        let anyType = registry?.message(named: "google.protobuf.Any")
        status.withUnsafeBytes { raw in
            var reader = ProtoReader(raw)
            var first = true
            var mark = out.count
            do throws(TranscodeError) {
                while let (number, wireType) = try reader.readTag() {
                    guard number == 3, wireType == .lengthDelimited else {
                        try reader.skip(wireType, number: number)
                        continue
                    }
                    let any = try reader.readLengthDelimited()
                    mark = out.count
                    if !first { out.append(UInt8(ascii: ",")) }
                    if let transcoder, let anyType, (try? transcoder.decode(proto: any, as: anyType, into: &out)) != nil {
                        first = false
                        mark = out.count
                        continue
                    }
                    out.removeSubrange(mark...)
                    if !first { out.append(UInt8(ascii: ",")) }
                    try appendOpaqueAny(any, into: &out)
                    first = false
                    mark = out.count
                }
            } catch {
                // A malformed detail: drop what was begun for it, keep the details written whole.
                out.removeSubrange(mark...)
            }
        }
    }

    /// `{"@type": url, "value": base64}` for an Any whose type the registry does not know.
    private static func appendOpaqueAny(_ any: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(TranscodeError) {
        var reader = ProtoReader(any)
        var url = UnsafeRawBufferPointer(start: nil, count: 0)
        var value = UnsafeRawBufferPointer(start: nil, count: 0)
        while let (number, wireType) = try reader.readTag() {
            switch (number, wireType) {
            case (1, .lengthDelimited): url = try reader.readLengthDelimited()
            case (2, .lengthDelimited): value = try reader.readLengthDelimited()
            default: try reader.skip(wireType, number: number)
            }
        }
        out.append(contentsOf: #"{"@type":"#.utf8)
        appendString(String(decoding: url, as: UTF8.self), into: &out)
        out.append(contentsOf: #","value":""#.utf8)
        Base64.encode(value, into: &out)
        out.append(contentsOf: "\"}".utf8)
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslash and control characters escaped.
    public static func appendString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendDecimal(_ value: Int, into out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }
}

import Channel
import HTTP2
import Transcoding

/// The fields of `trestle.demo.v1.EchoRequest` (routes/demo.proto) the service acts on, and the
/// replies and trailers they ask for.
struct DemoRequest {
    var message: [UInt8] = []
    var payload: [UInt8] = []
    var responseSize = 0
    var delayMs = 0
    var count = 0
    /// `status.code` as sent: any int32, codes gRPC does not define included (a test may ask for
    /// one); nil without a `status`.
    var statusCode: Int?
    var statusMessage = ""
    var withDetails = false
    /// Only `message` and `payload` set: the bytes can be echoed as they are.
    var isPlain = true

    init() {}

    /// Parses one request message's bytes (protobuf wire format).
    init(_ raw: UnsafeRawBufferPointer) throws(TranscodeError) {
        var r = ProtoReader(raw)
        while let (n, w) = try r.readTag() {
            switch (n, w) {
            case (1, .lengthDelimited): message = Array(try r.readLengthDelimited())
            case (2, .lengthDelimited): payload = Array(try r.readLengthDelimited())
            case (3, .varint): responseSize = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (4, .varint): delayMs = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (5, .varint): count = Int(Int32(truncatingIfNeeded: try r.readVarint())); isPlain = false
            case (6, .lengthDelimited):
                isPlain = false
                var s = ProtoReader(try r.readLengthDelimited())
                statusCode = Int(GRPCStatusCode.ok.rawValue)
                while let (sn, sw) = try s.readTag() {
                    switch (sn, sw) {
                    case (1, .varint): statusCode = Int(Int32(truncatingIfNeeded: try s.readVarint()))
                    case (2, .lengthDelimited): statusMessage = String(decoding: try s.readLengthDelimited(), as: UTF8.self)
                    case (3, .varint): withDetails = try s.readVarint() != 0
                    default: try s.skip(sw, number: sn)
                    }
                }
            default:
                try r.skip(w, number: n)
            }
        }
    }

    /// Parses a decoded request message; see `init(_:)` on a buffer.
    init(_ message: GRPCFrameDecoder.Message) throws(TranscodeError) {
        let parsed = message.payload.withUnsafeBytes { raw in
            Result { () throws(TranscodeError) -> DemoRequest in try DemoRequest(raw) }
        }
        self = try parsed.get()
    }

    /// The request asks for an OK answer (no `status`, or code 0).
    var asksForOK: Bool {
        statusCode.map { $0 == Int(GRPCStatusCode.ok.rawValue) } ?? true
    }

    /// `EchoResponse{message, payload (or response_size bytes), index}`, gRPC-framed.
    func response(index: Int32) -> [UInt8] {
        var w = ProtoWriter(capacity: message.count + max(payload.count, responseSize) + 16)
        if !message.isEmpty { w.appendTag(1, .lengthDelimited); w.appendLengthDelimited(message) }
        if responseSize > 0 {
            w.appendTag(2, .lengthDelimited)
            w.appendLengthDelimited([UInt8](repeating: UInt8(ascii: "x"), count: min(responseSize, 64 << 20)))
        } else if !payload.isEmpty {
            w.appendTag(2, .lengthDelimited); w.appendLengthDelimited(payload)
        }
        if index != 0 { w.appendTag(7, .varint); w.appendVarint(UInt64(UInt32(bitPattern: index))) }
        var framed: [UInt8] = []
        w.bytes.withUnsafeBytes { GRPCFrame.write(compressed: false, payload: $0, into: &framed) }
        return framed
    }

    /// The trailers that end the call: OK, or the status asked for (with google.rpc details).
    func trailers() -> Metadata {
        guard let code = statusCode, !asksForOK else { return Self.okTrailers() }
        return Self.trailers(code: code, message: statusMessage, withDetails: withDetails)
    }

    /// `grpc-status: 0`.
    static func okTrailers() -> Metadata {
        let t = Metadata(reservingBytes: 16, fields: 1)
        t.append("grpc-status", GRPCStatusCode.ok.decimalText)
        return t
    }

    /// Trailers for the service's own failures (a malformed or oversized request).
    static func trailers(_ status: GRPCStatusCode, _ message: String) -> Metadata {
        trailers(code: Int(status.rawValue), message: message, withDetails: false)
    }

    /// `grpc-status: code` and `grpc-message`, and with `withDetails` a `grpc-status-details-bin`
    /// holding `google.rpc.Status{code, message, details: [Any(google.rpc.ErrorInfo{reason,
    /// domain})]}`.
    private static func trailers(code: Int, message: String, withDetails: Bool) -> Metadata {
        let t = Metadata(reservingBytes: 128, fields: 3)
        t.append("grpc-status", String(code))
        t.append("grpc-message", GRPCStatusMessage.encode(message))
        if withDetails {
            var info = ProtoWriter()
            info.appendTag(1, .lengthDelimited); info.appendLengthDelimited(Array("DEMO_ERROR".utf8))
            info.appendTag(2, .lengthDelimited); info.appendLengthDelimited(Array("trestle.demo".utf8))
            var any = ProtoWriter()
            any.appendTag(1, .lengthDelimited); any.appendLengthDelimited(Array("type.googleapis.com/google.rpc.ErrorInfo".utf8))
            any.appendTag(2, .lengthDelimited); any.appendLengthDelimited(info.bytes)
            var status = ProtoWriter()
            status.appendTag(1, .varint); status.appendVarint(UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: code))))
            status.appendTag(2, .lengthDelimited); status.appendLengthDelimited(Array(message.utf8))
            status.appendTag(3, .lengthDelimited); status.appendLengthDelimited(any.bytes)
            var text: [UInt8] = []
            status.bytes.withUnsafeBytes { Base64.encode($0, into: &text) }
            while text.last == UInt8(ascii: "=") { text.removeLast() }  // gRPC -bin values are unpadded
            t.append("grpc-status-details-bin", String(decoding: text, as: UTF8.self))
        }
        return t
    }
}

import Channel
import Compression

/// The message translation of `application/grpc-web+json` (README, "gRPC-Web and CORS"): the
/// client's gRPC-Web frames carry JSON messages, the upstream speaks binary protobuf; each
/// message is transcoded with the route's `JSONTranscoder` and the method's message types, the
/// framing (5-byte prefix) rewritten around it. Request messages the client compressed (flag 1)
/// are decoded when its `grpc-encoding` is gzip; the upstream's gzip replies are decoded too.
/// Everything else about the call (CORS, trailers, text, flow control) is the gateway's
/// `GRPCWebFrontend`'s. Owned by one frontend; fuzzed by FuzzTranscoding (mode `G`).
public final class GRPCWebJSONCodec {
    public let inputType: MessageDescriptor
    public let outputType: MessageDescriptor
    public let transcoder: JSONTranscoder
    /// The client's `grpc-encoding` (nil: identity), for its compressed request messages.
    public let requestEncoding: String?
    /// The upstream's `grpc-encoding`, from its response head.
    public var responseEncoding: String?
    private let maxRequestMessage: Int
    private var requestFrames: GRPCFrameDecoder
    private var responseFrames = GRPCFrameDecoder(maxMessageSize: 64 << 20)
    private var inflated: [UInt8] = []
    private var out = ProtoWriter()
    private var json: [UInt8] = []

    /// A translation failure: the call ends with `code` and `message`.
    public struct Failure: Error, Equatable {
        public var code: GRPCStatusCode
        public var message: String
    }

    public init(inputType: MessageDescriptor, outputType: MessageDescriptor, transcoder: JSONTranscoder,
                requestEncoding: String?, maxRequestMessage: Int) {
        self.inputType = inputType
        self.outputType = outputType
        self.transcoder = transcoder
        self.requestEncoding = requestEncoding
        self.maxRequestMessage = maxRequestMessage
        requestFrames = GRPCFrameDecoder(maxMessageSize: maxRequestMessage)
    }

    /// Client bytes (gRPC-Web frames of JSON) in; each complete message is handed to `emit` as a
    /// framed protobuf message (a view, valid during the call).
    public func request(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        try Self.feed(&requestFrames, bytes, each: { (m) throws(Failure) in try self.requestMessage(m, emit: emit) }) { error in
            switch error {
            case .messageTooLarge(let n):
                Failure(code: .resourceExhausted, message: "a request message of \(n) bytes is larger than max_request_body (\(maxRequestMessage) bytes)")
            case .invalidFlag(let f):
                Failure(code: .invalidArgument, message: "malformed gRPC-Web request frame (flag \(f))")
            }
        }
    }

    /// Feeds `bytes` to `frames`, each complete message to `each`, until one fails: the first
    /// failure is the one thrown, a message's or the framing's (`framing`), whatever comes after
    /// it in the same bytes — as when the bytes come in smaller pieces (found by FuzzTranscoding
    /// mode G).
    private static func feed(_ frames: inout GRPCFrameDecoder, _ bytes: UnsafeRawBufferPointer,
                             each: (GRPCFrameDecoder.Message) throws(Failure) -> Void,
                             framing: (GRPCFrameDecoder.DecodeError) -> Failure) throws(Failure) {
        var failure: Failure?
        do throws(GRPCFrameDecoder.DecodeError) {
            try frames.feed(bytes) { message in
                guard failure == nil else { return }
                do throws(Failure) { try each(message) } catch { failure = error }
            }
        } catch {
            throw failure ?? framing(error)
        }
        if let failure { throw failure }
    }

    /// The request body ended: it must not end inside a message.
    public func requestEnd() throws(Failure) {
        if requestFrames.hasPartialMessage {
            throw Failure(code: .invalidArgument, message: "the gRPC-Web request body ends inside a message")
        }
    }

    private func requestMessage(_ message: GRPCFrameDecoder.Message, emit: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        if message.compressed {
            try inflate(message.payload, encoding: requestEncoding, limit: maxRequestMessage, what: "request message")
        }
        out.bytes.removeAll(keepingCapacity: true)
        out.bytes.append(contentsOf: [0, 0, 0, 0, 0] as [UInt8])
        do throws(TranscodeError) {
            let json = message.compressed ? inflated : message.payload
            try json.withTranscodeThrows { (raw) throws(TranscodeError) in
                try transcoder.encode(json: raw, as: inputType, into: &out)
            }
        } catch {
            throw Failure(code: .invalidArgument, message: error.message)
        }
        Self.fillPrefix(&out.bytes)
        out.bytes.withUnsafeBytes { emit($0) }
    }

    /// Upstream bytes (gRPC frames of protobuf) in; each complete message is handed to `emit` as
    /// a gRPC-Web frame of JSON.
    public func response(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        try Self.feed(&responseFrames, bytes, each: { (m) throws(Failure) in try self.responseMessage(m, emit: emit) }) { error in
            switch error {
            case .messageTooLarge(let n):
                Failure(code: .resourceExhausted, message: "upstream response message of \(n) bytes is larger than the gateway's limit")
            case .invalidFlag(let f):
                Failure(code: .internalError, message: "upstream sent a malformed gRPC message prefix (flag \(f))")
            }
        }
    }

    private func responseMessage(_ message: GRPCFrameDecoder.Message, emit: (UnsafeRawBufferPointer) -> Void) throws(Failure) {
        if message.compressed {
            try inflate(message.payload, encoding: responseEncoding, limit: 64 << 20, what: "upstream reply")
        }
        json.removeAll(keepingCapacity: true)
        json.append(contentsOf: [0, 0, 0, 0, 0] as [UInt8])
        do throws(TranscodeError) {
            let proto = message.compressed ? inflated : message.payload
            try proto.withTranscodeThrows { (raw) throws(TranscodeError) in
                try transcoder.decode(proto: raw, as: outputType, into: &json)
            }
        } catch {
            throw Failure(code: .internalError, message: "cannot translate the upstream's \(outputType.fullName) to JSON: \(error.message)")
        }
        Self.fillPrefix(&json)
        json.withUnsafeBytes { emit($0) }
    }

    /// Decompresses a message into `inflated`: gzip only.
    private func inflate(_ payload: [UInt8], encoding: String?, limit: Int, what: String) throws(Failure) {
        guard let encoding, encoding == "gzip" else {
            throw Failure(code: .unimplemented, message: encoding.map {
                "\(what) compressed with grpc-encoding \($0); the gateway decodes gzip only"
            } ?? "\(what) has the compressed flag set but no grpc-encoding")
        }
        inflated.removeAll(keepingCapacity: true)
        if let why = payload.withUnsafeBytes({ Gzip.decompress($0, limit: limit, into: &inflated) }) {
            throw Failure(code: what == "upstream reply" ? .internalError : .invalidArgument, message: "cannot decompress the \(what): \(why)")
        }
    }

    /// Writes the 5-byte prefix (uncompressed, the length) of a message built after 5 free bytes.
    private static func fillPrefix(_ bytes: inout [UInt8]) {
        let length = UInt32(bytes.count - GRPCFrame.headerSize)
        bytes[0] = 0
        bytes[1] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[3] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[4] = UInt8(truncatingIfNeeded: length)
    }
}

private extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body that throws `TranscodeError` (the standard one rethrows untyped).
    func withTranscodeThrows<R>(_ body: (UnsafeRawBufferPointer) throws(TranscodeError) -> R) throws(TranscodeError) -> R {
        let result = withUnsafeBytes { raw -> Result<R, TranscodeError> in
            do throws(TranscodeError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

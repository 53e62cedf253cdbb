import Channel

/// Native gRPC (PROTOCOL-HTTP2.md): length-prefixed messages, `grpc-status` in the trailers or
/// in a trailers-only response. HTTP/2 only: it needs trailers.
public struct GRPCWireFormat: WireFormat {
    public init() {}

    public var name: String { "grpc" }
    public var transports: [LoadTransport] { [.http2] }

    public func requestFields(scenario: LoadScenario) -> [(String, String)] {
        [("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "trestle-load")]
    }

    public func frame(message: [UInt8], scenario: LoadScenario) -> [UInt8] {
        var out: [UInt8] = []
        message.withUnsafeBytes { GRPCFrame.write(compressed: false, payload: $0, into: &out) }
        return out
    }

    public func makeReader(scenario: LoadScenario) -> ResponseReader { GRPCResponseReader() }
}

/// Counts response messages by their 5-byte prefixes without copying them, and takes the status
/// from `grpc-status` wherever it comes (trailers, or the headers of a trailers-only response).
final class GRPCResponseReader: ResponseReader {
    var httpStatus = 0
    /// The `grpc-status` value, -1 until one arrives; 17 stands for a value that is not a code.
    private var status = -1
    /// Prefix bytes of the current message read so far (0 ..< 5).
    private var prefixFilled = 0
    private var length = 0
    /// Payload bytes of the current message still to come.
    private var remaining = 0
    private var malformed = false

    func reset() {
        httpStatus = 0
        status = -1
        prefixFilled = 0
        length = 0
        remaining = 0
        malformed = false
    }

    func field(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, trailer: Bool) {
        guard name.equals("grpc-status") else { return }
        status = GRPCStatusCode(decimalText: value).map { Int($0.rawValue) } ?? 17
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !malformed else { return 0 }
        var i = 0, done = 0
        let n = bytes.count
        while i < n {
            if remaining > 0 {
                let take = min(remaining, n - i)
                remaining -= take
                i += take
                if remaining == 0 { done += 1 }
                continue
            }
            let b = bytes[i]
            i += 1
            if prefixFilled == 0 {
                guard b <= 1 else { malformed = true; return done }
                length = 0
            } else {
                length = length << 8 | Int(b)
            }
            prefixFilled += 1
            if prefixFilled == GRPCFrame.headerSize {
                prefixFilled = 0
                if length == 0 { done += 1 } else { remaining = length }
            }
        }
        return done
    }

    func finish() -> CallResult {
        if malformed { return CallResult(code: .internalError) }
        if status >= 0 {
            let code = GRPCStatusCode(rawValue: UInt8(status)) ?? .unknown
            // A message cut short by the end of the stream is a broken response (gRPC clients: INTERNAL).
            if code == .ok && (prefixFilled > 0 || remaining > 0) { return CallResult(code: .internalError) }
            return CallResult(code: code)
        }
        if httpStatus != 0 && httpStatus != 200 {
            return CallResult(code: .fromHTTPStatus(httpStatus), missingStatus: true)
        }
        return CallResult(code: .unknown, missingStatus: true)
    }
}

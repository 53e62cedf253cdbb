import Channel

/// JSON over HTTP as the gateway serves it (README, "JSON over HTTP"): the request message is
/// the body (newline-delimited when the request is a stream); a unary answer is one JSON body, a
/// streamed one is NDJSON with a final `{"error": …}` line on failure; errors are google.rpc.Status
/// bodies with the mapped HTTP status. `grpc-status` is used when the gateway sends it (a header,
/// or a chunked trailer, asked for with `te: trailers`).
public struct JSONWireFormat: WireFormat {
    public init() {}

    public var name: String { "json" }
    public var transports: [LoadTransport] { [.http1, .http2] }

    public func requestFields(scenario: LoadScenario) -> [(String, String)] {
        var fields = [("content-type", "application/json"), ("user-agent", "trestle-load")]
        if scenario.streamsResponse { fields.append(("te", "trailers")) }
        return fields
    }

    public func frame(message: [UInt8], scenario: LoadScenario) -> [UInt8] {
        scenario.streamsRequest ? message + [0x0A] : message
    }

    public func makeReader(scenario: LoadScenario) -> ResponseReader {
        JSONResponseReader(delimited: scenario.streamsResponse)
    }
}

final class JSONResponseReader: ResponseReader {
    var httpStatus = 0
    /// NDJSON: one message per line.
    let delimited: Bool
    private var grpcStatus = -1
    private var bodyBytes = 0
    /// The first bytes of the current NDJSON line, or of a non-200 body: enough to find `"code"`.
    private var head: [UInt8] = []
    private static let headLimit = 512
    /// How the gateway's NDJSON stream error line starts (README, "JSON over HTTP").
    private static let errorKey: [UInt8] = Array("{\"error\"".utf8)
    /// Bytes of the current NDJSON line seen.
    private var lineLength = 0
    private var errorCode = -1

    init(delimited: Bool) {
        self.delimited = delimited
        head.reserveCapacity(JSONResponseReader.headLimit)
    }

    func reset() {
        httpStatus = 0
        grpcStatus = -1
        bodyBytes = 0
        head.removeAll(keepingCapacity: true)
        lineLength = 0
        errorCode = -1
    }

    func field(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, trailer: Bool) {
        guard ASCII.equalsIgnoringCase(name, "grpc-status") else { return }
        grpcStatus = GRPCStatusCode(decimalText: value).map { Int($0.rawValue) } ?? 17
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int {
        bodyBytes += bytes.count
        guard delimited && httpStatus == 200 else {
            if httpStatus != 200 { keepHead(bytes) }  // an error body: its "code" is read at the end
            return 0
        }
        var done = 0
        var start = 0
        for i in 0 ..< bytes.count where bytes[i] == 0x0A {
            keepHead(UnsafeRawBufferPointer(rebasing: bytes[start ..< i]))
            lineLength += i - start
            done += endLine()
            start = i + 1
        }
        if start < bytes.count {
            keepHead(UnsafeRawBufferPointer(rebasing: bytes[start...]))
            lineLength += bytes.count - start
        }
        return done
    }

    private func keepHead(_ bytes: UnsafeRawBufferPointer) {
        let room = JSONResponseReader.headLimit - head.count
        if room > 0 { head.append(contentsOf: bytes.prefix(room)) }
    }

    /// One NDJSON line is complete: a message, or the stream's error.
    private func endLine() -> Int {
        defer { head.removeAll(keepingCapacity: true); lineLength = 0 }
        guard lineLength > 0 else { return 0 }
        let key = JSONResponseReader.errorKey
        let isError = head.count >= key.count && head.prefix(key.count).elementsEqual(key)
        if isError {
            errorCode = head.withUnsafeBytes { Self.jsonCode($0) } ?? Int(GRPCStatusCode.unknown.rawValue)
            return 0
        }
        return 1
    }

    func finish() -> CallResult {
        var trailing = 0
        if delimited && httpStatus == 200 {
            trailing = endLine()  // a last line without its newline
        } else if httpStatus == 200 && bodyBytes > 0 {
            trailing = 1
        }
        if grpcStatus >= 0 {
            return CallResult(code: GRPCStatusCode(rawValue: UInt8(grpcStatus)) ?? .unknown, trailingMessages: trailing)
        }
        if httpStatus == 200 {
            if errorCode >= 0 {
                return CallResult(code: GRPCStatusCode(rawValue: UInt8(clamping: errorCode)) ?? .unknown,
                                  trailingMessages: trailing)
            }
            return CallResult(code: .ok, trailingMessages: trailing)
        }
        // An error body: google.rpc.Status carries the code; without one, the HTTP status says it.
        if let code = head.withUnsafeBytes({ Self.jsonCode($0) }) {
            return CallResult(code: GRPCStatusCode(rawValue: UInt8(clamping: code)) ?? .unknown)
        }
        return CallResult(code: httpStatus == 0 ? .unknown : .fromHTTPStatus(httpStatus), missingStatus: true)
    }

    private static let codeKey: [UInt8] = Array("\"code\"".utf8)

    /// The number after the first `"code"` key in a JSON text (a google.rpc.Status body, or an
    /// NDJSON `{"error": {...}}` line), or nil.
    private static func jsonCode(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let key = codeKey
        guard bytes.count >= key.count else { return nil }
        var i = 0
        while i + key.count <= bytes.count {
            var match = true
            for k in 0 ..< key.count where bytes[i + k] != key[k] { match = false; break }
            if match {
                var j = i + key.count
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { return nil }
                j += 1
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
                var v = 0, digits = 0
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39, digits < 9 {
                    v = v * 10 + Int(bytes[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? v : nil
            }
            i += 1
        }
        return nil
    }
}

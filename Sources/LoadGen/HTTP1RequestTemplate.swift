/// The bytes of every HTTP/1.1 request of a run, built once: the head, the whole unary request,
/// and the chunk framing of one streamed message.
final class HTTP1RequestTemplate: @unchecked Sendable {
    /// Head and body of a request whose body is one message (Content-Length).
    let unaryRequest: [UInt8]
    /// Head of a request whose body is a stream of messages (chunked).
    let streamingHead: [UInt8]
    /// `<hex length>\r\n` for one framed message.
    let chunkPrefix: [UInt8]
    static let chunkSuffix: [UInt8] = [0x0D, 0x0A]
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    init(plan: LoadPlan, body: RequestBody) {
        var head = "POST \(plan.path) HTTP/1.1\r\nhost: \(plan.authority)\r\n"
        for (name, value) in plan.format.requestFields(scenario: plan.scenario) { head += "\(name): \(value)\r\n" }
        for (name, value) in plan.extraHeaders { head += "\(name): \(value)\r\n" }
        let message = Array(UnsafeRawBufferPointer(body.message))
        unaryRequest = Array((head + "content-length: \(message.count)\r\n\r\n").utf8) + message
        streamingHead = Array((head + "transfer-encoding: chunked\r\n\r\n").utf8)
        chunkPrefix = Array((String(message.count, radix: 16) + "\r\n").utf8)
    }
}

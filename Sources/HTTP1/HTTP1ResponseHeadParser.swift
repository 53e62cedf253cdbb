/// The response's side of `HTTP1MessageParser`: the status line, and what the status, the request
/// method and the fields say about the body and the connection (RFC 9112 §4, §6.3, §9.3;
/// RFC 9110 §15).
struct HTTP1ResponseHeadParser: HTTP1HeadParser {
    typealias Event = HTTP1ResponseEvent

    static let messageName = "response"
    static let startLineName = "status line"
    static let skipsEmptyLinesBeforeStartLine = false

    static func startLineLimit(_ limits: HTTP1Limits) -> Int {
        limits.maxStatusLine
    }

    static func startLineTooLong(_ limits: HTTP1Limits) -> HTTP1ParseError {
        .badRequest("status line longer than \(limits.maxStatusLine) bytes")
    }

    /// A response that cannot be read is the upstream's fault: whatever the rule broken, the
    /// status is 502, what a gateway answers its own client then (RFC 9110 §15.6.3).
    static func failure(_ error: HTTP1ParseError) -> HTTP1ParseError {
        HTTP1ParseError(status: 502, message: error.message)
    }

    /// The next final response answers a HEAD request (see `HTTP1ResponseParser`).
    var respondingToHead = false

    // The response being parsed.
    var version = HTTP1Version.http11
    var status = 0
    var reason = ""

    // MARK: Status line

    /// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4), the SP after
    /// the code required even when the reason is empty; status-code = 3DIGIT in 100...599
    /// (RFC 9110 §15: other values are invalid).
    mutating func parseStartLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        let malformed = HTTP1ParseError.badRequest("malformed status line \(HTTP1Syntax.quoted(line))")
        guard let firstSpace = line.firstIndex(of: HTTP1Syntax.space) else { throw malformed }
        version = try HTTP1Version(parsing: HTTP1Syntax.slice(line, 0..<firstSpace))

        let codeStart = firstSpace + 1
        guard let codeEnd = line[codeStart...].firstIndex(of: HTTP1Syntax.space) else { throw malformed }
        let code = HTTP1Syntax.slice(line, codeStart..<codeEnd)
        guard code.count == 3, code.allSatisfy(HTTP1Syntax.isDigit) else {
            throw .badRequest("invalid status code \(HTTP1Syntax.quoted(code))")
        }
        let value = code.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard (100...599).contains(value) else { throw .badRequest("invalid status code \(HTTP1Syntax.quoted(code))") }

        // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
        let reasonBytes = HTTP1Syntax.slice(line, (codeEnd + 1)..<line.count)
        for byte in reasonBytes where !HTTP1Syntax.isFieldValueByte(byte) {
            throw .badRequest("control character \(HTTP1Syntax.byteName(byte)) in reason phrase")
        }
        status = value
        reason = String(decoding: reasonBytes, as: UTF8.self)
    }

    /// No field beyond the framing ones matters to a client's parser.
    mutating func noteField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {}

    // MARK: End of the head

    /// Judges the complete head (RFC 9112 §6.3) and reports it.
    mutating func finishHead(headers: HTTP1Fields, framing: HTTP1FramingFields) throws(HTTP1ParseError) -> HTTP1HeadDecision<HTTP1ResponseEvent> {
        // RFC 9110 §15.2: an interim response has no content; the final one follows. 101 is
        // final for HTTP/1.1: what follows it is another protocol.
        if status < 200 && status != 101 {
            let head = HTTP1ResponseHead(version: version, status: status, reason: reason, headers: headers, body: .none, keepAlive: true)
            return .interim(.informational(head))
        }
        // RFC 9112 §6.3 rule 1: a response to HEAD, a 1xx, 204 or 304 ends with its header
        // section, whatever its fields say; rule 8: with neither framing field, the close ends it.
        let bodyless = respondingToHead || status == 101 || status == 204 || status == 304
        let body = bodyless ? .none : try framing.bodyFraming(version: version, messageName: Self.messageName) ?? .untilClose
        let keepAlive = status != 101 && body != .untilClose && framing.keepAlive(version: version)
        let head = HTTP1ResponseHead(version: version, status: status, reason: reason, headers: headers, body: body, keepAlive: keepAlive)
        reason = ""
        return .message(.head(head), body: body, keepAlive: keepAlive, stopAfter: false)
    }

    mutating func messageEnded() {
        respondingToHead = false
    }
}

/// Writes HTTP/1.1 responses (RFC 9112 §4, §6, §7.1) by appending bytes to a caller's buffer.
///
/// Every function appends and never clears. Functions taking fields or a reason phrase validate
/// them first and throw `HTTP1WriteError` with the buffer untouched: a name that is not a token,
/// or a value or reason with a control character (CR and LF above all: response splitting).
/// Misuse that is a bug (a status outside 100...999, a body framed on a 1xx or 204) traps.
///
/// The status line always says HTTP/1.1, also to an HTTP/1.0 client (RFC 9110 §2.5: a server
/// sends its own highest version); the caller must not frame a response to an HTTP/1.0 request
/// as chunked, and answers it with `Connection: close` or `keep-alive` as it decides.
public enum HTTP1ResponseWriter {
    /// Status line, `headers` in order, the framing header, and the empty line.
    ///
    /// - Parameters:
    ///   - reason: the reason phrase; nil for the standard one (`reasonPhrase(for:)`).
    ///   - framing: `.contentLength(n)` writes `Content-Length: n`, `.chunked` writes
    ///     `Transfer-Encoding: chunked` (then use `writeChunk` and `writeLastChunk`), `.none`
    ///     writes neither (1xx, 204, 304, or a caller that writes its own, as for HEAD), nor
    ///     does `.untilClose` (the caller closes the connection after the body).
    /// - Throws: an invalid field or reason; also `headers` holding `Content-Length` or
    ///   `Transfer-Encoding` while `framing` writes one (two framings is the smuggling this
    ///   module exists to refuse).
    public static func writeHead(
        status: Int,
        reason: String? = nil,
        headers: HTTP1Fields = HTTP1Fields(),
        framing: HTTP1BodyFraming,
        into buffer: inout [UInt8]
    ) throws(HTTP1WriteError) {
        precondition((100...999).contains(status), "status \(status) is not three digits")
        // RFC 9110 §8.6, §6.1: no Content-Length or Transfer-Encoding on 1xx or 204.
        precondition(framing == .none || !(status < 200 || status == 204), "a \(status) response has no body")
        let reason = reason ?? reasonPhrase(for: status)
        // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4)
        for byte in reason.utf8 where !HTTP1Syntax.isFieldValueByte(byte) {
            throw HTTP1WriteError(message: "control character \(HTTP1Syntax.byteName(byte)) in reason phrase")
        }
        try validate(headers)
        if framing != .none, let name = ["Content-Length", "Transfer-Encoding"].first(where: headers.contains) {
            throw HTTP1WriteError(message: "\(name) in headers of a response whose framing is written by the writer")
        }

        buffer.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status, to: &buffer)
        buffer.append(HTTP1Syntax.space)
        buffer.append(contentsOf: reason.utf8)
        appendCRLF(to: &buffer)
        append(headers, to: &buffer)
        switch framing {
        case .none, .untilClose:
            break
        case .contentLength(let length):
            precondition(length >= 0, "negative Content-Length")
            buffer.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(length, to: &buffer)
            appendCRLF(to: &buffer)
        case .chunked:
            buffer.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        }
        appendCRLF(to: &buffer)
    }

    /// `HTTP/1.1 100 Continue` and its empty line: the interim answer to `Expect: 100-continue`
    /// (RFC 9110 §10.1.1, §15.2.1), written before the final response.
    public static func writeContinue(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
    }

    /// One chunk: size line, `data`, CRLF. Empty `data` writes nothing (a chunk of size zero
    /// would end the body).
    public static func writeChunk(_ data: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        guard !data.isEmpty else { return }
        writeChunkPrefix(length: data.count, into: &buffer)
        buffer.append(contentsOf: data)
        writeChunkSuffix(into: &buffer)
    }

    /// One chunk; see `writeChunk(_:into:)` on a buffer.
    public static func writeChunk(_ data: [UInt8], into buffer: inout [UInt8]) {
        data.withUnsafeBytes { writeChunk($0, into: &buffer) }
    }

    /// The size line of a chunk of `length` bytes (`1a\r\n`, lower-case hex), for a caller that
    /// sends the data from its own buffer (a vectored write) instead of copying it here; follow
    /// the data with `writeChunkSuffix`.
    public static func writeChunkPrefix(length: Int, into buffer: inout [UInt8]) {
        precondition(length > 0, "a chunk of size \(length) would end the body")
        appendHex(length, to: &buffer)
        appendCRLF(to: &buffer)
    }

    /// The CRLF that ends a chunk's data.
    public static func writeChunkSuffix(into buffer: inout [UInt8]) {
        appendCRLF(to: &buffer)
    }

    /// The last chunk, `trailers` as the trailer section (RFC 9112 §7.1.2), and the empty line
    /// that ends the body.
    public static func writeLastChunk(trailers: HTTP1Fields = HTTP1Fields(), into buffer: inout [UInt8]) throws(HTTP1WriteError) {
        try validate(trailers)
        buffer.append(contentsOf: "0\r\n".utf8)
        append(trailers, to: &buffer)
        appendCRLF(to: &buffer)
    }

    /// A whole response for a refused request: `error.status`, `Connection: close`, and
    /// `error.message` as a plain-text body. The caller closes the connection after writing it.
    public static func writeError(_ error: HTTP1ParseError, into buffer: inout [UInt8]) {
        var body = Array(error.message.utf8)
        body.append(HTTP1Syntax.lf)
        let headers: HTTP1Fields = ["Content-Type": "text/plain; charset=utf-8", "Connection": "close"]
        do {
            try writeHead(status: error.status, headers: headers, framing: .contentLength(body.count), into: &buffer)
        } catch {
            preconditionFailure("constant headers are valid: \(error)")
        }
        buffer.append(contentsOf: body)
    }

    /// The standard reason phrase of `status` (RFC 9110 §15, RFC 6585), or an empty one.
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 499: "Client Closed Request"  // nginx's, used by the gRPC→HTTP table for CANCELLED
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    // MARK: Pieces

    /// Checks every field before anything is written: names are tokens (RFC 9110 §5.1), values
    /// hold no control character but HTAB (RFC 9110 §5.5).
    private static func validate(_ fields: HTTP1Fields) throws(HTTP1WriteError) {
        for field in fields {
            guard !field.nameBytes.isEmpty else { throw HTTP1WriteError(message: "empty field name") }
            for byte in field.nameBytes where !HTTP1Syntax.isTokenByte(byte) {
                let name = field.nameBytes.withUnsafeBytes { HTTP1Syntax.quoted($0) }
                throw HTTP1WriteError(message: "invalid character \(HTTP1Syntax.byteName(byte)) in field name \(name)")
            }
            for byte in field.valueBytes where !HTTP1Syntax.isFieldValueByte(byte) {
                let name = field.nameBytes.withUnsafeBytes { HTTP1Syntax.quoted($0) }
                throw HTTP1WriteError(message: "control character \(HTTP1Syntax.byteName(byte)) in value of field \(name)")
            }
        }
    }

    private static func append(_ fields: HTTP1Fields, to buffer: inout [UInt8]) {
        for field in fields {
            buffer.append(contentsOf: field.nameBytes)
            buffer.append(HTTP1Syntax.colon)
            buffer.append(HTTP1Syntax.space)
            buffer.append(contentsOf: field.valueBytes)
            appendCRLF(to: &buffer)
        }
    }

    @inline(__always)
    private static func appendCRLF(to buffer: inout [UInt8]) {
        buffer.append(HTTP1Syntax.cr)
        buffer.append(HTTP1Syntax.lf)
    }

    /// `value` in decimal, without a String.
    private static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        precondition(value >= 0)
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            buffer.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// `value` in lower-case hex, without a String.
    private static func appendHex(_ value: Int, to buffer: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - value.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            buffer.append(digits.utf8Start[(value >> shift) & 0xF])
            shift -= 4
        }
    }
}

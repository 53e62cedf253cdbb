/// What a message's header fields say about its framing and its connection, as both sides read
/// them (RFC 9112 §6, §9.3; RFC 9110 §7.6.1, §8.6): `Content-Length`, `Transfer-Encoding` and the
/// options of `Connection`, gathered line by line and judged once the section is complete.
struct HTTP1FramingFields: Sendable {
    var contentLength: Int?
    var transferEncoding = false
    /// How many times `chunked` was listed, and whether it was the last coding listed.
    var chunkedCount = 0
    var lastCodingIsChunked = false
    /// The first coding other than `chunked`, for the 501's message.
    var unsupportedCoding: String?
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false

    /// Records what a header field means for framing and the connection. The names are compared
    /// by length first: most fields are none of these.
    mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        switch name.count {
        case 10 where HTTP1Syntax.equalsIgnoringCase(name, "connection"):
            HTTP1Syntax.forEachListElement(value) { option in
                if HTTP1Syntax.equalsIgnoringCase(option, "close") {
                    connectionClose = true
                } else if HTTP1Syntax.equalsIgnoringCase(option, "keep-alive") {
                    connectionKeepAlive = true
                } else if HTTP1Syntax.equalsIgnoringCase(option, "upgrade") {
                    connectionUpgrade = true
                }
            }
        case 14 where HTTP1Syntax.equalsIgnoringCase(name, "content-length"):
            try noteContentLength(value)
        case 17 where HTTP1Syntax.equalsIgnoringCase(name, "transfer-encoding"):
            try noteTransferEncoding(value)
        default:
            break
        }
    }

    /// The framing the fields give, nil when neither `Content-Length` nor `Transfer-Encoding`
    /// was sent (a request then has no body, a response runs until the close).
    ///
    /// - Throws: framing that cannot be trusted (RFC 9112 §6.1, §6.3 rules 3–5). A message of
    ///   the other kind ("request" or "response") is named in the messages.
    func bodyFraming(version: HTTP1Version, messageName: String) throws(HTTP1ParseError) -> HTTP1BodyFraming? {
        guard transferEncoding else { return contentLength.map { .contentLength($0) } }
        // RFC 9112 §6.1 / §6.3 rule 3: both headers is how request smuggling (and response
        // splitting) starts; a recipient ought to handle it as an error, and this one does.
        guard contentLength == nil else { throw .badRequest("both Content-Length and Transfer-Encoding") }
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
        guard version == .http11 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 \(messageName)") }
        // RFC 9112 §6.1: chunked MUST NOT be applied more than once.
        guard chunkedCount <= 1 else { throw .badRequest("chunked applied more than once in Transfer-Encoding") }
        // RFC 9112 §6.3 rule 4: a request whose final coding is not chunked has no determinable
        // length: 400. (A response's would run until the close, but it is in a coding nobody
        // here decodes: refused as well.)
        guard lastCodingIsChunked else { throw .badRequest("Transfer-Encoding does not end with chunked") }
        // RFC 9112 §6.1: a coding the recipient does not understand is a 501. None is
        // implemented beyond chunked: a gateway forwards messages, it does not decompress.
        if let coding = unsupportedCoding {
            throw HTTP1ParseError(status: 501, message: "unsupported transfer coding \"\(coding)\"")
        }
        return .chunked
    }

    /// Whether the connection persists after the message (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection` lists `close`; HTTP/1.0 only if it lists `keep-alive` and not `close`.
    func keepAlive(version: HTTP1Version) -> Bool {
        switch version {
        case .http11: !connectionClose
        case .http10: connectionKeepAlive && !connectionClose
        }
    }

    /// Content-Length = 1*DIGIT (RFC 9110 §8.6). Each element of a comma list, and each
    /// repeated field line, must be plain decimal; a repetition of one value ("42, 42", or two
    /// lines "42" — what a proxy that merged duplicates sends) is accepted as that value, as
    /// §8.6 allows; values that differ are refused (RFC 9112 §6.3 rule 5). Leading zeros are
    /// decimal too: "042" is 42 and equals "42".
    private mutating func noteContentLength(_ value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != HTTP1Syntax.comma { end += 1 }
            let element = HTTP1Syntax.trimmingWhitespace(HTTP1Syntax.slice(value, start..<end))
            guard !element.isEmpty, element.allSatisfy(HTTP1Syntax.isDigit) else {
                throw .badRequest("invalid Content-Length \(HTTP1Syntax.quoted(value))")
            }
            var length = 0
            for digit in element {
                let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw .badRequest("Content-Length \(HTTP1Syntax.quoted(element)) too large") }
                length = sum
            }
            if let previous = contentLength, previous != length {
                throw .badRequest("differing Content-Length values \(previous) and \(length)")
            }
            contentLength = length
            start = end + 1
        }
    }

    /// Transfer-Encoding = #transfer-coding; transfer-coding = token *( OWS ";" OWS
    /// transfer-parameter ) (RFC 9112 §6.1, §7). Only syntax is checked per line; which codings
    /// are acceptable is decided over all lines in `bodyFraming`.
    private mutating func noteTransferEncoding(_ value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        transferEncoding = true
        let invalid = HTTP1ParseError.badRequest("invalid Transfer-Encoding \(HTTP1Syntax.quoted(value))")
        var index = 0
        while true {
            // Empty list elements are ignored (RFC 9110 §5.6.1).
            while index < value.count, HTTP1Syntax.isWhitespace(value[index]) || value[index] == HTTP1Syntax.comma { index += 1 }
            if index == value.count { break }
            guard let name = HTTP1Syntax.scanToken(value, &index) else { throw invalid }
            let parameters = HTTP1Syntax.scanParameters(value, &index, valueRequired: true)
            guard parameters.ok else { throw invalid }
            HTTP1Syntax.skipWhitespace(value, &index)
            guard index == value.count || value[index] == HTTP1Syntax.comma else { throw invalid }

            let coding = HTTP1Syntax.slice(value, name)
            if HTTP1Syntax.equalsIgnoringCase(coding, "chunked") {
                // chunked defines no parameters (RFC 9112 §7.1).
                guard !parameters.any else { throw invalid }
                chunkedCount += 1
                lastCodingIsChunked = true
            } else {
                lastCodingIsChunked = false
                if unsupportedCoding == nil { unsupportedCoding = String(decoding: coding, as: UTF8.self) }
            }
        }
    }
}

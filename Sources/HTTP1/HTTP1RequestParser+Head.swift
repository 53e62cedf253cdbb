/// The request line and the header section (RFC 9112 §3, §5), and what the head says about the
/// body and the connection (RFC 9112 §6, §9; RFC 9110 §7.6.1, §7.8, §8.6, §10.1.1).
extension HTTP1RequestParser {
    /// What the header fields said that matters to the parser, gathered line by line and judged
    /// once the section is complete.
    struct HeadFacts: Sendable {
        var contentLength: Int?
        var transferEncoding = false
        /// How many times `chunked` was listed, and whether it was the last coding listed.
        var chunkedCount = 0
        var lastCodingIsChunked = false
        /// The first coding other than `chunked`, for the 501's message.
        var unsupportedCoding: String?
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var connectionUpgrade = false
        var expectsContinue = false
        /// Every `Upgrade` field value, comma-joined (usually empty: no allocation).
        var upgradeValues: [UInt8] = []
        var http2SettingsCount = 0
    }

    // MARK: Request line

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), split at the first
    /// and the last SP so that whitespace inside the target is named as such.
    mutating func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        guard let firstSpace = line.firstIndex(of: HTTP1Syntax.space),
              let lastSpace = line.lastIndex(of: HTTP1Syntax.space),
              firstSpace > 0, lastSpace > firstSpace + 1
        else { throw .badRequest("malformed request line \(HTTP1Syntax.quoted(line))") }

        let methodBytes = HTTP1Syntax.slice(line, 0..<firstSpace)
        guard methodBytes.allSatisfy(HTTP1Syntax.isTokenByte) else {
            throw .badRequest("invalid method \(HTTP1Syntax.quoted(methodBytes))")
        }

        // RFC 9112 §3.2: the target is a URI reference, visible ASCII only; whitespace in it is
        // the classic sign of a client that did not encode it (§3.2 says: reject with 400).
        let targetBytes = HTTP1Syntax.slice(line, (firstSpace + 1)..<lastSpace)
        for byte in targetBytes where byte <= 0x20 || byte >= 0x7F {
            if HTTP1Syntax.isWhitespace(byte) { throw .badRequest("whitespace in request target") }
            throw .badRequest("invalid byte \(HTTP1Syntax.byteName(byte)) in request target")
        }

        let versionBytes = HTTP1Syntax.slice(line, (lastSpace + 1)..<line.count)
        version = try Self.parseVersion(versionBytes)
        method = String(decoding: methodBytes, as: UTF8.self)
        target = String(decoding: targetBytes, as: UTF8.self)
        state = .headerLine
        sectionBytes = 0
        fields = HTTP1Fields(reservingCount: 16, bytes: 512)
        facts = HeadFacts()
    }

    /// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). HTTP/1.x with
    /// x > 1 is read as HTTP/1.1, as RFC 9110 §2.5 asks of a recipient that implements the
    /// major version; any other major version gets 505.
    static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> HTTP1Version {
        guard bytes.count == 8,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
              HTTP1Syntax.isDigit(bytes[5]), HTTP1Syntax.isDigit(bytes[7])
        else { throw .badRequest("invalid HTTP version \(HTTP1Syntax.quoted(bytes))") }
        guard bytes[5] == UInt8(ascii: "1") else {
            throw HTTP1ParseError(status: 505, message: "unsupported HTTP version \(HTTP1Syntax.quoted(bytes))")
        }
        return bytes[7] == UInt8(ascii: "0") ? .http10 : .http11
    }

    // MARK: Field lines

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), for the header section or
    /// (`inTrailers`) the trailer section.
    mutating func parseFieldLine(_ line: UnsafeRawBufferPointer, inTrailers: Bool) throws(HTTP1ParseError) {
        let section = inTrailers ? "trailer" : "header"
        if HTTP1Syntax.isWhitespace(line[0]) {
            // RFC 9112 §2.2 (before the first field) and §5.2 (obs-fold): a server MUST reject
            // the message or discard/replace the line; we reject.
            if fields.isEmpty { throw .badRequest("whitespace before the first \(section) field") }
            throw .badRequest("obs-fold: \(section) line starts with whitespace")
        }
        guard let colon = line.firstIndex(of: HTTP1Syntax.colon) else {
            throw .badRequest("\(section) line without a colon: \(HTTP1Syntax.quoted(line))")
        }
        let name = HTTP1Syntax.slice(line, 0..<colon)
        guard let lastNameByte = name.last else { throw .badRequest("empty \(section) field name") }
        // RFC 9112 §5.1: a server MUST reject whitespace between the field name and the colon.
        if HTTP1Syntax.isWhitespace(lastNameByte) {
            throw .badRequest("whitespace between \(section) field name and colon")
        }
        for byte in name where !HTTP1Syntax.isTokenByte(byte) {
            throw .badRequest("invalid character \(HTTP1Syntax.byteName(byte)) in \(section) field name \(HTTP1Syntax.quoted(name))")
        }
        // RFC 9110 §5.5: CR, LF and NUL MUST be rejected (or replaced); other controls and DEL
        // may be kept, and are refused here too.
        let value = HTTP1Syntax.trimmingWhitespace(HTTP1Syntax.slice(line, (colon + 1)..<line.count))
        for byte in value where !HTTP1Syntax.isFieldValueByte(byte) {
            throw .badRequest("control character \(HTTP1Syntax.byteName(byte)) in \(section) field \(HTTP1Syntax.quoted(name))")
        }
        guard fields.count < limits.maxHeaderCount else {
            throw HTTP1ParseError(status: 431, message: "more than \(limits.maxHeaderCount) \(section) fields")
        }
        fields.append(name: name, value: value)
        if !inTrailers { try noteHeaderField(name: name, value: value) }
    }

    /// Records what a header field means for framing and the connection. The names are compared
    /// by length first: most fields are none of these.
    private mutating func noteHeaderField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        switch name.count {
        case 4 where HTTP1Syntax.equalsIgnoringCase(name, "host"):
            // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
            facts.hostCount += 1
            guard facts.hostCount == 1 else { throw .badRequest("more than one Host header") }
            guard value.allSatisfy(Self.isHostByte) else { throw .badRequest("invalid Host \(HTTP1Syntax.quoted(value))") }
        case 6 where HTTP1Syntax.equalsIgnoringCase(name, "expect"):
            HTTP1Syntax.forEachListElement(value) { element in
                if HTTP1Syntax.equalsIgnoringCase(element, "100-continue") { facts.expectsContinue = true }
            }
        case 7 where HTTP1Syntax.equalsIgnoringCase(name, "upgrade"):
            if !facts.upgradeValues.isEmpty { facts.upgradeValues.append(HTTP1Syntax.comma) }
            facts.upgradeValues.append(contentsOf: value)
        case 10 where HTTP1Syntax.equalsIgnoringCase(name, "connection"):
            HTTP1Syntax.forEachListElement(value) { option in
                if HTTP1Syntax.equalsIgnoringCase(option, "close") {
                    facts.connectionClose = true
                } else if HTTP1Syntax.equalsIgnoringCase(option, "keep-alive") {
                    facts.connectionKeepAlive = true
                } else if HTTP1Syntax.equalsIgnoringCase(option, "upgrade") {
                    facts.connectionUpgrade = true
                }
            }
        case 14 where HTTP1Syntax.equalsIgnoringCase(name, "content-length"):
            try noteContentLength(value)
        case 14 where HTTP1Syntax.equalsIgnoringCase(name, "http2-settings"):
            facts.http2SettingsCount += 1
        case 17 where HTTP1Syntax.equalsIgnoringCase(name, "transfer-encoding"):
            try noteTransferEncoding(value)
        default:
            break
        }
    }

    /// uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2): unreserved, pct-encoded,
    /// sub-delims, ":" and the brackets of an IP-literal. Empty is valid (no authority).
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
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
            if let previous = facts.contentLength, previous != length {
                throw .badRequest("differing Content-Length values \(previous) and \(length)")
            }
            facts.contentLength = length
            start = end + 1
        }
    }

    /// Transfer-Encoding = #transfer-coding; transfer-coding = token *( OWS ";" OWS
    /// transfer-parameter ) (RFC 9112 §6.1, §7). Only syntax is checked per line; which codings
    /// are acceptable is decided over all lines in `finishHead`.
    private mutating func noteTransferEncoding(_ value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        facts.transferEncoding = true
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
                facts.chunkedCount += 1
                facts.lastCodingIsChunked = true
            } else {
                facts.lastCodingIsChunked = false
                if facts.unsupportedCoding == nil { facts.unsupportedCoding = String(decoding: coding, as: UTF8.self) }
            }
        }
    }

    // MARK: End of the head

    /// Judges the complete head, reports `.head`, and moves on to the body (RFC 9112 §6.3).
    mutating func finishHead(_ onEvent: (HTTP1Event) -> Void) throws(HTTP1ParseError) -> Progress {
        let framing: HTTP1BodyFraming
        if facts.transferEncoding {
            // RFC 9112 §6.1 / §6.3 rule 3: both headers is how request smuggling starts; a server
            // may reject such a request, and this one always does.
            guard facts.contentLength == nil else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
            guard version == .http11 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            // RFC 9112 §6.1: chunked MUST NOT be applied more than once.
            guard facts.chunkedCount <= 1 else { throw .badRequest("chunked applied more than once in Transfer-Encoding") }
            // RFC 9112 §6.3 rule 4: a request whose final coding is not chunked has no
            // determinable length: 400.
            guard facts.lastCodingIsChunked else { throw .badRequest("Transfer-Encoding does not end with chunked") }
            // RFC 9112 §6.1: a coding the server does not understand is a 501. None is
            // implemented beyond chunked: a gateway forwards messages, it does not decompress.
            if let coding = facts.unsupportedCoding {
                throw HTTP1ParseError(status: 501, message: "unsupported transfer coding \"\(coding)\"")
            }
            framing = .chunked
        } else if let length = facts.contentLength {
            framing = .contentLength(length)
        } else {
            framing = .none
        }
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
        if version == .http11, facts.hostCount == 0 { throw .badRequest("missing Host header") }

        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        keepAlive = switch version {
        case .http11: !facts.connectionClose
        case .http10: facts.connectionKeepAlive && !facts.connectionClose
        }
        // RFC 9110 §7.8: Upgrade in HTTP/1.0 is ignored, and must be named by Connection.
        let upgrade = version == .http11 && facts.connectionUpgrade ? offeredUpgrade() : nil
        upgradeOffered = upgrade != nil
        let head = HTTP1RequestHead(
            method: method,
            target: target,
            version: version,
            headers: fields,
            body: framing,
            keepAlive: keepAlive,
            // RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request MUST be ignored.
            expectContinue: version == .http11 && facts.expectsContinue,
            upgrade: upgrade
        )
        fields = HTTP1Fields()  // the head holds the only reference now
        method = ""
        target = ""
        onEvent(.head(head))

        switch framing {
        case .none, .contentLength(0):
            return endRequest(onEvent)
        case .contentLength(let length):
            remaining = length
            state = .body
        case .chunked:
            state = .chunkLine
        }
        return .inRequest
    }

    /// The first protocol in `Upgrade` (protocol = token [ "/" token ], RFC 9110 §7.8) that
    /// can be reported: `h2c` needs exactly one `HTTP2-Settings` (RFC 7540 §3.2.1).
    private func offeredUpgrade() -> String? {
        let settingsCount = facts.http2SettingsCount
        var offered: String?
        facts.upgradeValues.withUnsafeBytes { values in
            HTTP1Syntax.forEachListElement(values) { element in
                guard offered == nil else { return }
                var index = 0
                guard HTTP1Syntax.scanToken(element, &index) != nil else { return }
                if index < element.count {
                    guard element[index] == UInt8(ascii: "/") else { return }
                    index += 1
                    guard HTTP1Syntax.scanToken(element, &index) != nil, index == element.count else { return }
                }
                if HTTP1Syntax.equalsIgnoringCase(element, "h2c"), settingsCount != 1 { return }
                offered = String(decoding: element, as: UTF8.self)
            }
        }
        return offered
    }
}

/// The request's side of `HTTP1MessageParser`: the request line, the header fields only a server
/// reads (`Host`, `Expect`, `Upgrade`, `HTTP2-Settings`), and what the head says about the body
/// and the connection (RFC 9112 §3, §6.3, §9; RFC 9110 §7.2, §7.8, §10.1.1).
struct HTTP1RequestHeadParser: HTTP1HeadParser {
    typealias Event = HTTP1Event

    static let messageName = "request"
    static let startLineName = "request line"
    static let skipsEmptyLinesBeforeStartLine = true

    static func startLineLimit(_ limits: HTTP1Limits) -> Int {
        limits.maxRequestLine
    }

    static func startLineTooLong(_ limits: HTTP1Limits) -> HTTP1ParseError {
        HTTP1ParseError(status: 414, message: "request line longer than \(limits.maxRequestLine) bytes")
    }

    /// The status of a refused request is the answer to it.
    static func failure(_ error: HTTP1ParseError) -> HTTP1ParseError {
        error
    }

    // The request being parsed.
    var method = ""
    var target = ""
    var version = HTTP1Version.http11
    var hostCount = 0
    var expectsContinue = false
    /// Every `Upgrade` field value, comma-joined (usually empty: no allocation).
    var upgradeValues: [UInt8] = []
    var http2SettingsCount = 0

    // MARK: Request line

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), split at the first
    /// and the last SP so that whitespace inside the target is named as such.
    mutating func parseStartLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
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
        version = try HTTP1Version(parsing: versionBytes)
        method = String(decoding: methodBytes, as: UTF8.self)
        target = String(decoding: targetBytes, as: UTF8.self)
        hostCount = 0
        expectsContinue = false
        upgradeValues = []
        http2SettingsCount = 0
    }

    // MARK: Header fields

    /// Records the fields only a server reads. The names are compared by length first: most
    /// fields are none of these.
    mutating func noteField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        switch name.count {
        case 4 where HTTP1Syntax.equalsIgnoringCase(name, "host"):
            // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400.
            hostCount += 1
            guard hostCount == 1 else { throw .badRequest("more than one Host header") }
            guard value.allSatisfy(Self.isHostByte) else { throw .badRequest("invalid Host \(HTTP1Syntax.quoted(value))") }
        case 6 where HTTP1Syntax.equalsIgnoringCase(name, "expect"):
            HTTP1Syntax.forEachListElement(value) { element in
                if HTTP1Syntax.equalsIgnoringCase(element, "100-continue") { expectsContinue = true }
            }
        case 7 where HTTP1Syntax.equalsIgnoringCase(name, "upgrade"):
            if !upgradeValues.isEmpty { upgradeValues.append(HTTP1Syntax.comma) }
            upgradeValues.append(contentsOf: value)
        case 14 where HTTP1Syntax.equalsIgnoringCase(name, "http2-settings"):
            http2SettingsCount += 1
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

    // MARK: End of the head

    /// Judges the complete head (RFC 9112 §6.3: no framing field means no body) and reports it.
    mutating func finishHead(headers: HTTP1Fields, framing: HTTP1FramingFields) throws(HTTP1ParseError) -> HTTP1HeadDecision<HTTP1Event> {
        let body = try framing.bodyFraming(version: version, messageName: Self.messageName) ?? .none
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
        if version == .http11, hostCount == 0 { throw .badRequest("missing Host header") }

        let keepAlive = framing.keepAlive(version: version)
        // RFC 9110 §7.8: Upgrade in HTTP/1.0 is ignored, and must be named by Connection.
        let upgrade = version == .http11 && framing.connectionUpgrade ? offeredUpgrade() : nil
        let head = HTTP1RequestHead(
            method: method,
            target: target,
            version: version,
            headers: headers,
            body: body,
            keepAlive: keepAlive,
            // RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request MUST be ignored.
            expectContinue: version == .http11 && expectsContinue,
            upgrade: upgrade
        )
        method = ""
        target = ""
        // The bytes after a request that offered an upgrade may not be HTTP/1.1: the caller
        // decides before any are parsed.
        return .message(.head(head), body: body, keepAlive: keepAlive, stopAfter: upgrade != nil)
    }

    mutating func messageEnded() {}

    /// The first protocol in `Upgrade` (protocol = token [ "/" token ], RFC 9110 §7.8) that
    /// can be reported: `h2c` needs exactly one `HTTP2-Settings` (RFC 7540 §3.2.1).
    private func offeredUpgrade() -> String? {
        let settingsCount = http2SettingsCount
        var offered: String?
        upgradeValues.withUnsafeBytes { values in
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

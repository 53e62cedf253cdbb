import HTTP1
import Testing

/// Valid responses: every framing, interim responses, keep-alive, responses that end the
/// connection, HEAD, limits at their edge, and the parser's state between responses.
@Suite struct HTTP1ResponseParserTests {
    // MARK: Framing

    @Test func contentLengthBody() {
        let outcome = parseResponse(bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"))
        let expected = HTTP1ResponseHead(
            version: .http11, status: 200, reason: "OK",
            headers: ["Content-Type": "application/json", "Content-Length": "5"],
            body: .contentLength(5), keepAlive: true
        )
        #expect(outcome == ResponseOutcome(events: [.head(expected), .body(bytes("hello")), .end]))
    }

    @Test func zeroContentLengthEndsAtOnce() {
        let outcome = parseResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(outcome.heads.map(\.body) == [.contentLength(0)])
        #expect(outcome.events.count == 2 && outcome.events.last == .end)
    }

    @Test func chunkedWithTrailers() {
        let outcome = parseResponse(bytes(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n"
                + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\ngrpc-message: \r\n\r\n"
        ))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.chunked])
        #expect(outcome.events.dropFirst() == [
            .body(bytes("hello world")),
            .trailers(["grpc-status": "0", "grpc-message": ""]),
            .end,
        ])
    }

    @Test func chunkedWithoutTrailersReportsNone() {
        let outcome = parseResponse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        #expect(outcome.events.dropFirst() == [.body(bytes("abc")), .end])
    }

    /// RFC 9112 §6.3 rule 8: without framing fields the close ends the body, and the connection
    /// is not kept.
    @Test func bodyUntilClose() {
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        let open = parseResponse(input)
        #expect(open.error == nil)
        #expect(open.heads.map(\.body) == [.untilClose])
        #expect(open.heads.map(\.keepAlive) == [false])
        #expect(open.events.dropFirst() == [.body(bytes("all of it"))])

        let closed = parseResponse(input, closed: true)
        #expect(closed.events.dropFirst() == [.body(bytes("all of it")), .end])
    }

    @Test func emptyBodyUntilClose() {
        let outcome = parseResponse(bytes("HTTP/1.0 200 OK\r\n\r\n"), closed: true)
        #expect(outcome.heads.map(\.body) == [.untilClose])
        #expect(outcome.events.count == 2 && outcome.events.last == .end)
    }

    /// RFC 9112 §6.3 rule 1: these end with their header section, whatever their fields say.
    @Test(arguments: [
        ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false),
        ("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true),
        ("HTTP/1.1 404 Not Found\r\n\r\n", true),
    ])
    func bodylessResponses(text: String, toHEAD: Bool) {
        let outcome = parseResponse(bytes(text), toHEAD: toHEAD)
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.none])
        #expect(outcome.heads.map(\.keepAlive) == [true])
        #expect(outcome.events.count == 2 && outcome.events.last == .end)
    }

    /// A HEAD response only: the next one has its body again.
    @Test func headRequestFlagLastsOneResponse() throws {
        var parser = HTTP1ResponseParser()
        var outcome = ResponseOutcome()
        parser.nextResponseIsToHEAD = true
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let first = try parser.feed(input, stopAfterEnd: true) { outcome.record($0) }
        #expect(!parser.nextResponseIsToHEAD)
        try parser.feed(Array(input[first...])) { outcome.record($0) }
        #expect(outcome.heads.map(\.body) == [.none, .contentLength(2)])
        #expect(outcome.events.last == .end)
        #expect(outcome.events.contains(.body(bytes("ok"))))
    }

    // MARK: Interim responses

    @Test func informationalResponsesComeBeforeTheFinalOne() {
        let outcome = parseResponse(bytes(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        ))
        #expect(outcome.error == nil)
        #expect(outcome.events == [
            .informational(HTTP1ResponseHead(version: .http11, status: 100, reason: "Continue", headers: [:], body: .none, keepAlive: true)),
            .informational(HTTP1ResponseHead(version: .http11, status: 103, reason: "Early Hints",
                                             headers: ["Link": "</a>; rel=preload"], body: .none, keepAlive: true)),
            .head(HTTP1ResponseHead(version: .http11, status: 200, reason: "OK", headers: ["Content-Length": "2"],
                                    body: .contentLength(2), keepAlive: true)),
            .body(bytes("ok")),
            .end,
        ])
    }

    /// After 101 the bytes are the new protocol's: `feed` returns at the end of its head and the
    /// parser takes nothing more.
    @Test func switchingProtocolsEndsHTTP1() throws {
        let head = bytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        let after = bytes("\0\0\u{12}\u{4}\0\0\0\0\0")
        var parser = HTTP1ResponseParser()
        var outcome = ResponseOutcome()
        let consumed = try parser.feed(head + after) { outcome.record($0) }
        #expect(consumed == head.count)
        #expect(parser.isClosed)
        #expect(outcome.heads.map(\.status) == [101])
        #expect(outcome.heads.map(\.keepAlive) == [false])
        #expect(outcome.events.last == .end)
    }

    // MARK: Head details

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\n", HTTP1Version.http11, 200, "OK"),
        ("HTTP/1.1 404 Not Found\r\n", .http11, 404, "Not Found"),
        ("HTTP/1.1 299 \r\n", .http11, 299, ""),
        ("HTTP/1.1 500 a\tb  c \r\n", .http11, 500, "a\tb  c "),
        ("HTTP/1.0 200 OK\r\n", .http10, 200, "OK"),
        ("HTTP/1.2 200 OK\r\n", .http11, 200, "OK"),  // RFC 9110 §2.5
        ("HTTP/1.1 599 Custom\r\n", .http11, 599, "Custom"),
    ])
    func statusLines(line: String, version: HTTP1Version, status: Int, reason: String) {
        let outcome = parseResponse(bytes(line + "Content-Length: 0\r\n\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.version) == [version])
        #expect(outcome.heads.map(\.status) == [status])
        #expect(outcome.heads.map(\.reason) == [reason])
    }

    @Test func reasonPhraseMayHoldObsText() {
        let outcome = parseResponse(bytes("HTTP/1.1 200 ") + [0xC3, 0xA9, 0xFF] + bytes("\r\nContent-Length: 0\r\n\r\n"))
        #expect(outcome.heads.map(\.reason) == ["é\u{FFFD}"])
    }

    @Test func fieldValuesAreTrimmedAndNamesKept() {
        let outcome = parseResponse(bytes("HTTP/1.1 200 OK\r\nX-Tabs: \t a\tb \t\r\ngrpc-status:0\r\nContent-Length: 0\r\n\r\n"))
        #expect(outcome.heads.first?.headers.first("x-tabs") == "a\tb")
        #expect(outcome.heads.first?.headers.map(\.name) == ["X-Tabs", "grpc-status", "Content-Length"])
    }

    // MARK: Connections

    /// RFC 9112 §9.3.
    @Test(arguments: [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive, Close\r\n", false),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: keep-alive\r\n", true),
        ("HTTP/1.0", "Connection: keep-alive\r\nConnection: close\r\n", false),
    ])
    func keepAlive(version: String, fields: String, expected: Bool) {
        let outcome = parseResponse(bytes("\(version) 200 OK\r\n\(fields)Content-Length: 0\r\n\r\n"))
        #expect(outcome.heads.map(\.keepAlive) == [expected])
    }

    /// Responses to pipelined requests: with `stopAfterEnd` each ends its own `feed`.
    @Test func pipelinedResponsesOneAtATime() throws {
        let responses = [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
        ]
        let input = bytes(responses.joined())
        var parser = HTTP1ResponseParser()
        var outcome = ResponseOutcome()
        var offset = 0
        var stops: [Int] = []
        while offset < input.count {
            offset += try parser.feed(Array(input[offset...]), stopAfterEnd: true) { outcome.record($0) }
            stops.append(offset)
            #expect(parser.isIdle)
        }
        #expect(stops == responses.indices.map { responses[...$0].joined().utf8.count })
        #expect(outcome.heads.map(\.status) == [200, 200, 204])
    }

    /// RFC 9112 §9.6: after a response with "close", no further response is read.
    @Test func nothingIsParsedAfterAResponseThatCloses() throws {
        let first = bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        let input = first + bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        var parser = HTTP1ResponseParser()
        var outcome = ResponseOutcome()
        let consumed = try parser.feed(input) { outcome.record($0) }
        #expect(consumed == first.count)
        #expect(parser.isClosed)
        let discarded = try parser.feed(Array(input[consumed...])) { outcome.record($0) }
        #expect(discarded == input.count - consumed)
        #expect(outcome.events.count == 3)
        try parser.connectionClosed { outcome.record($0) }
        #expect(outcome.events.count == 3)
    }

    /// A close between responses loses nothing; anywhere inside one it is an error.
    @Test(arguments: [
        ("", nil),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", nil),
        ("HTTP/1.1 200 OK\r\n", "connection closed before the end of the response"),
        ("HTTP/1.1 20", "connection closed before the end of the response"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", "connection closed before the end of the response"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "connection closed before the end of the response"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "connection closed before the end of the response"),
    ] as [(String, String?)])
    func connectionClosed(text: String, message: String?) {
        let outcome = parseResponse(bytes(text), closed: true)
        #expect(outcome.error == message.map { HTTP1ParseError(status: 502, message: $0) })
    }

    // MARK: Limits at their edge

    @Test func statusLineAtItsLimit() {
        let limits = HTTP1Limits(maxStatusLine: 15)
        #expect(parseResponse(bytes("HTTP/1.1 200 OK\r\n\r\n"), closed: true, limits: limits).error == nil)
        #expect(parseResponse(bytes("HTTP/1.1 200 OK!\r\n\r\n"), limits: limits).error
            == HTTP1ParseError(status: 502, message: "status line longer than 15 bytes"))
    }

    @Test func headerCountAtItsLimit() {
        let limits = HTTP1Limits(maxHeaderCount: 3)
        let three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n"
        #expect(parseResponse(bytes(three), limits: limits).error == nil)
        let four = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n"
        #expect(parseResponse(bytes(four), limits: limits).error == HTTP1ParseError(status: 502, message: "more than 3 header fields"))
    }

    // MARK: Views and errors

    /// Body events are views of the caller's buffer, not copies.
    @Test func bodiesAreViewsOfTheInput() {
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")
        var parser = HTTP1ResponseParser()
        var pieces: [UnsafeRawBufferPointer] = []
        input.withUnsafeBytes { buffer in
            #expect(throws: Never.self) {
                try parser.feed(buffer) { if case .body(let piece) = $0 { pieces.append(piece) } }
            }
            #expect(pieces.count == 1)
            #expect(pieces.first?.baseAddress == buffer.baseAddress.map { $0 + (input.count - 4) })
        }
    }

    @Test func errorsAreFinal() {
        var parser = HTTP1ResponseParser()
        let error = HTTP1ParseError(status: 502, message: "malformed status line \"HTTP/1.1\"")
        #expect(throws: error) { try parser.feed(bytes("HTTP/1.1\r\n")) { _ in } }
        #expect(parser.error == error)
        #expect(throws: error) {
            try parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) { _ in Issue.record("no event after an error") }
        }
        #expect(throws: error) { try parser.connectionClosed { _ in } }
        #expect(error.description == "502 Bad Gateway: malformed status line \"HTTP/1.1\"")
    }
}

import HTTP1
import Testing

/// Valid requests: every framing, keep-alive, pipelining, Expect, Upgrade, limits at their edge,
/// and the parser's state between requests.
@Suite struct HTTP1RequestParserTests {
    // MARK: Framing

    @Test func requestWithoutBody() {
        let outcome = parse(bytes("GET /trestle.demo.v1.Echo/Get?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-Empty:\r\n\r\n"))
        let expected = HTTP1RequestHead(
            method: "GET",
            target: "/trestle.demo.v1.Echo/Get?x=1",
            version: .http11,
            headers: ["Host": "example.com:8080", "Accept": "*/*", "X-Empty": ""],
            body: .none,
            keepAlive: true
        )
        #expect(outcome == Outcome(events: [.head(expected), .end]))
    }

    @Test func contentLengthBody() {
        let outcome = parse(bytes("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.contentLength(5)])
        #expect(outcome.events.dropFirst() == [.body(bytes("hello")), .end])
    }

    @Test func zeroContentLengthEndsAtOnce() {
        let outcome = parse(bytes("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"))
        #expect(outcome.heads.map(\.body) == [.contentLength(0)])
        #expect(outcome.events.count == 2 && outcome.events.last == .end)
    }

    /// RFC 9110 §8.6 lets a recipient take a repeated identical value as that value.
    @Test(arguments: [
        "Content-Length: 5, 5\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5,5 , 5\r\n",
        "Content-Length: 5\r\ncontent-length: 005\r\n",
    ])
    func identicalContentLengthsAreOne(fields: String) {
        let outcome = parse(bytes("POST /a HTTP/1.1\r\nHost: h\r\n\(fields)\r\nhello"))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.contentLength(5)])
        #expect(outcome.events.dropFirst() == [.body(bytes("hello")), .end])
    }

    @Test func chunkedWithExtensionsAndTrailers() {
        let input = bytes(
            "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
                + "5;name=value;quoted=\"a b\\\"c\"\r\nhello\r\n"
                + "6 ; ext ; other = \"x\"\r\n world\r\n"
                + "000A\r\n0123456789\r\n"
                + "0;last\r\nX-Checksum: abc\r\ngrpc-status:\t0 \r\n\r\n"
        )
        let outcome = parse(input)
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.chunked])
        #expect(outcome.events.dropFirst() == [
            .body(bytes("hello world0123456789")),
            .trailers(["X-Checksum": "abc", "grpc-status": "0"]),
            .end,
        ])
    }

    @Test func chunkedWithoutTrailersReportsNone() {
        let outcome = parse(bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        #expect(outcome.events.dropFirst() == [.body(bytes("abc")), .end])
    }

    /// Codings are case-insensitive and empty list elements are ignored (RFC 9110 §5.6.1).
    @Test(arguments: ["Chunked", "CHUNKED", " , chunked", "chunked ,"])
    func chunkedSpellings(value: String) {
        let outcome = parse(bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \(value)\r\n\r\n0\r\n\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.body) == [.chunked])
    }

    @Test func emptyChunkedBody() {
        let outcome = parse(bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
        #expect(outcome.events.count == 2 && outcome.events.last == .end)
    }

    /// Body events are views of the caller's buffer, not copies.
    @Test func bodiesAreViewsOfTheInput() {
        let input = bytes("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd")
        var parser = HTTP1RequestParser()
        var pieces: [UnsafeRawBufferPointer] = []
        input.withUnsafeBytes { buffer in
            #expect(throws: Never.self) {
                try parser.feed(buffer) { if case .body(let piece) = $0 { pieces.append(piece) } }
            }
            #expect(pieces.count == 1)
            #expect(pieces.first?.baseAddress == buffer.baseAddress.map { $0 + (input.count - 4) })
        }
    }

    // MARK: Head details

    @Test func fieldValuesAreTrimmedAndKeepObsText() {
        var input = bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Tabs: \t a\tb \t\r\nX-Latin: ")
        input += [0xE9, 0x80, 0xFF]
        input += bytes("\r\n\r\n")
        let head = parse(input).heads.first
        #expect(head?.headers.first("x-tabs") == "a\tb")
        #expect(head?.headers[2].valueBytes.elementsEqual([0xE9, 0x80, 0xFF]) == true)
    }

    /// RFC 9112 §2.2: empty lines before a request line are skipped.
    @Test func emptyLinesBeforeTheRequestLine() {
        let outcome = parse(bytes("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(outcome.heads.map(\.target) == ["/"])
    }

    /// RFC 9110 §2.5: HTTP/1.x above 1.1 is processed as HTTP/1.1.
    @Test func higherMinorVersionIsReadAsHTTP11() {
        let outcome = parse(bytes("GET / HTTP/1.2\r\nHost: h\r\n\r\n"))
        #expect(outcome.heads.map(\.version) == [.http11])
    }

    @Test func requestTargetForms() {
        let outcome = parse(bytes(
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
                + "GET http://h/a%20b?q=%C3%A9#frag HTTP/1.1\r\nHost: h\r\n\r\n"
                + "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"
                + "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
                + "GET / HTTP/1.1\r\nHost:\r\n\r\n"
        ))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.method) == ["OPTIONS", "GET", "CONNECT", "GET", "GET"])
        #expect(outcome.heads.map(\.target) == ["*", "http://h/a%20b?q=%C3%A9#frag", "h:443", "/", "/"])
    }

    @Test func http10NeedsNoHost() {
        let outcome = parse(bytes("GET / HTTP/1.0\r\n\r\n"))
        #expect(outcome.heads.map(\.version) == [.http10])
    }

    // MARK: Keep-alive (RFC 9112 §9.3)

    struct KeepAliveCase: Sendable, CustomTestStringConvertible {
        var version: String
        var connection: String?
        var keepAlive: Bool
        var testDescription: String { "\(version) Connection: \(connection ?? "(none)") -> \(keepAlive)" }
    }

    @Test(arguments: [
        KeepAliveCase(version: "HTTP/1.1", connection: nil, keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: "close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "Close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "keep-alive", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.1", connection: "keep-alive, close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "TE, close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.1", connection: "closed", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: nil, keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "Keep-Alive", keepAlive: true),
        KeepAliveCase(version: "HTTP/1.0", connection: "close", keepAlive: false),
        KeepAliveCase(version: "HTTP/1.0", connection: "keep-alive, close", keepAlive: false),
    ])
    func keepAlive(_ row: KeepAliveCase) {
        let connection = row.connection.map { "Connection: \($0)\r\n" } ?? ""
        let outcome = parse(bytes("GET / \(row.version)\r\nHost: h\r\n\(connection)\r\n"))
        #expect(outcome.heads.map(\.keepAlive) == [row.keepAlive])
    }

    /// RFC 9112 §9.6: after a request with "close", no further request is processed.
    @Test func nothingIsParsedAfterARequestThatCloses() throws {
        let first = bytes("POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        let input = first + bytes("GET /second HTTP/1.1\r\nHost: h\r\n\r\n")
        var parser = HTTP1RequestParser()
        var outcome = Outcome()
        let consumed = try parser.feed(input) { outcome.record($0) }
        #expect(consumed == first.count)
        #expect(parser.isClosed)
        #expect(outcome.heads.map(\.target) == ["/"])
        #expect(outcome.events.last == .end)

        let discarded = try parser.feed(Array(input[consumed...])) { outcome.record($0) }
        #expect(discarded == input.count - consumed)
        #expect(outcome.events.count == 3)
    }

    // MARK: Pipelining (RFC 9112 §9.3.2)

    static let pipelined = [
        "GET /one HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        "POST /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
    ]

    @Test func threePipelinedRequestsInOneBuffer() {
        let outcome = parse(bytes(Self.pipelined.joined()))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.target) == ["/one", "/two", "/three"])
        #expect(outcome.events.filter { if case .head = $0 { false } else { true } } == [
            .end, .body(bytes("abc")), .end, .body(bytes("de")), .trailers(["X-T": "1"]), .end,
        ])
    }

    @Test func stopAfterEndPausesBetweenPipelinedRequests() throws {
        let input = bytes(Self.pipelined.joined())
        var parser = HTTP1RequestParser()
        var offset = 0
        var targets: [String] = []
        var ends: [Int] = []
        while offset < input.count {
            let consumed = try parser.feed(Array(input[offset...]), stopAfterEnd: true) { event in
                if case .head(let head) = event { targets.append(head.target) }
            }
            offset += consumed
            ends.append(offset)
            #expect(parser.isIdle)
        }
        #expect(targets == ["/one", "/two", "/three"])
        #expect(ends == Self.pipelined.map(\.utf8.count).reductions(+))
    }

    @Test func feedingNothingDoesNothing() throws {
        var parser = HTTP1RequestParser()
        #expect(try parser.feed([]) { _ in Issue.record("no event expected") } == 0)
        #expect(parser.isIdle)
    }

    // MARK: Expect: 100-continue (RFC 9110 §10.1.1)

    @Test(arguments: [
        ("HTTP/1.1", "Expect: 100-continue\r\n", true),
        ("HTTP/1.1", "Expect: 100-Continue\r\n", true),
        ("HTTP/1.1", "", false),
        ("HTTP/1.1", "Expect: something-else\r\n", false),
        ("HTTP/1.0", "Expect: 100-continue\r\n", false),
    ])
    func expectContinue(version: String, field: String, expected: Bool) {
        let outcome = parse(bytes("PUT /x \(version)\r\nHost: h\r\n\(field)Content-Length: 1\r\n\r\nz"))
        #expect(outcome.heads.map(\.expectContinue) == [expected])
        #expect(outcome.events.last == .end)
    }

    /// The head of a 100-continue request arrives before its body does: the server can answer.
    @Test func expectContinueHeadComesBeforeTheBody() throws {
        var parser = HTTP1RequestParser()
        var outcome = Outcome()
        try parser.feed(bytes("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")) { outcome.record($0) }
        #expect(outcome.heads.map(\.expectContinue) == [true])
        #expect(outcome.events.count == 1)
        try parser.feed(bytes("hi")) { outcome.record($0) }
        #expect(outcome.events.dropFirst() == [.body(bytes("hi")), .end])
    }

    // MARK: Upgrade (RFC 9110 §7.8)

    @Test(arguments: [
        ("HTTP/1.1", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n", "h2c"),
        ("HTTP/1.1", "Connection: Upgrade\r\nUpgrade: h2c\r\n", nil),
        ("HTTP/1.1", "Connection: Upgrade\r\nUpgrade: h2c, websocket\r\n", "websocket"),
        ("HTTP/1.1", "Connection: upgrade\r\nUpgrade: websocket/13\r\n", "websocket/13"),
        ("HTTP/1.1", "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n", nil),
        ("HTTP/1.0", "Connection: Upgrade\r\nUpgrade: websocket\r\n", nil),
    ] as [(String, String, String?)])
    func upgrade(version: String, fields: String, expected: String?) {
        let outcome = parse(bytes("GET / \(version)\r\nHost: h\r\n\(fields)\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.upgrade) == [expected])
    }

    /// The bytes after an upgrade request may be another protocol: `feed` returns at its end.
    @Test func feedStopsAfterAnUpgradeRequest() throws {
        let request = bytes("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        let preface = bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        var parser = HTTP1RequestParser()
        var outcome = Outcome()
        let consumed = try parser.feed(request + preface) { outcome.record($0) }
        #expect(consumed == request.count)
        #expect(outcome.heads.map(\.upgrade) == ["h2c"])
        #expect(outcome.events.last == .end)
    }

    // MARK: Limits at their edge

    static let small = HTTP1Limits(maxRequestLine: 20, maxHeaderBytes: 40, maxHeaderCount: 3, maxChunkLine: 8, maxTrailerBytes: 12)

    @Test func requestLineAtItsLimit() {
        let line = "GET /" + String(repeating: "a", count: 6) + " HTTP/1.1"  // 20 bytes
        #expect(parse(bytes(line + "\r\nHost: h\r\n\r\n"), limits: Self.small).error == nil)
        let longer = parse(bytes("GET /" + String(repeating: "a", count: 7) + " HTTP/1.1\r\nHost: h\r\n\r\n"), limits: Self.small)
        #expect(longer.error == HTTP1ParseError(status: 414, message: "request line longer than 20 bytes"))
    }

    @Test func defaultLimits() {
        let limits = HTTP1Limits()
        #expect(limits.maxRequestLine == 8192 && limits.maxHeaderBytes == 65536 && limits.maxHeaderCount == 100)
        #expect(limits.maxChunkLine == 1024 && limits.maxTrailerBytes == 16384)
    }

    /// A line that has used its whole budget without an LF fails at once: it cannot become
    /// valid, and waiting for more bytes would only let a slow client hold the buffer.
    @Test func lineFailsAsSoonAsItCannotFit() throws {
        var parser = HTTP1RequestParser(limits: Self.small)
        try parser.feed(bytes(String(repeating: "a", count: 21))) { _ in }
        #expect(throws: HTTP1ParseError(status: 414, message: "request line longer than 20 bytes")) {
            try parser.feed(bytes("a")) { _ in }
        }
        var whole = HTTP1RequestParser(limits: Self.small)
        #expect(throws: HTTP1ParseError(status: 414, message: "request line longer than 20 bytes")) {
            try whole.feed(bytes(String(repeating: "a", count: 22))) { _ in }
        }
    }

    @Test func headerSectionAtItsLimit() {
        // 9 + 10 + 19 + 2 = 40 bytes with the final CRLF.
        let atLimit = parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\nBB: 1234567890123\r\n\r\n"), limits: Self.small)
        #expect(atLimit.error == nil)
        let over = parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\nBB: 12345678901234\r\n\r\n"), limits: Self.small)
        #expect(over.error == HTTP1ParseError(status: 431, message: "header section larger than 40 bytes"))
    }

    @Test func headerCountAtItsLimit() {
        #expect(parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"), limits: Self.small).error == nil)
        #expect(parse(bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits: Self.small).error
            == HTTP1ParseError(status: 431, message: "more than 3 header fields"))
    }

    @Test func chunkLineAndTrailersAtTheirLimits() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        // "1;abcdef" is 8 bytes; trailers "X: 12345\r\n\r\n" are 12.
        let atLimit = parse(bytes(head + "1;abcdef\r\nz\r\n0\r\nX: 12345\r\n\r\n"), limits: Self.small)
        #expect(atLimit.error == nil)
        #expect(atLimit.events.dropFirst() == [.body(bytes("z")), .trailers(["X": "12345"]), .end])
    }

    // MARK: State

    @Test func idleAndReadingHead() throws {
        var parser = HTTP1RequestParser()
        #expect(parser.isIdle && !parser.isReadingHead)
        try parser.feed(bytes("GE")) { _ in }
        #expect(!parser.isIdle && parser.isReadingHead)
        try parser.feed(bytes("T / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n")) { _ in }
        #expect(!parser.isIdle && !parser.isReadingHead)
        try parser.feed(bytes("x")) { _ in }
        #expect(parser.isIdle && !parser.isReadingHead && !parser.isClosed)
        try parser.feed(bytes("\r\n")) { _ in }
        #expect(!parser.isIdle && parser.isReadingHead)
    }

    @Test func errorsAreFinal() throws {
        var parser = HTTP1RequestParser()
        let expected = HTTP1ParseError(status: 400, message: "bare LF in request line")
        #expect(throws: expected) { try parser.feed(bytes("GET / HTTP/1.1\n")) { _ in } }
        #expect(parser.error == expected)
        #expect(throws: expected) {
            try parser.feed(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n")) { _ in Issue.record("no event after an error") }
        }
        #expect(!parser.isIdle && !parser.isReadingHead)
    }

    @Test func errorDescriptionNamesTheStatus() {
        let error = HTTP1ParseError(status: 431, message: "more than 100 header fields")
        #expect(error.description == "431 Request Header Fields Too Large: more than 100 header fields")
    }
}

extension Sequence {
    /// Running totals: [a, a+b, a+b+c, ...].
    func reductions(_ next: (Element, Element) -> Element) -> [Element] {
        var result: [Element] = []
        for element in self { result.append(result.last.map { next($0, element) } ?? element) }
        return result
    }
}

import HTTP1
import Testing

/// The parsers' answer does not depend on how the input is cut: fed whole, byte by byte, or in
/// random pieces (seeded), every input gives the same events (body pieces joined) or the same
/// error. Requests first, then responses.
@Suite struct HTTP1IncrementalTests {
    struct Input: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var limits: HTTP1Limits
        var testDescription: String { name }
    }

    static let valid: [Input] = [
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\nGET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
        "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d;e\"\r\nhello\r\n1 ; x\r\n!\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n00a\r\n0123456789\r\n0\r\n\r\n",
        HTTP1RequestParserTests.pipelined.joined(),
        HTTP1RequestParserTests.pipelined.joined() + "GET /four HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n",
    ].enumerated().map { Input(name: "valid \($0.offset)", bytes: Array($0.element.utf8), limits: HTTP1Limits()) }

    static let inputs: [Input] = valid + rejections.map { Input(name: $0.name, bytes: $0.input, limits: $0.limits) }

    @Test(arguments: inputs)
    func sameOutcomeHoweverCut(_ input: Input) {
        let whole = parse(input.bytes, limits: input.limits)
        #expect(whole.events.last == .end || whole.error != nil)

        let byteByByte = parse(input.bytes, pieces: [1], limits: input.limits)
        #expect(byteByByte == whole, "byte by byte")

        var generator = SeededGenerator(seed: UInt64(input.bytes.count) &* 31 &+ 7)
        for round in 0..<20 {
            let sizes = (0..<8).map { _ in Int.random(in: 1...max(1, min(input.bytes.count, 64)), using: &generator) }
            let cut = parse(input.bytes, pieces: sizes, limits: input.limits)
            #expect(cut == whole, "round \(round), pieces \(sizes)")
        }
    }

    /// Every prefix of a valid request is accepted without error and without an `.end`: a
    /// request is never finished early.
    @Test(arguments: valid.prefix(6))
    func everyPrefixIsIncomplete(_ input: Input) throws {
        for length in 0..<input.bytes.count {
            let outcome = parse(Array(input.bytes[..<length]), limits: input.limits)
            #expect(outcome.error == nil, "prefix of \(length) bytes")
            let ends = outcome.events.filter { $0 == .end }.count
            let total = parse(input.bytes, limits: input.limits).events.filter { $0 == .end }.count
            #expect(ends < total || length == input.bytes.count, "prefix of \(length) bytes")
        }
    }

    // MARK: Responses

    struct ResponseInput: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var limits: HTTP1Limits
        var testDescription: String { name }
    }

    static let validResponses: [ResponseInput] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n1\r\n!\r\n0\r\ngrpc-status: 0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nHTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0",
    ].enumerated().map { ResponseInput(name: "valid response \($0.offset)", bytes: Array($0.element.utf8), limits: HTTP1Limits()) }

    static let responseInputs: [ResponseInput] = validResponses
        + responseRejections.map { ResponseInput(name: $0.name, bytes: $0.input, limits: $0.limits) }

    @Test(arguments: responseInputs)
    func sameResponseOutcomeHoweverCut(_ input: ResponseInput) {
        let whole = parseResponse(input.bytes, closed: true, limits: input.limits)
        #expect(whole.events.last == .end || whole.error != nil)

        let byteByByte = parseResponse(input.bytes, pieces: [1], closed: true, limits: input.limits)
        #expect(byteByByte == whole, "byte by byte")

        var generator = SeededGenerator(seed: UInt64(input.bytes.count) &* 31 &+ 11)
        for round in 0..<20 {
            let sizes = (0..<8).map { _ in Int.random(in: 1...max(1, min(input.bytes.count, 64)), using: &generator) }
            let cut = parseResponse(input.bytes, pieces: sizes, closed: true, limits: input.limits)
            #expect(cut == whole, "round \(round), pieces \(sizes)")
        }
    }

    /// Every prefix of a response framed by its own fields is accepted without error and
    /// without its last `.end`: a response is never finished early.
    @Test(arguments: validResponses.prefix(4))
    func everyResponsePrefixIsIncomplete(_ input: ResponseInput) {
        let total = parseResponse(input.bytes, limits: input.limits).events.filter { $0 == .end }.count
        for length in 0..<input.bytes.count {
            let outcome = parseResponse(Array(input.bytes[..<length]), limits: input.limits)
            #expect(outcome.error == nil, "prefix of \(length) bytes")
            #expect(outcome.events.filter { $0 == .end }.count < total, "prefix of \(length) bytes")
        }
    }
}

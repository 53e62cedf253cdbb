import HTTP1
import Testing

@Suite struct HTTP1ResponseWriterTests {
    private func text(_ buffer: [UInt8]) -> String {
        String(decoding: buffer, as: UTF8.self)
    }

    @Test func headWithContentLength() throws {
        var buffer: [UInt8] = []
        try HTTP1ResponseWriter.writeHead(status: 200, headers: ["Content-Type": "application/json", "X-Tab": "a\tb"], framing: .contentLength(2), into: &buffer)
        buffer += bytes("{}")
        #expect(text(buffer) == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Tab: a\tb\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test func chunkedResponseWithTrailers() throws {
        var buffer: [UInt8] = []
        try HTTP1ResponseWriter.writeHead(status: 200, headers: ["Content-Type": "application/x-ndjson"], framing: .chunked, into: &buffer)
        HTTP1ResponseWriter.writeChunk(bytes("hello"), into: &buffer)
        HTTP1ResponseWriter.writeChunk([], into: &buffer)  // nothing: an empty chunk would end the body
        HTTP1ResponseWriter.writeChunk(bytes("abcdefghijklmnopqrstuvwxyz"), into: &buffer)
        HTTP1ResponseWriter.writeChunkPrefix(length: 4096, into: &buffer)
        HTTP1ResponseWriter.writeChunkSuffix(into: &buffer)
        try HTTP1ResponseWriter.writeLastChunk(trailers: ["grpc-status": "0", "grpc-message": ""], into: &buffer)
        #expect(text(buffer) == "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n1000\r\n\r\n0\r\ngrpc-status: 0\r\ngrpc-message: \r\n\r\n")
    }

    @Test func lastChunkWithoutTrailers() throws {
        var buffer: [UInt8] = []
        try HTTP1ResponseWriter.writeLastChunk(into: &buffer)
        #expect(text(buffer) == "0\r\n\r\n")
    }

    @Test func continueAndOtherStatuses() throws {
        var buffer: [UInt8] = []
        HTTP1ResponseWriter.writeContinue(into: &buffer)
        try HTTP1ResponseWriter.writeHead(status: 204, framing: .none, into: &buffer)
        try HTTP1ResponseWriter.writeHead(status: 299, framing: .contentLength(0), into: &buffer)
        try HTTP1ResponseWriter.writeHead(status: 404, reason: "No Such Method", headers: ["Connection": "close"], framing: .contentLength(1234567890), into: &buffer)
        try HTTP1ResponseWriter.writeHead(status: 101, headers: ["Connection": "Upgrade", "Upgrade": "h2c"], framing: .none, into: &buffer)
        #expect(text(buffer) == "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\n\r\n"
            + "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n"
            + "HTTP/1.1 404 No Such Method\r\nConnection: close\r\nContent-Length: 1234567890\r\n\r\n"
            + "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    }

    @Test func errorResponse() {
        var buffer: [UInt8] = []
        HTTP1ResponseWriter.writeError(HTTP1ParseError(status: 400, message: "both Content-Length and Transfer-Encoding"), into: &buffer)
        #expect(text(buffer) == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 42\r\n\r\n"
            + "both Content-Length and Transfer-Encoding\n")
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var headers: HTTP1Fields
        var reason: String?
        var framing: HTTP1BodyFraming
        var message: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Refusal(name: "CRLF in value", headers: ["X-Note": "a\r\nSet-Cookie: evil"], reason: nil, framing: .none, message: "control character 0x0D in value of field \"X-Note\""),
        Refusal(name: "LF in value", headers: ["X-Note": "a\nb"], reason: nil, framing: .none, message: "control character 0x0A in value of field \"X-Note\""),
        Refusal(name: "NUL in value", headers: ["X-Note": "a\u{0}"], reason: nil, framing: .none, message: "control character 0x00 in value of field \"X-Note\""),
        Refusal(name: "DEL in value", headers: ["X-Note": "\u{7F}"], reason: nil, framing: .none, message: "control character 0x7F in value of field \"X-Note\""),
        Refusal(name: "CRLF in name", headers: ["X\r\nY": "v"], reason: nil, framing: .none, message: "invalid character 0x0D in field name \"X\\x0D\\x0AY\""),
        Refusal(name: "colon in name", headers: ["X:Y": "v"], reason: nil, framing: .none, message: "invalid character 0x3A in field name \"X:Y\""),
        Refusal(name: "space in name", headers: ["X Y": "v"], reason: nil, framing: .none, message: "invalid character 0x20 in field name \"X Y\""),
        Refusal(name: "empty name", headers: ["": "v"], reason: nil, framing: .none, message: "empty field name"),
        Refusal(name: "CRLF in reason", headers: [:], reason: "OK\r\nX: y", framing: .none, message: "control character 0x0D in reason phrase"),
        Refusal(name: "two framings", headers: ["content-length": "5"], reason: nil, framing: .chunked, message: "Content-Length in headers of a response whose framing is written by the writer"),
        Refusal(name: "two framings TE", headers: ["Transfer-Encoding": "chunked"], reason: nil, framing: .contentLength(1), message: "Transfer-Encoding in headers of a response whose framing is written by the writer"),
    ])
    func refusesInvalidHeads(_ row: Refusal) {
        var buffer = bytes("kept")
        #expect(throws: HTTP1WriteError(message: row.message)) {
            try HTTP1ResponseWriter.writeHead(status: 200, reason: row.reason, headers: row.headers, framing: row.framing, into: &buffer)
        }
        #expect(buffer == bytes("kept"))
    }

    @Test func refusesInvalidTrailers() {
        var buffer: [UInt8] = []
        #expect(throws: HTTP1WriteError(message: "control character 0x0A in value of field \"grpc-message\"")) {
            try HTTP1ResponseWriter.writeLastChunk(trailers: ["grpc-status": "13", "grpc-message": "a\nb"], into: &buffer)
        }
        #expect(buffer.isEmpty)
    }

    /// What the writer frames, the parser reads back: chunked bodies of many sizes and trailers.
    @Test func chunkedOutputParsesBack() throws {
        var generator = SeededGenerator(seed: 42)
        var wire = bytes("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        var body: [UInt8] = []
        for size in [1, 15, 16, 255, 256, 4097, 70000] {
            let chunk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            body += chunk
            HTTP1ResponseWriter.writeChunk(chunk, into: &wire)
        }
        try HTTP1ResponseWriter.writeLastChunk(trailers: ["grpc-status": "0"], into: &wire)
        let outcome = parse(wire, pieces: [1000, 3, 17])
        #expect(outcome.error == nil)
        #expect(outcome.events.dropFirst() == [.body(body), .trailers(["grpc-status": "0"]), .end])
    }

    @Test func reasonPhrases() {
        #expect(HTTP1ResponseWriter.reasonPhrase(for: 431) == "Request Header Fields Too Large")
        #expect(HTTP1ResponseWriter.reasonPhrase(for: 505) == "HTTP Version Not Supported")
        #expect(HTTP1ResponseWriter.reasonPhrase(for: 299) == "")
    }
}

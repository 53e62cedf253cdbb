import HTTP1
import Testing

/// One request the parser must refuse, never forward: the bytes, and the exact status and
/// message. Request smuggling rules first (RFC 9112 §6, §7.1, §11.2), then syntax, then limits.
struct Rejection: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var status: Int
    var message: String
    var limits = HTTP1Limits()

    var testDescription: String { name }

    init(_ name: String, _ input: String, _ status: Int, _ message: String, limits: HTTP1Limits = HTTP1Limits()) {
        self.name = name
        self.input = Array(input.utf8)
        self.status = status
        self.message = message
        self.limits = limits
    }

    init(_ name: String, bytes input: [UInt8], _ status: Int, _ message: String) {
        self.name = name
        self.input = input
        self.status = status
        self.message = message
    }
}

/// A POST with `fields` after its Host, then `body`.
private func post(_ fields: String, body: String = "", version: String = "HTTP/1.1") -> String {
    "POST /p \(version)\r\nHost: h\r\n\(fields)\r\n\(body)"
}

/// A chunked POST whose body is `body`.
private func chunked(_ body: String) -> String {
    post("Transfer-Encoding: chunked\r\n", body: body)
}

private let smallLimits = HTTP1Limits(maxRequestLine: 20, maxHeaderBytes: 40, maxHeaderCount: 3, maxChunkLine: 8, maxTrailerBytes: 12)

let rejections: [Rejection] = [
    // Content-Length and Transfer-Encoding (RFC 9112 §6.1, §6.3; RFC 9110 §8.6)
    Rejection("CL and TE", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", body: "0\r\n\r\n"), 400, "both Content-Length and Transfer-Encoding"),
    Rejection("TE and CL", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", body: "0\r\n\r\n"), 400, "both Content-Length and Transfer-Encoding"),
    Rejection("TE gzip,chunked and CL", post("Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n"), 400, "both Content-Length and Transfer-Encoding"),
    Rejection("differing CL lines", post("Content-Length: 5\r\nContent-Length: 6\r\n", body: "hello!"), 400, "differing Content-Length values 5 and 6"),
    Rejection("differing CL list", post("Content-Length: 5, 6\r\n", body: "hello!"), 400, "differing Content-Length values 5 and 6"),
    Rejection("CL with plus sign", post("Content-Length: +5\r\n"), 400, "invalid Content-Length \"+5\""),
    Rejection("CL in hex", post("Content-Length: 0x10\r\n"), 400, "invalid Content-Length \"0x10\""),
    Rejection("CL with inner space", post("Content-Length: 5 5\r\n"), 400, "invalid Content-Length \"5 5\""),
    Rejection("CL negative", post("Content-Length: -1\r\n"), 400, "invalid Content-Length \"-1\""),
    Rejection("CL decimal point", post("Content-Length: 5.0\r\n"), 400, "invalid Content-Length \"5.0\""),
    Rejection("CL empty", post("Content-Length:\r\n"), 400, "invalid Content-Length \"\""),
    Rejection("CL empty list element", post("Content-Length: 5,\r\n"), 400, "invalid Content-Length \"5,\""),
    Rejection("CL overflow", post("Content-Length: 99999999999999999999\r\n"), 400, "Content-Length \"99999999999999999999\" too large"),
    Rejection("TE gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n"), 501, "unsupported transfer coding \"gzip\""),
    Rejection("TE on two lines gzip / chunked", post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 501, "unsupported transfer coding \"gzip\""),
    Rejection("TE chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n"), 400, "Transfer-Encoding does not end with chunked"),
    Rejection("TE gzip alone", post("Transfer-Encoding: gzip\r\n"), 400, "Transfer-Encoding does not end with chunked"),
    Rejection("TE identity", post("Transfer-Encoding: identity\r\n"), 400, "Transfer-Encoding does not end with chunked"),
    Rejection("TE empty", post("Transfer-Encoding:\r\n"), 400, "Transfer-Encoding does not end with chunked"),
    Rejection("TE chunked, chunked", post("Transfer-Encoding: chunked, chunked\r\n"), 400, "chunked applied more than once in Transfer-Encoding"),
    Rejection("TE chunked on two lines", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400, "chunked applied more than once in Transfer-Encoding"),
    Rejection("TE chunked with a parameter", post("Transfer-Encoding: chunked;q=1\r\n"), 400, "invalid Transfer-Encoding \"chunked;q=1\""),
    Rejection("TE without comma", post("Transfer-Encoding: gzip chunked\r\n"), 400, "invalid Transfer-Encoding \"gzip chunked\""),
    Rejection("TE quoted junk", post("Transfer-Encoding: \"chunked\"\r\n"), 400, "invalid Transfer-Encoding \"\\\"chunked\\\"\""),
    Rejection("TE in HTTP/1.0", post("Transfer-Encoding: chunked\r\n", body: "0\r\n\r\n", version: "HTTP/1.0"), 400, "Transfer-Encoding in an HTTP/1.0 request"),

    // Chunked coding (RFC 9112 §7.1)
    Rejection("chunk size not hex", chunked("zz\r\n"), 400, "invalid chunk size \"zz\""),
    Rejection("chunk size empty", chunked("\r\nhello\r\n"), 400, "invalid chunk size \"\""),
    Rejection("chunk size with 0x", chunked("0x5\r\nhello\r\n"), 400, "invalid chunk size \"0x5\""),
    Rejection("chunk size negative", chunked("-5\r\nhello\r\n"), 400, "invalid chunk size \"-5\""),
    Rejection("chunk size with junk", chunked("5x\r\nhello\r\n"), 400, "invalid chunk size \"5x\""),
    Rejection("chunk size leading space", chunked(" 5\r\nhello\r\n"), 400, "invalid chunk size \"\""),
    Rejection("chunk size overflow", chunked("ffffffffffffffff\r\n"), 400, "chunk size \"ffffffffffffffff\" too large"),
    Rejection("chunk size two numbers", chunked("5 5\r\nhello\r\n"), 400, "invalid chunk extension \" 5\""),
    Rejection("chunk size trailing space", chunked("5 \r\nhello\r\n"), 400, "invalid chunk extension \" \""),
    Rejection("chunk extension without name", chunked("5;\r\nhello\r\n"), 400, "invalid chunk extension \";\""),
    Rejection("chunk extension empty value", chunked("5;a=\r\nhello\r\n"), 400, "invalid chunk extension \";a=\""),
    Rejection("chunk extension open quote", chunked("5;a=\"b\r\nhello\r\n"), 400, "invalid chunk extension \";a=\\\"b\""),
    Rejection("chunk extension control char", chunked("5;a=\"\u{1}\"\r\nhello\r\n"), 400, "invalid chunk extension \";a=\\\"\\x01\\\"\""),
    Rejection("chunk data longer than its size", chunked("3\r\nhello\r\n0\r\n\r\n"), 400, "chunk data not followed by CRLF"),
    Rejection("chunk data then junk", chunked("5\r\nhelloX\r\n"), 400, "chunk data not followed by CRLF"),
    Rejection("chunk data then bare LF", chunked("5\r\nhello\n0\r\n\r\n"), 400, "chunk data not followed by CRLF"),
    Rejection("chunk data then bare CR", chunked("5\r\nhello\r0\r\n\r\n"), 400, "chunk data not followed by CRLF"),
    Rejection("chunk line bare LF", chunked("5\nhello\r\n"), 400, "bare LF in chunk line"),
    Rejection("chunk line bare CR", chunked("5\r;a\r\nhello\r\n"), 400, "bare CR in chunk line"),
    Rejection("last chunk bare LF", chunked("0\n\r\n"), 400, "bare LF in chunk line"),
    Rejection("chunk line too long", chunked("1;" + String(repeating: "a", count: 1100) + "\r\nz\r\n0\r\n\r\n"), 400, "chunk line longer than 1024 bytes"),
    Rejection("trailer bare LF", chunked("0\r\nX: y\n\r\n"), 400, "bare LF in trailer section"),
    Rejection("trailer end bare LF", chunked("0\r\nX: y\r\n\n"), 400, "bare LF in trailer section"),
    Rejection("trailer bare CR", chunked("0\r\nX: a\rb\r\n\r\n"), 400, "bare CR in trailer section"),
    Rejection("trailer obs-fold", chunked("0\r\nX: y\r\n z\r\n\r\n"), 400, "obs-fold: trailer line starts with whitespace"),
    Rejection("trailer leading whitespace", chunked("0\r\n X: y\r\n\r\n"), 400, "whitespace before the first trailer field"),
    Rejection("trailer space before colon", chunked("0\r\nX : y\r\n\r\n"), 400, "whitespace between trailer field name and colon"),
    Rejection("trailer control char", chunked("0\r\nX: a\u{0}b\r\n\r\n"), 400, "control character 0x00 in trailer field \"X\""),

    // Field lines (RFC 9112 §2.2, §5; RFC 9110 §5.5)
    Rejection("obs-fold", post("X-A: b\r\n c\r\n"), 400, "obs-fold: header line starts with whitespace"),
    Rejection("obs-fold with tab", post("X-A: b\r\n\tc\r\n"), 400, "obs-fold: header line starts with whitespace"),
    Rejection("whitespace before first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "whitespace before the first header field"),
    Rejection("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "whitespace between header field name and colon"),
    Rejection("tab before colon", post("Content-Length\t: 5\r\n"), 400, "whitespace between header field name and colon"),
    Rejection("space inside name", post("X A: b\r\n"), 400, "invalid character 0x20 in header field name \"X A\""),
    Rejection("separator in name", post("X(A): b\r\n"), 400, "invalid character 0x28 in header field name \"X(A)\""),
    Rejection("control char in name", post("X\u{1}A: b\r\n"), 400, "invalid character 0x01 in header field name \"X\\x01A\""),
    Rejection("DEL in name", post("X\u{7F}A: b\r\n"), 400, "invalid character 0x7F in header field name \"X\\x7FA\""),
    Rejection("non-ASCII in name", post("X\u{E9}: b\r\n"), 400, "invalid character 0xC3 in header field name \"X\\xC3\\xA9\""),
    Rejection("empty name", post(": b\r\n"), 400, "empty header field name"),
    Rejection("no colon", post("NoColon\r\n"), 400, "header line without a colon: \"NoColon\""),
    Rejection("NUL in value", post("X-A: a\u{0}b\r\n"), 400, "control character 0x00 in header field \"X-A\""),
    Rejection("control char in value", post("X-A: a\u{1B}b\r\n"), 400, "control character 0x1B in header field \"X-A\""),
    Rejection("DEL in value", post("X-A: a\u{7F}\r\n"), 400, "control character 0x7F in header field \"X-A\""),
    Rejection("bare LF in field line", post("X-A: b\n"), 400, "bare LF in header section"),
    Rejection("bare LF ending the head", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF in header section"),
    Rejection("bare CR in value", post("X-A: b\rc\r\n"), 400, "bare CR in header section"),
    Rejection("bare CR ending a field", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, "bare CR in header section"),

    // Request line (RFC 9112 §2.3, §3)
    Rejection("bare LF in request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF in request line"),
    Rejection("bare LF before request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare LF in request line"),
    Rejection("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR in request line"),
    Rejection("invalid method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid method \"G(T\""),
    Rejection("control char in method", "G\u{0}T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid method \"G\\x00T\""),
    Rejection("space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "whitespace in request target"),
    Rejection("tab in target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "whitespace in request target"),
    Rejection("double space after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "whitespace in request target"),
    Rejection("control char in target", "GET /a\u{1}b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid byte 0x01 in request target"),
    Rejection("DEL in target", "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid byte 0x7F in request target"),
    Rejection("non-ASCII in target", "GET /\u{E9} HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid byte 0xC3 in request target"),
    Rejection("no version", "GET /\r\n\r\n", 400, "malformed request line \"GET /\""),
    Rejection("leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed request line \" GET / HTTP/1.1\""),
    Rejection("trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "whitespace in request target"),
    Rejection("lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400, "invalid HTTP version \"http/1.1\""),
    Rejection("two-digit minor version", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "invalid HTTP version \"HTTP/1.10\""),
    Rejection("version without minor", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400, "invalid HTTP version \"HTTP/1\""),
    Rejection("HTTP/2.0 on the wire", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "unsupported HTTP version \"HTTP/2.0\""),
    Rejection("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported HTTP version \"HTTP/2.0\""),
    Rejection("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505, "unsupported HTTP version \"HTTP/0.9\""),
    Rejection("HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505, "unsupported HTTP version \"HTTP/3.0\""),

    // Host (RFC 9112 §3.2)
    Rejection("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "missing Host header"),
    Rejection("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host header"),
    Rejection("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400, "more than one Host header"),
    Rejection("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host \"a b\""),
    Rejection("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host \"a/b\""),
    Rejection("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid Host \"u@a\""),

    // Limits (RFC 9112 §3, RFC 6585 §5)
    Rejection("request line too long", "GET /" + String(repeating: "a", count: 8200) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414, "request line longer than 8192 bytes"),
    Rejection("request line without end", "GET /" + String(repeating: "a", count: 9000), 414, "request line longer than 8192 bytes"),
    Rejection("request line limit counts empty lines", "\r\n\r\n\r\nGET /aaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n", 414, "request line longer than 20 bytes", limits: smallLimits),
    Rejection("header section too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 70000) + "\r\n\r\n", 431, "header section larger than 65536 bytes"),
    Rejection("header line without end", "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "x", count: 70000), 431, "header section larger than 65536 bytes"),
    Rejection("too many header fields", "GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X: y\r\n", count: 100) + "\r\n", 431, "more than 100 header fields"),
    Rejection("header bytes over a small limit", "GET / HTTP/1.1\r\nHost: h\r\nA: 12345\r\nBB: 12345678901234\r\n\r\n", 431, "header section larger than 40 bytes", limits: smallLimits),
    Rejection("chunk line over a small limit", chunked("1;abcdefg\r\nz\r\n0\r\n\r\n"), 400, "chunk line longer than 8 bytes", limits: HTTP1Limits(maxChunkLine: 8)),
    Rejection("trailers over a small limit", chunked("0\r\nX: 123456\r\n\r\n"), 431, "trailer section larger than 12 bytes", limits: HTTP1Limits(maxTrailerBytes: 12)),
    Rejection("too many trailer fields", chunked("0\r\n" + String(repeating: "T: 1\r\n", count: 101) + "\r\n"), 431, "more than 100 trailer fields"),
]

@Suite struct HTTP1RequestParserRejectionTests {
    @Test(arguments: rejections)
    func rejected(_ row: Rejection) {
        let outcome = parse(row.input, limits: row.limits)
        #expect(outcome.error == HTTP1ParseError(status: row.status, message: row.message))
        // Never forwarded: the refused request never ends, and its head is reported only when
        // the error lies in a chunked body after a valid head.
        #expect(!outcome.events.contains(.end))
        #expect(outcome.heads.allSatisfy { $0.body == .chunked })
    }

    /// The rows are distinct inputs, so each rule is tested on its own.
    @Test func rowsAreDistinct() {
        #expect(Set(rejections.map(\.input)).count == rejections.count)
        #expect(Set(rejections.map(\.name)).count == rejections.count)
    }
}

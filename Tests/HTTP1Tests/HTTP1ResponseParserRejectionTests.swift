import HTTP1
import Testing

/// One response the parser must refuse, as a `Rejection` row (its status always 502). The rules
/// shared with requests are tested once on each side: framing first (RFC 9112 §6, §7.1), then
/// the status line, then field lines and limits.
private func refused(_ name: String, _ input: String, _ message: String, limits: HTTP1Limits = HTTP1Limits()) -> Rejection {
    Rejection(name, input, 502, message, limits: limits)
}

/// A 200 with `fields`, then `body`.
private func ok(_ fields: String, body: String = "", version: String = "HTTP/1.1") -> String {
    "\(version) 200 OK\r\n\(fields)\r\n\(body)"
}

/// A chunked 200 whose body is `body`.
private func chunked(_ body: String) -> String {
    ok("Transfer-Encoding: chunked\r\n", body: body)
}

let responseRejections: [Rejection] = [
    // Content-Length and Transfer-Encoding (RFC 9112 §6.1, §6.3; RFC 9110 §8.6)
    refused("CL and TE", ok("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", body: "0\r\n\r\n"), "both Content-Length and Transfer-Encoding"),
    refused("differing CL lines", ok("Content-Length: 5\r\nContent-Length: 6\r\n", body: "hello!"), "differing Content-Length values 5 and 6"),
    refused("differing CL list", ok("Content-Length: 5, 6\r\n", body: "hello!"), "differing Content-Length values 5 and 6"),
    refused("CL with plus sign", ok("Content-Length: +5\r\n"), "invalid Content-Length \"+5\""),
    refused("CL negative", ok("Content-Length: -1\r\n"), "invalid Content-Length \"-1\""),
    refused("CL empty", ok("Content-Length:\r\n"), "invalid Content-Length \"\""),
    refused("CL overflow", ok("Content-Length: 99999999999999999999\r\n"), "Content-Length \"99999999999999999999\" too large"),
    refused("CL invalid on a 204 too", "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n", "invalid Content-Length \"x\""),
    refused("TE gzip, chunked", ok("Transfer-Encoding: gzip, chunked\r\n"), "unsupported transfer coding \"gzip\""),
    refused("TE gzip alone", ok("Transfer-Encoding: gzip\r\n"), "Transfer-Encoding does not end with chunked"),
    refused("TE chunked, chunked", ok("Transfer-Encoding: chunked, chunked\r\n"), "chunked applied more than once in Transfer-Encoding"),
    refused("TE chunked with a parameter", ok("Transfer-Encoding: chunked;q=1\r\n"), "invalid Transfer-Encoding \"chunked;q=1\""),
    refused("TE in HTTP/1.0", ok("Transfer-Encoding: chunked\r\n", body: "0\r\n\r\n", version: "HTTP/1.0"), "Transfer-Encoding in an HTTP/1.0 response"),

    // Chunked coding (RFC 9112 §7.1)
    refused("chunk size not hex", chunked("zz\r\n"), "invalid chunk size \"zz\""),
    refused("chunk size empty", chunked("\r\nhello\r\n"), "invalid chunk size \"\""),
    refused("chunk size overflow", chunked("ffffffffffffffff\r\n"), "chunk size \"ffffffffffffffff\" too large"),
    refused("chunk extension without name", chunked("5;\r\nhello\r\n"), "invalid chunk extension \";\""),
    refused("chunk data longer than its size", chunked("3\r\nhello\r\n0\r\n\r\n"), "chunk data not followed by CRLF"),
    refused("chunk line bare LF", chunked("5\nhello\r\n"), "bare LF in chunk line"),
    refused("chunk line too long", chunked("1;" + String(repeating: "a", count: 1100) + "\r\nz\r\n0\r\n\r\n"), "chunk line longer than 1024 bytes"),
    refused("trailer obs-fold", chunked("0\r\nX: y\r\n z\r\n\r\n"), "obs-fold: trailer line starts with whitespace"),
    refused("trailer control char", chunked("0\r\nX: a\u{0}b\r\n\r\n"), "control character 0x00 in trailer field \"X\""),
    refused("trailers over a small limit", chunked("0\r\nX: 123456\r\n\r\n"), "trailer section larger than 12 bytes", limits: HTTP1Limits(maxTrailerBytes: 12)),

    // Status line (RFC 9112 §4, RFC 9110 §15)
    refused("empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed status line \"\""),
    refused("no status code", "HTTP/1.1\r\n\r\n", "malformed status line \"HTTP/1.1\""),
    refused("no SP after the code", "HTTP/1.1 200\r\n\r\n", "malformed status line \"HTTP/1.1 200\""),
    refused("two-digit code", "HTTP/1.1 20 OK\r\n\r\n", "invalid status code \"20\""),
    refused("four-digit code", "HTTP/1.1 2000 OK\r\n\r\n", "invalid status code \"2000\""),
    refused("code with a letter", "HTTP/1.1 2x0 OK\r\n\r\n", "invalid status code \"2x0\""),
    refused("double space before the code", "HTTP/1.1  200 OK\r\n\r\n", "invalid status code \"\""),
    refused("code below 100", "HTTP/1.1 099 Low\r\n\r\n", "invalid status code \"099\""),
    refused("code above 599", "HTTP/1.1 600 High\r\n\r\n", "invalid status code \"600\""),
    refused("control char in reason", "HTTP/1.1 200 O\u{1}K\r\n\r\n", "control character 0x01 in reason phrase"),
    refused("DEL in reason", "HTTP/1.1 200 OK\u{7F}\r\n\r\n", "control character 0x7F in reason phrase"),
    refused("lower-case version", "http/1.1 200 OK\r\n\r\n", "invalid HTTP version \"http/1.1\""),
    refused("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version \"HTTP/2.0\""),
    refused("not HTTP at all", "SSH-2.0-OpenSSH_9.6\r\n", "malformed status line \"SSH-2.0-OpenSSH_9.6\""),
    refused("version not HTTP", "ICY 200 OK\r\n\r\n", "invalid HTTP version \"ICY\""),
    refused("bare LF in status line", "HTTP/1.1 200 OK\n\r\n", "bare LF in status line"),
    refused("bare CR in status line", "HTTP/1.1 200 O\rK\r\n\r\n", "bare CR in status line"),
    refused("status line too long", "HTTP/1.1 200 " + String(repeating: "a", count: 8200) + "\r\n\r\n", "status line longer than 8192 bytes"),
    refused("status line without end", "HTTP/1.1 200 " + String(repeating: "a", count: 9000), "status line longer than 8192 bytes"),

    // Field lines (RFC 9112 §2.2, §5; RFC 9110 §5.5)
    refused("obs-fold", ok("X-A: b\r\n c\r\n"), "obs-fold: header line starts with whitespace"),
    refused("whitespace before first field", ok(" X-A: b\r\n"), "whitespace before the first header field"),
    refused("space before colon", ok("Content-Length : 0\r\n"), "whitespace between header field name and colon"),
    refused("separator in name", ok("X(A): b\r\n"), "invalid character 0x28 in header field name \"X(A)\""),
    refused("no colon", ok("NoColon\r\n"), "header line without a colon: \"NoColon\""),
    refused("NUL in value", ok("X-A: a\u{0}b\r\n"), "control character 0x00 in header field \"X-A\""),
    refused("bare LF in field line", ok("X-A: b\n"), "bare LF in header section"),
    refused("bare CR in value", ok("X-A: b\rc\r\n"), "bare CR in header section"),
    refused("header section too large", ok("X: " + String(repeating: "v", count: 70000) + "\r\n"), "header section larger than 65536 bytes"),
    refused("too many header fields", ok(String(repeating: "X: y\r\n", count: 101)), "more than 100 header fields"),
    refused("field error in an interim response", "HTTP/1.1 100 Continue\r\nX : y\r\n\r\n", "whitespace between header field name and colon"),
]

@Suite struct HTTP1ResponseParserRejectionTests {
    @Test(arguments: responseRejections)
    func rejected(_ row: Rejection) {
        let outcome = parseResponse(row.input, closed: true, limits: row.limits)
        #expect(outcome.error == HTTP1ParseError(status: row.status, message: row.message))
        // A refused response never ends, and its head is reported only when the error lies in
        // a chunked body after a valid head.
        #expect(!outcome.events.contains(.end))
        #expect(outcome.heads.allSatisfy { $0.body == .chunked })
    }

    /// The rows are distinct inputs, so each rule is tested on its own.
    @Test func rowsAreDistinct() {
        #expect(Set(responseRejections.map(\.input)).count == responseRejections.count)
        #expect(Set(responseRejections.map(\.name)).count == responseRejections.count)
    }
}

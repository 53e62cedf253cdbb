/// How a message's body is delimited (RFC 9112 §6.3).
///
/// For a request or a response read, the parsers derive it from `Transfer-Encoding` and
/// `Content-Length` (and a response's status). For a response written,
/// `HTTP1ResponseWriter.writeHead` writes the matching header.
public enum HTTP1BodyFraming: Sendable, Equatable {
    /// No body. A request with neither `Content-Length` nor `Transfer-Encoding` has none
    /// (RFC 9112 §6.3, rule 7). For a response, no framing header is written (1xx, 204, 304,
    /// or a response to HEAD whose caller writes `Content-Length` itself).
    case none
    /// Exactly this many bytes follow the head (RFC 9112 §6.2). Zero is allowed.
    case contentLength(Int)
    /// The body is in the chunked transfer coding (RFC 9112 §7.1), possibly followed by trailers.
    case chunked
    /// The body runs until the connection closes (RFC 9112 §6.3 rule 8): a response without
    /// either framing header. Never a request's. Written, it adds no header; the caller closes
    /// the connection after the body.
    case untilClose
}

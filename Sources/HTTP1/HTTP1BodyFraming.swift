/// How a message's body is delimited (RFC 9112 §6.3).
///
/// For a request, the parser derives it from `Transfer-Encoding` and `Content-Length`. For a
/// response, `HTTP1ResponseWriter.writeHead` writes the matching header.
public enum HTTP1BodyFraming: Sendable, Equatable {
    /// No body. A request with neither `Content-Length` nor `Transfer-Encoding` has none
    /// (RFC 9112 §6.3, rule 7). For a response, no framing header is written (1xx, 204, 304,
    /// or a response to HEAD whose caller writes `Content-Length` itself).
    case none
    /// Exactly this many bytes follow the head (RFC 9112 §6.2). Zero is allowed.
    case contentLength(Int)
    /// The body is in the chunked transfer coding (RFC 9112 §7.1), possibly followed by trailers.
    case chunked
}

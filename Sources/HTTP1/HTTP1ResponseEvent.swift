/// What `HTTP1ResponseParser.feed` reports, in wire order. Each response gives zero or more
/// `informational` heads, one `head`, zero or more `body` pieces, at most one `trailers`, then
/// `end`.
public enum HTTP1ResponseEvent {
    /// An interim response (1xx other than 101, RFC 9110 §15.2): complete, without a body; the
    /// final response to the same request follows.
    case informational(HTTP1ResponseHead)
    /// The final response's status line and header section, complete and validated.
    case head(HTTP1ResponseHead)
    /// Body bytes, never empty: for a chunked body, the chunk data without the chunk framing.
    /// A view of the buffer passed to `feed`, valid only until the callback returns.
    case body(UnsafeRawBufferPointer)
    /// The trailer section of a chunked body (RFC 9112 §7.1.2), as received.
    case trailers(HTTP1Fields)
    /// The response is complete.
    case end
}

extension HTTP1ResponseEvent: HTTP1MessageEvent {}

/// What `HTTP1RequestParser.feed` reports, in wire order. Each request gives one `head`, zero or
/// more `body` pieces, at most one `trailers` (a chunked body whose trailer section is not
/// empty), then `end`.
public enum HTTP1Event {
    /// The request line and header section, complete and validated.
    case head(HTTP1RequestHead)
    /// Body bytes, never empty: for a chunked body, the chunk data without the chunk framing.
    /// A view of the buffer passed to `feed`, valid only until the callback returns; copy it
    /// (or write it on) before returning. A piece never spans two chunks, and a chunk (or a
    /// `Content-Length` body) comes in as many pieces as the input was cut into.
    case body(UnsafeRawBufferPointer)
    /// The trailer section of a chunked body (RFC 9112 §7.1.2), reported as received; fields
    /// that may not appear there (framing, routing) are the caller's to ignore.
    case trailers(HTTP1Fields)
    /// The request is complete.
    case end
}

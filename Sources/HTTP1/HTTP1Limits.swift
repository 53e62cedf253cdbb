/// The bounds within which `HTTP1RequestParser` and `HTTP1ResponseParser` buffer a message's
/// head, chunk lines and trailers. Body bytes are never buffered (they are handed out as views of
/// the input), so these limits are the whole memory a parser holds beyond its fixed size.
///
/// A request over a limit fails with the status RFC 9112 and RFC 6585 name for it: 414 for the
/// request line, 431 for the header and trailer sections, 400 for a chunk line. A response over
/// one fails with 502, like every malformed response (`HTTP1ResponseParser`).
public struct HTTP1Limits: Sendable, Equatable {
    /// The longest request line, in bytes, not counting its CRLF; empty lines ignored before it
    /// (RFC 9112 §2.2) count against it too. RFC 9112 §3 recommends supporting at least 8000
    /// octets. Beyond it: 414.
    public var maxRequestLine: Int
    /// The longest status line of a response, in bytes, not counting its CRLF.
    public var maxStatusLine: Int
    /// The largest header section, in bytes: every field line with its CRLF and the empty line
    /// that ends the section. Beyond it: 431.
    public var maxHeaderBytes: Int
    /// The most field lines in the header section, and separately in the trailer section.
    /// Beyond it: 431.
    public var maxHeaderCount: Int
    /// The longest chunk-size line (size and chunk extensions, RFC 9112 §7.1.1), not counting
    /// its CRLF. Beyond it: 400.
    public var maxChunkLine: Int
    /// The largest trailer section (RFC 9112 §7.1.2), in bytes, counted like `maxHeaderBytes`.
    /// Beyond it: 431.
    public var maxTrailerBytes: Int

    public init(
        maxRequestLine: Int = 8 * 1024,
        maxHeaderBytes: Int = 64 * 1024,
        maxHeaderCount: Int = 100,
        maxChunkLine: Int = 1024,
        maxTrailerBytes: Int = 16 * 1024,
        maxStatusLine: Int = 8 * 1024
    ) {
        precondition(maxRequestLine >= 0 && maxHeaderBytes >= 0 && maxHeaderCount >= 0 && maxChunkLine >= 0 && maxTrailerBytes >= 0
            && maxStatusLine >= 0)
        self.maxRequestLine = maxRequestLine
        self.maxStatusLine = maxStatusLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLine = maxChunkLine
        self.maxTrailerBytes = maxTrailerBytes
    }
}

/// A strict, incremental HTTP/1.1 response parser (RFC 9112) for the client side of one
/// connection: bytes in, `HTTP1ResponseEvent`s out, no sockets. The request parser's twin: the
/// same engine (`HTTP1MessageParser`), the same rules for field lines, framing fields, chunked
/// coding and limits, the same messages.
///
/// **Incremental, zero-copy bodies.** As for `HTTP1RequestParser`: `feed` takes bytes cut
/// anywhere, the events are the same however the input is cut (a body arrives in as many pieces
/// as the input does), `.body` events are views of the buffer passed to `feed`, valid only during
/// the callback, and the head and trailers are copied into bounded `HTTP1Fields`.
///
/// **Framing** (RFC 9112 §6.3). 1xx responses other than 101 are reported as `.informational`
/// and the final response follows. A response to HEAD (`nextResponseIsToHEAD`), 101, 204 and 304
/// have no body. Otherwise the body is chunked, or `Content-Length` bytes, or, with neither
/// field, runs until the connection closes: call `connectionClosed` to end it.
///
/// **Strict.** What the request parser refuses about fields and framing is refused here too:
/// both `Content-Length` and `Transfer-Encoding`, differing `Content-Length`s, a
/// `Transfer-Encoding` other than a single final `chunked` (this client decodes no other coding),
/// bad chunk lines, bare CR or LF, obs-fold, whitespace before a colon, control characters; and a
/// status line that is not `HTTP/1.x SP 3DIGIT SP reason`, with a code in 100...599.
///
/// **Errors are final** and always `HTTP1ParseError` with status 502: the message says what was
/// wrong. The caller closes the connection; whatever the response delivered is not to be trusted.
///
/// **Connections.** After a response that does not keep the connection alive (`Connection:
/// close`, HTTP/1.0, a body that the close ends) and after a 101, the parser takes nothing more:
/// `feed` returns right after that response's `.end` and discards whatever it is fed later (after
/// a 101 the rest of the bytes are the new protocol's). With `stopAfterEnd`, `feed` returns after
/// every `.end`, so that bytes after a response can be told apart from it.
///
/// A value owned by one connection on its loop thread. `onEvent` must not touch the parser.
public struct HTTP1ResponseParser: Sendable {
    private var parser: HTTP1MessageParser<HTTP1ResponseHeadParser>

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        parser = HTTP1MessageParser(limits: limits, head: HTTP1ResponseHeadParser())
    }

    public var limits: HTTP1Limits {
        parser.limits
    }

    /// The next final response answers a HEAD request: it has no body, whatever its fields say
    /// (RFC 9112 §6.3 rule 1). Set it before that response's bytes are fed (between responses,
    /// with `stopAfterEnd`, when requests are pipelined); it goes back to false after its `.end`.
    public var nextResponseIsToHEAD: Bool {
        get { parser.head.respondingToHead }
        set { parser.head.respondingToHead = newValue }
    }

    /// True between responses, before any byte of the next one.
    public var isIdle: Bool {
        parser.isIdle
    }

    /// True once a response that ends the connection has ended: nothing more will be parsed.
    public var isClosed: Bool {
        parser.state == .closed
    }

    /// The error the parser failed with, if it has.
    public var error: HTTP1ParseError? {
        parser.failure
    }

    /// Parses `bytes`, reporting events in order through `onEvent`, and returns how many bytes
    /// it consumed: all of them, unless it stopped after a response's `.end` (`stopAfterEnd`, or
    /// a response that ends the connection's HTTP/1.1); the caller then decides what the rest is.
    ///
    /// - Throws: the first violation (status 502), after the events of the bytes before it. The
    ///   parser stays failed; every later call throws the same error.
    @discardableResult
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1ResponseEvent) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try parser.feed(bytes, stopAfterEnd: stopAfterEnd, onEvent)
    }

    /// Parses `bytes`; see `feed(_:stopAfterEnd:_:)` on a buffer.
    @discardableResult
    public mutating func feed(
        _ bytes: [UInt8],
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1ResponseEvent) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try parser.feed(bytes, stopAfterEnd: stopAfterEnd, onEvent)
    }

    /// The server closed the connection (end of file): ends a body that the close delimits with
    /// `.end`. Between responses, or after one that ended the connection, it does nothing.
    ///
    /// - Throws: `connection closed before the end of the response` when the close cut a
    ///   response short (inside its head, a `Content-Length` body or a chunked one), and the
    ///   error the parser already failed with.
    public mutating func connectionClosed(_ onEvent: (HTTP1ResponseEvent) -> Void) throws(HTTP1ParseError) {
        try parser.connectionClosed(onEvent)
    }
}

/// A strict, incremental HTTP/1.1 request parser (RFC 9112) for the server side of one
/// connection: bytes in, `HTTP1Event`s out, no sockets.
///
/// **Incremental.** `feed` takes bytes as they were read, cut anywhere (one byte at a time
/// works); the events are the same however the input is cut, except that a body arrives in as
/// many pieces as the input does.
///
/// **Zero-copy bodies.** `.body` events are views of the buffer passed to `feed`, valid only
/// during the callback. The head (request line and header fields) and the trailers are copied
/// into the `HTTP1Fields` handed over with `.head` and `.trailers`; a line cut by the end of a
/// buffer is kept until its end arrives. All of that is bounded by `limits`: a parser holds at
/// most one partial line and the fields of one head (or trailer section), each within its limit.
///
/// **Pipelining** (RFC 9112 §9.3.2). Several requests in one buffer are parsed one after another.
/// `feed(_:stopAfterEnd:_:)` returns how many bytes it consumed: with `stopAfterEnd` it returns
/// right after a request's `.end`, and the caller feeds the rest when it is ready for the next
/// request (responses must go out in order). It always stops after the `.end` of a request that
/// offered an upgrade (the bytes after it may not be HTTP/1.1) and of one that does not keep the
/// connection alive; after the latter the parser takes nothing more (RFC 9112 §9.6: it must not
/// process further requests) and discards whatever is fed to it.
///
/// **Strict.** Anything ambiguous about framing is refused, never guessed (request smuggling,
/// RFC 9112 §11.2): both `Content-Length` and `Transfer-Encoding`, differing `Content-Length`s,
/// a `Transfer-Encoding` other than a final `chunked`, bad chunk lines, bare CR or LF, obs-fold,
/// whitespace before a colon, control characters. The rules and their messages are in
/// `HTTP1RequestHeadParser.swift` and, shared with `HTTP1ResponseParser`, in
/// `HTTP1MessageParser.swift`, `HTTP1FramingFields.swift` and `HTTP1MessageParser+Chunked.swift`.
///
/// **Errors are final.** The first violation throws an `HTTP1ParseError` after the events of the
/// bytes before it; every later `feed` throws the same error. The caller answers with its status
/// and `Connection: close` (`HTTP1ResponseWriter.writeError`), and closes.
///
/// A value owned by one connection on its loop thread. `onEvent` must not touch the parser.
public struct HTTP1RequestParser: Sendable {
    private var parser: HTTP1MessageParser<HTTP1RequestHeadParser>

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        parser = HTTP1MessageParser(limits: limits, head: HTTP1RequestHeadParser())
    }

    public var limits: HTTP1Limits {
        parser.limits
    }

    /// True between requests, before any byte of the next one: closing the connection here
    /// loses nothing.
    public var isIdle: Bool {
        parser.isIdle
    }

    /// True from the first byte of a request until its `.head`: the time a header timeout
    /// (slowloris) should bound.
    public var isReadingHead: Bool {
        parser.failure == nil && (parser.state == .headerLine || (parser.state == .startLine && !parser.isIdle))
    }

    /// True inside a chunked body between chunk boundaries: in a chunk's size line, its data or
    /// the CRLF after it, or in the trailer section. A client that pauses here has stopped in the
    /// middle of something it started sending (`min_rate` judges it), not between chunks.
    public var isInsideChunk: Bool {
        guard parser.failure == nil else { return false }
        switch parser.state {
        case .chunkData, .chunkDataCR, .chunkDataLF, .trailerLine: return true
        case .chunkLine: return !parser.lineBuffer.isEmpty
        default: return false
        }
    }

    /// True once a request that does not keep the connection alive has ended: nothing more will
    /// be parsed on this connection.
    public var isClosed: Bool {
        parser.state == .closed
    }

    /// The error the parser failed with, if it has.
    public var error: HTTP1ParseError? {
        parser.failure
    }

    /// Parses `bytes`, reporting events in order through `onEvent`, and returns how many bytes
    /// it consumed: all of them, unless it stopped after a request's `.end` (see the type's
    /// doc: `stopAfterEnd`, an upgrade offered); then the caller feeds `bytes[consumed...]` later.
    /// Bytes consumed are never needed again: a cut line is copied before `feed` returns.
    ///
    /// `.body` events point into `bytes` and are valid only during the callback.
    ///
    /// - Throws: the first violation, after the events of the bytes before it. The parser stays
    ///   failed; every later call throws the same error.
    @discardableResult
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try parser.feed(bytes, stopAfterEnd: stopAfterEnd, onEvent)
    }

    /// Parses `bytes`; see `feed(_:stopAfterEnd:_:)` on a buffer. `.body` views are valid only
    /// during the callback.
    @discardableResult
    public mutating func feed(
        _ bytes: [UInt8],
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try parser.feed(bytes, stopAfterEnd: stopAfterEnd, onEvent)
    }
}

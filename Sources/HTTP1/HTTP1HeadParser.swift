/// What one side of HTTP/1.1 adds to `HTTP1MessageParser`: its start line (request line or
/// status line), the header fields only it reads, and how a complete head decides the body
/// (RFC 9112 §6.3 has rules for requests and others for responses).
///
/// Called by the message parser only, line by line, with views valid during the call.
protocol HTTP1HeadParser: Sendable {
    associatedtype Event: HTTP1MessageEvent

    /// `request` or `response`, for messages such as `Transfer-Encoding in an HTTP/1.0 request`.
    static var messageName: String { get }
    /// `request line` or `status line`, for messages such as `bare LF in request line`.
    static var startLineName: String { get }
    /// The longest start line, not counting its CRLF.
    static func startLineLimit(_ limits: HTTP1Limits) -> Int
    /// The error for a start line over `startLineLimit`.
    static func startLineTooLong(_ limits: HTTP1Limits) -> HTTP1ParseError
    /// Whether empty lines where a start line is due are skipped (RFC 9112 §2.2: a server
    /// SHOULD ignore at least one before a request line) rather than parsed as one.
    static var skipsEmptyLinesBeforeStartLine: Bool { get }
    /// The error the parser fails with when `error` breaks a rule: a request's as it is (its
    /// status is the answer), a response's as a 502.
    static func failure(_ error: HTTP1ParseError) -> HTTP1ParseError

    /// The start line, CRLF removed: the start of a new message's head.
    mutating func parseStartLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError)
    /// A valid header field, after `HTTP1FramingFields` has noted it.
    mutating func noteField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError)
    /// The header section is complete: the event that reports the head, and what follows it.
    mutating func finishHead(headers: HTTP1Fields, framing: HTTP1FramingFields) throws(HTTP1ParseError) -> HTTP1HeadDecision<Event>
    /// The message's `.end` was reported.
    mutating func messageEnded()
}

/// What a complete head leads to.
enum HTTP1HeadDecision<Event> {
    /// An interim response (1xx, RFC 9110 §15.2): reported with `event`; it has no body, and
    /// another head follows.
    case interim(Event)
    /// A message whose head `event` reports, with that body. `keepAlive`: the connection may
    /// carry another message after it; `stopAfter`: `feed` returns after its `.end` (an
    /// upgrade), whatever the caller asked.
    case message(Event, body: HTTP1BodyFraming, keepAlive: Bool, stopAfter: Bool)
}

/// The events every message has besides its head; `HTTP1Event` and `HTTP1ResponseEvent` have
/// them as cases.
protocol HTTP1MessageEvent {
    static func body(_ bytes: UnsafeRawBufferPointer) -> Self
    static func trailers(_ fields: HTTP1Fields) -> Self
    static var end: Self { get }
}

extension HTTP1Event: HTTP1MessageEvent {}

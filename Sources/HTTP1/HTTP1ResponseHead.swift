/// A response's status line and header section (RFC 9112 §4, §5), with what the parser concluded
/// from them: how the body is framed and whether the connection persists.
///
/// A value: the parser hands it over with `.head` (or `.informational`) and keeps nothing of it.
public struct HTTP1ResponseHead: Sendable, Equatable {
    public var version: HTTP1Version
    /// The status code, 100...599 (RFC 9110 §15).
    public var status: Int
    /// The reason phrase as sent (RFC 9112 §4: a client SHOULD ignore it), possibly empty;
    /// obs-text in it is decoded as UTF-8 with U+FFFD for what is not.
    public var reason: String
    /// Every header field in order, names as sent, framing and connection fields included.
    public var headers: HTTP1Fields
    /// How the body is delimited (RFC 9112 §6.3): `.none` for 1xx, 204, 304 and a response to
    /// HEAD whatever their fields say; `.untilClose` when no field frames it.
    public var body: HTTP1BodyFraming
    /// Whether the connection may carry another response after this one (RFC 9112 §9.3): for
    /// HTTP/1.1 unless `Connection` lists `close`; for HTTP/1.0 only if it lists `keep-alive`;
    /// never after a body that the close ends, nor after 101 Switching Protocols.
    public var keepAlive: Bool

    public init(version: HTTP1Version, status: Int, reason: String, headers: HTTP1Fields, body: HTTP1BodyFraming, keepAlive: Bool) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }
}

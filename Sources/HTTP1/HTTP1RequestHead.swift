/// A request's line and header section (RFC 9112 §3, §5), with what the parser concluded from
/// them: how the body is framed, whether the connection persists, and what the client asked for.
///
/// A value: the parser hands it over with `.head` and keeps nothing of it.
public struct HTTP1RequestHead: Sendable, Equatable {
    /// The method token, case as sent (methods are case-sensitive, RFC 9110 §9.1).
    public var method: String
    /// The request-target as sent (RFC 9112 §3.2): visible ASCII only, not decoded.
    public var target: String
    public var version: HTTP1Version
    /// Every header field in order, names as sent. Framing and connection fields
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`, ...) are still here; `body`,
    /// `keepAlive`, `expectContinue` and `upgrade` are what they mean.
    public var headers: HTTP1Fields
    /// How the body is delimited (RFC 9112 §6.3).
    public var body: HTTP1BodyFraming
    /// Whether the connection may carry another request after this one (RFC 9112 §9.3): for
    /// HTTP/1.1 unless `Connection` lists `close`; for HTTP/1.0 only if it lists `keep-alive`
    /// and not `close`. When false the parser takes no further request on this connection.
    public var keepAlive: Bool
    /// An HTTP/1.1 request carried `Expect: 100-continue` (RFC 9110 §10.1.1); the server should
    /// answer `100 Continue` (or a final status) before the client sends the body. Always false
    /// for HTTP/1.0, which must ignore it.
    public var expectContinue: Bool
    /// The protocol the client offered to switch to (RFC 9110 §7.8), as sent, e.g. `h2c` or
    /// `websocket`: the first one listed in `Upgrade` of an HTTP/1.1 request whose `Connection`
    /// lists `upgrade`; `h2c` only counts with exactly one `HTTP2-Settings` field (RFC 7540
    /// §3.2). Only reported: accepting it is the caller's decision.
    public var upgrade: String?

    public init(
        method: String,
        target: String,
        version: HTTP1Version,
        headers: HTTP1Fields,
        body: HTTP1BodyFraming,
        keepAlive: Bool,
        expectContinue: Bool = false,
        upgrade: String? = nil
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue
        self.upgrade = upgrade
    }
}

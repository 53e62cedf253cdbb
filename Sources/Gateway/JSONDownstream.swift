/// The client side under a `JSONCall`: an HTTP/1.1 connection (`ServerConnection` in HTTP/1.1
/// mode) or one HTTP/2 stream (`ProxyCall` handing its stream over). The call writes its response
/// through it and tells it how many request bytes it has taken (flow control: HTTP/1.1 stops
/// reading the socket above a high watermark of untaken bytes, HTTP/2 opens the window only for
/// taken bytes). Loop-thread only.
protocol JSONDownstream: AnyObject {
    /// The response status and headers; `contentLength` nil means the body is streamed (chunked
    /// on HTTP/1.1), ended by `jsonResponseEnd`.
    func jsonResponseHead(status: Int, headers: [(String, String)], contentLength: Int?)
    /// Body bytes, copied before returning.
    func jsonResponseBody(_ bytes: UnsafeRawBufferPointer)
    /// The response is complete; `trailers` are sent only where the client accepts them.
    func jsonResponseEnd(trailers: [(String, String)])
    /// The call has taken `count` more request body bytes.
    func jsonRequestTaken(_ count: Int)
    /// Response bytes written but not yet on the socket: above a high watermark the call stops
    /// opening the upstream window until `JSONCall.downstreamWritable()`.
    var jsonResponseBacklog: Int { get }
}

/// A JSON request's head, as either frontend received it.
struct JSONRequestHead {
    /// The HTTP method, as sent.
    var method: String
    /// The request target: path and query, not decoded.
    var target: String
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    var authority: String?
    /// Header fields other than pseudo-headers, names in any case.
    var fields: [(name: String, value: String)]
    /// The client's IP address, appended to X-Forwarded-For.
    var peer: String?
    /// The client sent `TE: trailers`: a streamed response may end with trailer fields.
    var acceptsTrailers: Bool
}

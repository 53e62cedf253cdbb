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

import HTTP1
import HTTP2

/// A request's header fields as a frontend received them, read without copying.
enum JSONRequestFields {
    /// HTTP/1.1: names in any case.
    case http1(HTTP1Fields)
    /// HTTP/2: names lower case, pseudo-headers included (skipped by readers).
    case http2(HTTP2Headers)

    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        switch self {
        case .http1(let fields): fields.forEachField(body)
        case .http2(let headers): headers.forEach(body)
        }
    }
}

/// A JSON request's head, as either frontend received it.
struct JSONRequestHead {
    /// The HTTP method, as sent.
    var method: String
    /// The request target: path and query, not decoded.
    var target: String
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    var authority: String?
    /// Header fields (pseudo-headers are skipped by the reader).
    var fields: JSONRequestFields
    /// The client's IP address, appended to X-Forwarded-For.
    var peer: String?
    /// The client sent `TE: trailers`: a streamed response may end with trailer fields.
    var acceptsTrailers: Bool
}

import Channel
import HTTP1
import HTTP2

/// A request's header fields as a frontend received them, read without copying.
enum JSONRequestFields {
    /// HTTP/1.1: names in any case.
    case http1(HTTP1Fields)
    /// HTTP/2: the fields the stream collected (lower case, hop-by-hop fields and the client's
    /// grpc-timeout already taken out by the core), pseudo-headers included (skipped by readers).
    case http2(Metadata)

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
    /// What the core already read from an HTTP/2 head (its deadline, a malformed grpc-timeout).
    var http2Head: CallHead?
    /// The client came over TLS: `:scheme https` upstream.
    var secure = false
    /// `x-forwarded-client-cert` to send upstream (a TLS listener that forwards the verified
    /// client certificate); nil: none.
    var clientCertificate: String? = nil
}

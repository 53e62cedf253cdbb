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

extension JSONRequestHead {
    /// The upstream head of a call whose frontend builds the gRPC request itself (JSON,
    /// gRPC-Web, gRPC over HTTP/1.1): `block` already holds the gateway's own pseudo-headers and
    /// gRPC fields; the client's fields follow through the core's request table (`profile`),
    /// without those its `Connection` names, then `x-forwarded-for` and the verified client
    /// certificate. The deadline is the HTTP/2 stream's when it read one (its own filter took
    /// `grpc-timeout` out of the block).
    func withClientFields(into block: Metadata, profile: MetadataFilter.Profile) -> CallHead {
        var builder = CallHeadBuilder(into: block, profile: profile)
        if case .http1(let fields) = fields {
            for value in fields.values("Connection") {
                var v = value
                v.withUTF8 { builder.dropFieldsNamed(byConnectionValue: UnsafeRawBufferPointer($0)) }
            }
        }
        fields.forEach { name, value in builder.add(name: name, value: value) }
        var built = builder.finish(peer: peer)
        if let clientCertificate { built.metadata.append("x-forwarded-client-cert", clientCertificate) }
        if let h2 = http2Head {
            built.timeoutNanoseconds = h2.timeoutNanoseconds ?? built.timeoutNanoseconds
            built.problem = h2.problem ?? built.problem
        }
        return built
    }
}

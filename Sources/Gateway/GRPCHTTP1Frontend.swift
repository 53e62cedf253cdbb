import Channel
import RouteConfig

/// gRPC over HTTP/1.1 (README, "gRPC over HTTP/1.1"): an `application/grpc` request on an
/// HTTP/1.1 connection, its body gRPC frames (Content-Length or chunked), as Envoy's
/// grpc_http1_bridge takes them but for every call type the client can stream. Request bytes go
/// to the call's queue as they arrive, untouched (a chunked body streams upstream message by
/// message; the client's reading resumes as the upstream takes them).
///
/// Response, by what the client accepts: with `TE: trailers` the head goes out at once, each DATA
/// chunk as it arrives (chunked), and the status and trailing metadata as chunked trailers;
/// without it the response is buffered (at most `bufferedResponseLimit`) and sent once the status
/// is known, with `grpc-status`, `grpc-message` and the trailing metadata among the response
/// headers and a Content-Length. A call that ends before a response head (trailers-only, the
/// gateway's own refusals) has its status in the headers either way.
///
/// Deadlines, metadata rules (profile `.web`: the gateway writes `content-type` and `te`),
/// status decisions and cardinality are the call's. Owned by its call. Loop-thread only.
final class GRPCHTTP1Frontend: RelaysRequestFrames {
    private unowned(unsafe) var call: Call!
    private let pool: MetadataPool
    /// The client sent `TE: trailers`: the response streams and ends with chunked trailers.
    private var streaming = false
    private var headSent = false
    /// Buffered mode: the upstream's response head, and its messages.
    private var headFields: Metadata?
    private var buffered: [UInt8] = []
    /// The most a buffered response (no `TE: trailers`) may hold: beyond it, RESOURCE_EXHAUSTED.
    static let bufferedResponseLimit = 4 << 20

    init(pool: MetadataPool) {
        self.pool = pool
    }

    deinit {
        if let headFields { pool.give(headFields) }
    }

    var profile: MetadataFilter.Profile { .web }
    var callProtocol: CallProtocol { .grpcHTTP1 }

    func start(_ call: Call, _ head: JSONRequestHead) {
        self.call = call
        streaming = call.client.acceptsTrailers
        guard head.method == "POST" else {
            call.fail(.invalidArgument, "a gRPC request must be a POST", httpStatus: 405, fields: [("allow", "POST")])
            return
        }
        var target = head.target
        guard let parts = target.withUTF8({ GRPCPath.split(UnsafeRawBufferPointer($0)) }) else {
            call.fail(.unimplemented, "malformed path \(head.target): expected /package.Service/Method")
            return
        }
        let routeIndex = target.withUTF8 {
            call.snapshot.router.route(service: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[parts.service]))
        }
        guard let routeIndex else {
            let service = String(decoding: target.utf8.dropFirst(parts.service.lowerBound).prefix(parts.service.count), as: UTF8.self)
            call.fail(.unimplemented, "unknown service \(service)")
            return
        }
        let built = GRPCWebFrontend.upstreamHead(head, parts: parts, cluster: call.snapshot.routes[routeIndex].cluster, pool: pool)
        call.start(route: routeIndex, head: built, cardinality: .unknown, openNow: true)
    }

    // MARK: request: relayed untouched (RelaysRequestFrames)

    // MARK: response

    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool) {
        guard streaming else {
            headFields = fields  // sent with the status
            return
        }
        let h = pool.take()
        h.append("content-type", "application/grpc")
        appendForwarded(fields, to: h, details: false)
        pool.give(fields)
        headSent = true
        call.client.sendHead(status: 200, fields: h, contentLength: nil, endStream: false)
        pool.give(h)
    }

    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        guard streaming else {
            call.consumeResponse(bytes.count)
            guard buffered.count + bytes.count <= Self.bufferedResponseLimit else {
                call.fail(.resourceExhausted,
                          "response larger than \(Self.bufferedResponseLimit) bytes for a client without TE: trailers (it would be buffered whole)")
                return
            }
            buffered.append(contentsOf: bytes)
            return
        }
        call.client.sendBody(bytes)
        call.responseTaken(bytes.count)
    }


    func finish(_ call: Call, _ ending: CallStateMachine.Ending, fields: Metadata?) {
        defer { if let fields { pool.give(fields) } }
        let client = call.client
        if headSent {
            let t = pool.take()
            appendStatus(ending, to: t)
            if let fields { appendForwarded(fields, to: t, details: true) }
            client.sendEnd(trailers: t)  // the stream owns it now
            return
        }
        let h = pool.take()
        h.append("content-type", "application/grpc")
        if let headFields { appendForwarded(headFields, to: h, details: false) }
        appendStatus(ending, to: h)
        if let fields { appendForwarded(fields, to: h, details: true) }
        for (name, value) in call.refusalFields { h.append(name, value) }
        let status = call.refusalHTTPStatus ?? 200
        headSent = true
        if buffered.isEmpty {
            client.sendHead(status: status, fields: h, contentLength: 0, endStream: true)
        } else {
            client.sendHead(status: status, fields: h, contentLength: buffered.count, endStream: false)
            buffered.withUnsafeBytes { client.sendBody($0) }
            buffered = []
            client.sendEnd(trailers: nil)
        }
        pool.give(h)
    }

    private func appendStatus(_ ending: CallStateMachine.Ending, to h: Metadata) {
        h.append("grpc-status", ending.code.decimalText)
        if !ending.message.isEmpty { h.append("grpc-message", GRPCStatusMessage.encode(ending.message)) }
    }

    /// The fields of an upstream block the client may see (the core's table, profile `.web`).
    private func appendForwarded(_ fields: Metadata, to h: Metadata, details: Bool) {
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            switch MetadataFilter.response(name, profile: .web) {
            case .forward: h.append(name: name, value: value)
            case .statusDetails: if details { h.append(name: name, value: value) }
            case .drop, .pseudo, .status, .statusMessage: break
            }
        }
    }
}

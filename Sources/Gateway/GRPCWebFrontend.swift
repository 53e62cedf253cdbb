import Channel
import RouteConfig
import Transcoding

/// gRPC-Web (the gRPC project's PROTOCOL-WEB.md), binary (`application/grpc-web`, `+proto`) and
/// text (`application/grpc-web-text`, `+proto`: the body is base64), on HTTP/1.1 and HTTP/2, with
/// the CORS answers browsers need (README, "gRPC-Web and CORS").
///
/// Request: the body's messages are gRPC frames: binary bytes go to the call's queue as they
/// arrive (the client's window opens for what the upstream took, as for native gRPC); text is
/// decoded as it arrives (`Base64StreamDecoder`: cut anywhere, several padded runs) and the
/// decoded frames queued. The upstream head is the gateway's (`content-type: application/grpc`,
/// `te: trailers`) plus the client's fields through the core's table, profile `.web`.
/// Response: the head at once, each DATA chunk as it arrives (text: base64, a padded run ending
/// at every message end, so a reader never waits for the next message to decode this one), and
/// the status and trailers as a last body frame with flag 0x80; a call that ends before any
/// response head is a trailers-only response: the status in the headers.
///
/// CORS: a preflight `OPTIONS` is answered here without an upstream; every response (the
/// gateway's own errors too) carries the CORS fields when the request's `Origin` is allowed by
/// the route's policy (or the top-level one); an origin not allowed gets none, and its preflight
/// is refused (403).
///
/// Deadlines (`grpc-timeout`), metadata rules, status decisions and cardinality are the call's;
/// this type translates. Owned by its call. Loop-thread only.
final class GRPCWebFrontend: Frontend {
    private unowned(unsafe) var call: Call!
    private let pool: MetadataPool
    let format: CallHead.ContentType
    private var text: Bool { format == .grpcWebText }

    /// The request's `Origin` and the policy that allows it (none: no CORS fields go out).
    private var cors = CORSFields()
    private var isPreflight = false
    /// What a preflight answer allows (`Access-Control-Allow-Methods`).
    private var preflightMethods = "POST, OPTIONS"
    private var headSent = false

    // Request (text): decoded bytes of one read, and window withheld while the queue is full.
    private var decoder = Base64StreamDecoder()
    private var decoded: [UInt8] = []
    private var deferredAck = 0
    private static let requestHighWater = 256 * 1024

    // Response.
    private var encoder = Base64StreamEncoder()
    private var encoded: [UInt8] = []

    init(pool: MetadataPool, format: CallHead.ContentType) {
        self.pool = pool
        self.format = format
    }

    var profile: MetadataFilter.Profile { .web }
    var callProtocol: CallProtocol { format == .grpcWebText ? .grpcWebText : .grpcWeb }

    /// Whether a request is a CORS preflight (RFC: Fetch §3.2.2): `OPTIONS` with
    /// `Access-Control-Request-Method`.
    static func isPreflight(_ head: JSONRequestHead) -> Bool {
        head.method == "OPTIONS" && field(head.fields, "access-control-request-method") != nil
    }

    /// The first field named `lowerName` (any case on the wire).
    static func field(_ fields: JSONRequestFields, _ lowerName: StaticString) -> String? {
        var found: String?
        fields.forEach { name, value in
            if found == nil, name.first != UInt8(ascii: ":"), ASCII.equalsIgnoringCase(name, lowerName) {
                found = String(decoding: value, as: UTF8.self)
            }
        }
        return found
    }

    /// Attaches the call without starting it (a call refused before its head could be read).
    func bind(_ call: Call) {
        self.call = call
    }

    // MARK: request head

    /// Routes the call by the service in its path, builds the upstream head and starts the call;
    /// or answers a preflight; or says why it cannot be served.
    func start(_ call: Call, _ head: JSONRequestHead) {
        self.call = call
        cors = CORSFields(fields: head.fields, snapshot: call.snapshot)
        var target = head.target
        let parts = target.withUTF8 { GRPCPath.split(UnsafeRawBufferPointer($0)) }
        var routeIndex = parts.flatMap { p in
            target.withUTF8 { call.snapshot.router.route(service: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[p.service])) }
        }
        if Self.isPreflight(head) {
            isPreflight = true
            // A JSON path (a google.api.http binding) is routed by the method it binds.
            if routeIndex == nil, let method = Self.field(head.fields, "access-control-request-method"),
               let table = call.snapshot.httpRoutes
            {
                let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
                if case .matched(let m) = table.match(method: method, path: path[...]) {
                    routeIndex = call.snapshot.router.route(service: m.method.serviceName)
                    preflightMethods = "\(method), OPTIONS"
                }
            }
            cors.choose(snapshot: call.snapshot, route: routeIndex)
            if cors.allowed {
                call.fail(.ok, "CORS preflight answered", httpStatus: 200)
            } else {
                call.fail(.permissionDenied, "CORS preflight refused: origin \(cors.origin ?? "(none)") is not allowed for \(head.target)",
                          httpStatus: 403)
            }
            return
        }
        cors.choose(snapshot: call.snapshot, route: routeIndex)
        guard head.method == "POST" else {
            call.fail(.invalidArgument, "a gRPC-Web request must be a POST", httpStatus: 405, fields: [("allow", "POST")])
            return
        }
        guard let parts else {
            call.fail(.unimplemented, "malformed path \(head.target): expected /package.Service/Method")
            return
        }
        guard let routeIndex else {
            let service = String(decoding: target.utf8.dropFirst(parts.service.lowerBound).prefix(parts.service.count), as: UTF8.self)
            call.fail(.unimplemented, "unknown service \(service)")
            return
        }
        guard format != .grpcWebOtherCodec else {
            let type = Self.field(head.fields, "content-type") ?? ""
            call.fail(.unimplemented,
                      "content-type \(type) is not served: the gateway speaks gRPC-Web with protobuf messages (application/grpc-web+proto, application/grpc-web-text+proto)")
            return
        }
        let built = Self.upstreamHead(head, parts: parts, cluster: call.snapshot.routes[routeIndex].cluster, pool: pool)
        call.start(route: routeIndex, head: built, cardinality: .unknown, openNow: true)
    }

    /// The upstream head of a call whose client frames gRPC messages but not its HTTP the gRPC way
    /// (gRPC-Web; gRPC over HTTP/1.1): the gateway's pseudo-headers, `content-type:
    /// application/grpc` and `te: trailers`, then the client's fields through the core's table
    /// (profile `.web`), `x-forwarded-for` last.
    static func upstreamHead(_ head: JSONRequestHead, parts: (service: Range<Int>, method: Range<Int>), cluster: String,
                             pool: MetadataPool) -> CallHead {
        let h = pool.take()
        h.append(":method", "POST")
        let scheme: StaticString = head.secure ? "https" : "http"  // as the client came (nghttpx)
        h.append(":scheme", scheme)
        h.append(":path", head.target)
        h.append(":authority", head.authority ?? cluster)
        h.append("content-type", "application/grpc")
        h.append("te", "trailers")
        var built = head.withClientFields(into: h, profile: .web)
        built.isPost = true
        built.pathField = 2
        built.serviceRange = parts.service
        built.methodRange = parts.method
        return built
    }

    // MARK: request body

    func requestBody(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        guard text else {
            call.sendRequest(bytes)  // gRPC frames already: the window opens as the upstream takes them
            return
        }
        decoded.removeAll(keepingCapacity: true)
        if let error = decoder.decode(bytes, into: &decoded) {
            call.client.requestTaken(bytes.count)
            call.fail(.invalidArgument, "gRPC-Web text request body is not base64: bad character at offset \(error.offset)")
            return
        }
        if !decoded.isEmpty { decoded.withUnsafeBytes { call.sendRequest($0) } }
        // Decoded bytes are not the client's bytes: hold the window back only while the queue is full.
        if call.requestBacklog < Self.requestHighWater {
            call.client.requestTaken(bytes.count)
        } else {
            deferredAck += bytes.count
        }
    }

    func requestEnd(_ call: Call) {
        if text {
            decoded.removeAll(keepingCapacity: true)
            if let error = decoder.finish(into: &decoded) {
                call.fail(.invalidArgument, "gRPC-Web text request body ends inside a base64 group (at offset \(error.offset))")
                return
            }
            if !decoded.isEmpty { decoded.withUnsafeBytes { call.sendRequest($0) } }
        }
        call.endRequest()
    }

    func requestSent(_ call: Call, _ count: Int) {
        guard text else {
            call.client.requestTaken(count)
            return
        }
        if deferredAck > 0 && call.requestBacklog < Self.requestHighWater / 2 { releaseDeferred() }
    }

    private func releaseDeferred() {
        guard deferredAck > 0 else { return }
        let n = deferredAck
        deferredAck = 0
        call.client.requestTaken(n)
    }

    // MARK: response

    private var contentType: StaticString { text ? "application/grpc-web-text+proto" : "application/grpc-web+proto" }

    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool) {
        let h = pool.take()
        // `:status` first: the HTTP/2 stream then submits this block as it is (no second copy);
        // HTTP/1.1 skips pseudo-headers.
        h.append(":status", "200")
        h.append("content-type", contentType)
        appendCORS(h)
        appendForwarded(fields, to: h)
        pool.give(fields)
        headSent = true
        call.client.sendHead(status: 200, fields: h, contentLength: nil, endStream: false)
        pool.give(h)
    }

    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        if text {
            encoded.removeAll(keepingCapacity: true)
            encoder.encode(bytes, into: &encoded)
            // A message is complete: end the base64 run so that it can be decoded now.
            if !call.responseInsideMessage { encoder.flush(into: &encoded) }
            if !encoded.isEmpty { encoded.withUnsafeBytes { call.client.sendBody($0) } }
        } else {
            call.client.sendBody(bytes)
        }
        call.responseTaken(bytes.count)
    }


    // MARK: ending the response

    func finish(_ call: Call, _ ending: CallStateMachine.Ending, fields: Metadata?) {
        releaseDeferred()
        defer { if let fields { pool.give(fields) } }
        let client = call.client
        if isPreflight {
            answerPreflight(ending)
            return
        }
        if headSent {
            // The status and trailing metadata as the last body frame (flag 0x80).
            var t = GRPCWebTrailers()
            t.add("grpc-status", ending.code.decimalText)
            if !ending.message.isEmpty { t.add("grpc-message", GRPCStatusMessage.encode(ending.message)) }
            if let fields {
                for i in 0 ..< fields.count {
                    let (name, value) = fields.field(i)
                    switch MetadataFilter.response(name, profile: .web) {
                    case .forward, .statusDetails: t.add(name: name, value: value)
                    case .drop, .pseudo, .status, .statusMessage: break
                    }
                }
            }
            let frame = t.finish()
            if text {
                encoded.removeAll(keepingCapacity: true)
                encoder.flush(into: &encoded)  // a message cut short by the ending
                frame.withUnsafeBytes { encoder.encode($0, into: &encoded) }
                encoder.flush(into: &encoded)
                encoded.withUnsafeBytes { client.sendBody($0) }
            } else {
                frame.withUnsafeBytes { client.sendBody($0) }
            }
            client.sendEnd(trailers: nil)
            return
        }
        // Trailers-only: the status in the headers, no body.
        let h = pool.take()
        h.append("content-type", contentType)
        appendCORS(h)
        h.append("grpc-status", ending.code.decimalText)
        if !ending.message.isEmpty { h.append("grpc-message", GRPCStatusMessage.encode(ending.message)) }
        if let fields { appendForwarded(fields, to: h, details: true) }
        for (name, value) in call.refusalFields { h.append(name, value) }
        headSent = true
        client.sendHead(status: call.refusalHTTPStatus ?? 200, fields: h, contentLength: 0, endStream: true)
        pool.give(h)
    }

    /// The fields of an upstream block the client may see (the core's table, profile `.web`);
    /// `details`: `grpc-status-details-bin` too (a trailers-only response).
    private func appendForwarded(_ fields: Metadata, to h: Metadata, details: Bool = false) {
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            switch MetadataFilter.response(name, profile: .web) {
            case .forward: h.append(name: name, value: value)
            case .statusDetails: if details { h.append(name: name, value: value) }
            case .drop, .pseudo, .status, .statusMessage: break
            }
        }
    }

    private func appendCORS(_ h: Metadata) {
        cors.append(to: h)
    }

    /// 200 (empty, as Envoy answers) with what the browser asked about, or 403 with no CORS field at all.
    private func answerPreflight(_ ending: CallStateMachine.Ending) {
        let client = call.client
        let h = pool.take()
        if cors.allowed, ending.code == .ok {
            cors.appendPreflight(to: h, methods: preflightMethods)
            client.sendHead(status: 200, fields: h, contentLength: 0, endStream: true)
        } else {
            let body = Array((ending.message + "\n").utf8)
            h.append("content-type", "text/plain")
            client.sendHead(status: call.refusalHTTPStatus ?? 403, fields: h, contentLength: body.count, endStream: false)
            body.withUnsafeBytes { client.sendBody($0) }
            client.sendEnd(trailers: nil)
        }
        pool.give(h)
    }
}

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
/// `application/grpc-web+json` (and `-text+json`): the messages are JSON, transcoded to and from
/// the upstream's protobuf with the method's descriptors (`GRPCWebJSONCodec`); the framing,
/// trailers and text encoding around them are as above.
///
/// CORS: every response (the gateway's own errors too) carries the CORS fields when the
/// request's `Origin` is allowed by the route's policy (or the top-level one); an origin not
/// allowed gets none. (Preflights never reach a frontend: `CORSPreflight`.)
///
/// Deadlines (`grpc-timeout`), metadata rules, status decisions and cardinality are the call's;
/// this type translates. Owned by its call. Loop-thread only.
final class GRPCWebFrontend: Frontend {
    private unowned(unsafe) var call: Call!
    private let pool: MetadataPool
    let format: CallHead.ContentType
    /// The body is base64 (`application/grpc-web-text…`).
    private var text: Bool
    /// The messages are JSON (`…+json`): translated here.
    private var jsonCodec: GRPCWebJSONCodec?
    /// The messages are JSON and the upstream speaks gRPC's JSON codec (the route's
    /// `upstream_json_codec`): passed through as they are.
    private var jsonPassThrough = false

    /// The request's `Origin` and the policy that allows it (none: no CORS fields go out).
    private var cors = CORSFields()
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
        text = format == .grpcWebText
    }

    /// gRPC framing end to end: `.web`; JSON messages (translated): `.translated`, so that the
    /// client's and the upstream's `grpc-encoding` and the like, which describe the other side's
    /// messages, stay where they belong.
    var profile: MetadataFilter.Profile { jsonCodec == nil ? .web : .translated }
    /// gRPC-Web JSON counts as gRPC-Web (binary or text, by its body).
    var callProtocol: CallProtocol { text ? .grpcWebText : .grpcWeb }

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
    /// or says why it cannot be served.
    func start(_ call: Call, _ head: JSONRequestHead) {
        self.call = call
        cors = CORSFields(fields: head.fields, snapshot: call.snapshot)
        var target = head.target
        let parts = target.withUTF8 { GRPCPath.split(UnsafeRawBufferPointer($0)) }
        let routeIndex = parts.flatMap { p in
            target.withUTF8 { call.snapshot.router.route(service: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[p.service])) }
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
        if format == .grpcWebOtherCodec {
            startJSON(call, head, parts: parts, routeIndex: routeIndex)
            return
        }
        let built = Self.upstreamHead(head, parts: parts, cluster: call.snapshot.routes[routeIndex].cluster, pool: pool)
        call.start(route: routeIndex, head: built, cardinality: .unknown, openNow: true)
    }

    /// `application/grpc-web+json` or `application/grpc-web-text+json`: transcoded with the
    /// method's descriptors; any other codec is UNIMPLEMENTED, naming it.
    private func startJSON(_ call: Call, _ head: JSONRequestHead, parts: (service: Range<Int>, method: Range<Int>), routeIndex: Int) {
        let type = Self.field(head.fields, "content-type") ?? ""
        var codec = type.lowercased()[...]
        if let semicolon = codec.firstIndex(of: ";") { codec = codec[..<semicolon] }
        codec = codec.drop(while: { $0 != "+" })
        while codec.last == " " || codec.last == "\t" { codec = codec.dropLast() }
        guard codec == "+json" else {
            call.fail(.unimplemented,
                      "content-type \(type) is not served: the gateway speaks gRPC-Web with protobuf or JSON messages (application/grpc-web+proto, application/grpc-web+json, and their -text forms)")
            return
        }
        text = type.lowercased().hasPrefix("application/grpc-web-text")
        let route = call.snapshot.routes[routeIndex]
        if route.upstreamJSONCodec {
            jsonPassThrough = true
            let built = Self.upstreamHead(head, parts: parts, cluster: route.cluster, pool: pool, contentType: "application/grpc+json")
            call.start(route: routeIndex, head: built, cardinality: .unknown, openNow: true)
            return
        }
        let path = head.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.target
        guard let method = call.snapshot.registry.method(path: path) else {
            call.fail(.unimplemented,
                      "no descriptor for \(path): gRPC-Web JSON calls need the service's FileDescriptorSet under \"descriptors\" in the routes file")
            return
        }
        jsonCodec = GRPCWebJSONCodec(inputType: method.inputType, outputType: method.outputType, transcoder: call.snapshot.transcoders[routeIndex],
                                     requestEncoding: Self.field(head.fields, "grpc-encoding"),
                                     maxRequestMessage: route.maxRequestBodyBytes)
        let built = Self.upstreamHead(head, parts: parts, cluster: route.cluster, pool: pool, translated: true)
        call.start(route: routeIndex, head: built, cardinality: method.serverStreaming ? .many : .one, openNow: true)
    }

    /// The upstream head of a call whose client frames gRPC messages but not its HTTP the gRPC way
    /// (gRPC-Web; gRPC over HTTP/1.1): the gateway's pseudo-headers, `content-type:
    /// application/grpc` and `te: trailers`, then the client's fields through the core's table
    /// (profile `.web`), `x-forwarded-for` last. `translated`: the gateway makes the messages
    /// (gRPC-Web JSON): it says which encodings it decodes (`grpc-accept-encoding: gzip`) and
    /// the client's `grpc-*` fields (its own encodings) stay out (profile `.translated`).
    static func upstreamHead(_ head: JSONRequestHead, parts: (service: Range<Int>, method: Range<Int>), cluster: String,
                             pool: MetadataPool, translated: Bool = false,
                             contentType: StaticString = "application/grpc") -> CallHead {
        let h = pool.take()
        h.append(":method", "POST")
        let scheme: StaticString = head.secure ? "https" : "http"  // as the client came (nghttpx)
        h.append(":scheme", scheme)
        h.append(":path", head.target)
        h.append(":authority", head.authority ?? cluster)
        h.append("content-type", contentType)
        h.append("te", "trailers")
        if translated { h.append("grpc-accept-encoding", "gzip") }
        var built = head.withClientFields(into: h, profile: translated ? .translated : .web)
        built.isPost = true
        built.pathField = 2
        built.serviceRange = parts.service
        built.methodRange = parts.method
        return built
    }

    // MARK: request body

    func requestBody(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        guard text || jsonCodec != nil else {
            call.sendRequest(bytes)  // gRPC frames already: the window opens as the upstream takes them
            return
        }
        if text {
            decoded.removeAll(keepingCapacity: true)
            if let error = decoder.decode(bytes, into: &decoded) {
                call.client.requestTaken(bytes.count)
                call.fail(.invalidArgument, "gRPC-Web text request body is not base64: bad character at offset \(error.offset)")
                return
            }
            if !decoded.isEmpty { decoded.withUnsafeBytes { sendFrames(call, $0) } }
        } else {
            sendFrames(call, bytes)
        }
        guard !call.isFinished else {
            call.client.requestTaken(bytes.count)
            return
        }
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
            if !decoded.isEmpty { decoded.withUnsafeBytes { sendFrames(call, $0) } }
        }
        if let jsonCodec {
            do throws(GRPCWebJSONCodec.Failure) {
                try jsonCodec.requestEnd()
            } catch {
                call.fail(error.code, error.message)
            }
        }
        guard !call.isFinished else { return }
        call.endRequest()
    }

    /// Request frames (decoded from text, when it is) to the upstream: as they are, or, for
    /// JSON messages, each translated.
    private func sendFrames(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        guard let jsonCodec else {
            call.sendRequest(bytes)
            return
        }
        do throws(GRPCWebJSONCodec.Failure) {
            try jsonCodec.request(bytes) { call.sendRequest($0) }
        } catch {
            call.fail(error.code, error.message)
        }
    }

    func requestSent(_ call: Call, _ count: Int) {
        guard text || jsonCodec != nil else {
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

    private var contentType: StaticString {
        if jsonCodec != nil || jsonPassThrough { return text ? "application/grpc-web-text+json" : "application/grpc-web+json" }
        return text ? "application/grpc-web-text+proto" : "application/grpc-web+proto"
    }

    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool) {
        let h = pool.take()
        // `:status` first: the HTTP/2 stream then submits this block as it is (no second copy);
        // HTTP/1.1 skips pseudo-headers.
        h.append(":status", "200")
        h.append("content-type", contentType)
        if let jsonCodec {
            // What the gateway decodes from this client (README, "Compression").
            h.append("grpc-accept-encoding", "gzip")
            if let encoding = Self.value(of: "grpc-encoding", in: fields) { jsonCodec.responseEncoding = encoding }
        }
        appendCORS(h)
        appendForwarded(fields, to: h)
        pool.give(fields)
        headSent = true
        call.client.sendHead(status: 200, fields: h, contentLength: nil, endStream: false)
        pool.give(h)
    }

    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        if let jsonCodec {
            do throws(GRPCWebJSONCodec.Failure) {
                try jsonCodec.response(bytes) { frame in
                    if text {
                        // Whole messages only: each is one padded run.
                        encoded.removeAll(keepingCapacity: true)
                        encoder.encode(frame, into: &encoded)
                        encoder.flush(into: &encoded)
                        encoded.withUnsafeBytes { call.client.sendBody($0) }
                    } else {
                        call.client.sendBody(frame)
                    }
                }
            } catch {
                call.fail(error.code, error.message)
            }
        } else if text {
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
        if headSent {
            // The status and trailing metadata as the last body frame (flag 0x80).
            var t = GRPCWebTrailers()
            t.add("grpc-status", ending.code.decimalText)
            if !ending.message.isEmpty { t.add("grpc-message", GRPCStatusMessage.encode(ending.message)) }
            if let fields {
                for i in 0 ..< fields.count {
                    let (name, value) = fields.field(i)
                    switch MetadataFilter.response(name, profile: profile) {
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
        let profile = self.profile
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            switch MetadataFilter.response(name, profile: profile) {
            case .forward: h.append(name: name, value: value)
            case .statusDetails: if details { h.append(name: name, value: value) }
            case .drop, .pseudo, .status, .statusMessage: break
            }
        }
    }

    /// The value of the field `name` in an upstream block, if it has one.
    private static func value(of name: StaticString, in fields: Metadata) -> String? {
        for i in 0 ..< fields.count {
            let (n, v) = fields.field(i)
            if n.equals(name) { return String(decoding: v, as: UTF8.self) }
        }
        return nil
    }

    private func appendCORS(_ h: Metadata) {
        cors.append(to: h)
    }
}

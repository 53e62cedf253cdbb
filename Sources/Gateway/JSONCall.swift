import Channel
import HTTP2
import RouteConfig
import Transcoding
import Upstream

/// One JSON call (DESIGN.md "JSON over HTTP"): a JSON request on HTTP/1.1 or HTTP/2, matched to a
/// gRPC method by its `google.api.http` binding or `POST /pkg.Service/Method`, translated into
/// gRPC messages to the upstream, and the upstream's messages, status and metadata translated
/// back into JSON.
///
/// Request: for a method that is not client-streaming the body (bounded by the route's
/// `max_request_body`) is one JSON value, merged with the path variables and query parameters
/// into one message, sent when the body is complete. For a client-streaming method the body is a
/// sequence of JSON values, each sent upstream as soon as it is complete, while the response
/// flows back (full duplex).
/// Response: unary → one JSON body with Content-Length once the status is known; server
/// streaming → `application/x-ndjson`, one `{"result": …}` line per message as it arrives, a
/// final `{"error": …}` line on failure, and grpc-status trailers where the client accepts them.
/// A failure before anything was sent answers the google.rpc.Status body with the HTTP status of
/// DESIGN.md's table.
///
/// Owned by its downstream (HTTP/1.1 connection or HTTP/2 call) and by the upstream connection
/// while the upstream stream is open. Loop-thread only.
final class JSONCall: GatewayCall {
    unowned(unsafe) let worker: Worker
    /// nil once the client is gone (the downstream clears it in `downstreamGone`).
    private(set) unowned(unsafe) var downstream: (any JSONDownstream)?

    private var method: MethodDescriptor?
    private var routeIndex = -1
    private var transcoder: JSONTranscoder?
    /// nil: the request has no body; []: the body is the whole message; else the field it fills.
    private var bodyField: [FieldDescriptor]? = []
    private var responseBodyField: FieldDescriptor?
    /// Path variables and query parameters, as protobuf fields appended after the body's.
    private var bindings = ProtoWriter()
    private var maxBody = RouteEntry.defaultMaxRequestBodyBytes
    private var acceptsTrailers = false
    private var requestHeaders: HTTP2Headers?

    // Request: client -> upstream.
    private var body: [UInt8] = []
    private var splitter = JSONValueSplitter()
    private var requestQueue = ByteQueue()
    private var requestEnded = false
    /// Client streaming: every value of the body is in `requestQueue`.
    private var streamedBodyComplete = false
    /// Client streaming: body bytes received while the upstream queue was full, not yet taken.
    private var deferredAck = 0
    private var upstreamStarted = false
    /// Above this many framed request bytes waiting for the upstream, no more JSON is taken.
    private static let requestHighWater = 256 * 1024

    // Response: upstream -> client.
    private var decoder = GRPCFrameDecoder(maxMessageSize: 64 << 20)
    private var responseMetadata: [(String, String)] = []
    private var trailerMetadata: [(String, String)] = []
    private var status: GRPCStatusCode?
    private var statusMessage = ""
    private var detailsBin: [UInt8]?
    private var httpStatusWithoutGRPC: Int?
    private var unaryResponse: [UInt8]?
    private var streamHeadSent = false
    private var responded = false
    /// Upstream response bytes processed while the client was slow: given back when it drains.
    private var withheldResponseBytes = 0
    private static let responseHighWater = 256 * 1024
    private var json: [UInt8] = []

    var isResponded: Bool { responded }
    var hasStreamingResponse: Bool { method?.serverStreaming ?? false }

    /// `countsStart`: false when the call takes over a stream already counted (HTTP/2).
    init(worker: Worker, downstream: any JSONDownstream, countsStart: Bool = true) {
        self.worker = worker
        self.downstream = downstream
        super.init()
        if countsStart {
            let counters = worker.counters
            counters.add(counters.callsStarted)
            counters.add(counters.callsActive, 1)
        }
    }

    deinit {
        if let requestHeaders { worker.headerPool.give(requestHeaders) }
    }

    // MARK: request head

    /// Matches the request to a method and prepares the upstream request. Answers at once (and
    /// `isResponded` is true) when there is nothing to call.
    func start(_ head: JSONRequestHead) {
        guard let routes = worker.httpRoutes else {
            respondError(.notFound, "no JSON routes: the routes file names no descriptors", httpStatus: 404)
            return
        }
        // absolute-form (`http://host/path`, RFC 9112 §3.2.2): the path is what follows the authority.
        var target = head.target[...]
        if target.hasPrefix("http://") || target.hasPrefix("https://") {
            let rest = target[target.index(target.firstIndex(of: ":")!, offsetBy: 3)...]
            target = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        let path: Substring
        let query: Substring
        if let q = target.firstIndex(of: "?") {
            path = target[..<q]
            query = target[target.index(after: q)...]
        } else {
            path = target
            query = ""
        }
        let match: HTTPBindingMatch
        switch routes.match(method: head.method, path: path) {
        case .matched(let m):
            match = m
        case .methodNotAllowed(let allowed):
            respondError(.unimplemented, "method \(head.method) is not allowed for \(path); allowed: \(allowed.joined(separator: ", "))",
                         httpStatus: 405, extraHeaders: [("allow", allowed.joined(separator: ", "))])
            return
        case .notFound:
            respondNotFound(method: head.method, path: path)
            return
        case .invalidPath(let error):
            respondError(.invalidArgument, error.message)
            return
        }
        let method = match.method
        guard let routeIndex = worker.router.route(service: method.serviceName) else {
            respondError(.notFound, "unknown service \(method.serviceName)", httpStatus: 404)
            return
        }
        self.method = method
        self.routeIndex = routeIndex
        let route = worker.routes[routeIndex]
        transcoder = worker.transcoders[routeIndex]
        bodyField = match.bodyField
        responseBodyField = match.responseBodyField
        maxBody = route.maxRequestBodyBytes
        acceptsTrailers = head.acceptsTrailers
        do throws(TranscodeError) {
            for v in match.variables {
                try appendBinding(text: v.value, path: v.path)
            }
            for q in try routes.queryParameters(query, for: match) {
                try appendBinding(text: q.value, path: q.path)
            }
        } catch {
            respondError(.invalidArgument, error.message)
            return
        }
        if method.clientStreaming && bodyField?.isEmpty != true {
            respondError(.internalError, "\(method.path) is client-streaming: its binding must use body \"*\"")
            return
        }
        buildRequestHeaders(head, method: method)
        if responded { return }
        armDeadline(now: worker.loop.now, routeTimeoutMs: route.timeoutMs, in: worker.deadlines)
        if method.clientStreaming {
            // Full duplex: the upstream stream opens now; values follow as they are parsed.
            startUpstream()
        }
    }

    private func appendBinding(text: String, path: [FieldDescriptor]) throws(TranscodeError) {
        var text = text
        let transcoder = self.transcoder!
        var thrown: TranscodeError?
        text.withUTF8 { utf8 in
            do throws(TranscodeError) {
                try transcoder.appendFieldValue(text: UnsafeRawBufferPointer(utf8), path: path, into: &bindings)
            } catch {
                thrown = error
            }
        }
        if let thrown { throw thrown }
    }

    /// No binding matched: say whether the service is unknown or only its descriptor is missing.
    private func respondNotFound(method: String, path: Substring) {
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, path.hasPrefix("/"), parts[0].contains(".") {
            let service = String(parts[0])
            if worker.router.route(service: service) != nil && worker.registry.services[service] == nil {
                respondError(.unimplemented,
                             "no descriptor for service \(service): JSON calls need its FileDescriptorSet under \"descriptors\" in the routes file",
                             httpStatus: 501)
                return
            }
            if worker.registry.services[service] == nil {
                respondError(.notFound, "unknown service \(service)", httpStatus: 404)
                return
            }
            respondError(.notFound, "unknown method \(parts[1]) of service \(service)", httpStatus: 404)
            return
        }
        respondError(.notFound, "no route for \(method) \(path)", httpStatus: 404)
    }

    /// Request headers → gRPC metadata (DESIGN.md "Metadata"): lower-cased; hop-by-hop and
    /// framing fields, and what `Connection` names, dropped; `Grpc-Metadata-` stripped;
    /// reserved `grpc-` names dropped except `grpc-timeout`, which sets the deadline. Works on
    /// the received bytes: one lower-cased copy of each name, no String per field.
    private func buildRequestHeaders(_ head: JSONRequestHead, method: MethodDescriptor) {
        let h = worker.headerPool.take()
        requestHeaders = h
        h.append(":method", "POST")
        h.append(":scheme", "http")
        h.append(":path", method.path)
        // gRPC servers require :authority; an HTTP/1.0 request may come without Host: name the
        // cluster then.
        h.append(":authority", head.authority ?? worker.routes[routeIndex].cluster)
        h.append("content-type", "application/grpc")
        h.append("te", "trailers")
        // Names a Connection header lists (rare: collected only when there is one).
        var named: [[UInt8]] = []
        head.fields.forEach { name, value in
            guard ASCII.equalsIgnoringCase(name, Self.connectionName) else { return }
            for token in value.split(separator: UInt8(ascii: ",")) {
                named.append(token.trimmedBytes().map(ASCII.lowercased))
            }
        }
        var forwardedFor: [UInt8] = []
        var problem: String?
        var lower: [UInt8] = []
        swap(&lower, &worker.nameScratch)
        head.fields.forEach { rawName, value in
            if rawName.first == UInt8(ascii: ":") { return }
            lower.removeAll(keepingCapacity: true)
            var name = rawName
            if ASCII.hasPrefixIgnoringCase(name, Self.metadataPrefix) {
                name = UnsafeRawBufferPointer(rebasing: name[Self.metadataPrefix.count...])
            }
            for b in name { lower.append(ASCII.lowercased(b)) }
            lower.withUnsafeBytes { n in
                if n.isEmpty || MetadataRules.isHopByHop(n) { return }
                if !named.isEmpty && named.contains(where: { $0.elementsEqual(n) }) { return }
                if n.equals("content-type") || n.equals("accept-encoding") || n.equals("expect") { return }
                if n.equals("grpc-timeout") {
                    if let ns = GRPCTimeout.parse(value) { clientTimeoutNs = ns } else {
                        problem = "malformed grpc-timeout \"\(String(decoding: value, as: UTF8.self))\""
                    }
                    return
                }
                if n.equals("x-forwarded-for") {
                    if !forwardedFor.isEmpty { forwardedFor.append(contentsOf: ", ".utf8) }
                    forwardedFor.append(contentsOf: value)
                    return
                }
                if n.hasPrefix("grpc-") { return }
                h.append(name: n, value: value)
            }
        }
        worker.nameScratch = lower
        if let problem {
            respondError(.invalidArgument, problem)
            return
        }
        if let peer = head.peer {
            if !forwardedFor.isEmpty { forwardedFor.append(contentsOf: ", ".utf8) }
            forwardedFor.append(contentsOf: peer.utf8)
        }
        if !forwardedFor.isEmpty {
            forwardedFor.withUnsafeBytes { h.append("x-forwarded-for", value: $0) }
        }
    }

    private static let connectionName = Array("connection".utf8)
    private static let metadataPrefix = Array("grpc-metadata-".utf8)

    private func startUpstream() {
        guard !upstreamStarted, !responded else { return }
        upstreamStarted = true
        worker.pools[worker.routes[routeIndex].clusterIndex].start(self)
    }

    // MARK: request body

    /// Request body bytes (a view, valid during the call).
    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        guard !responded, let method else {
            downstream?.jsonRequestTaken(bytes.count)
            return
        }
        if method.clientStreaming {
            // The partial value held here is bounded by max_request_body, so it counts as taken;
            // only a full upstream queue holds the client back.
            body.append(contentsOf: bytes)
            if requestQueue.count < Self.requestHighWater {
                downstream?.jsonRequestTaken(bytes.count)
            } else {
                deferredAck += bytes.count
            }
            takeStreamedValues()
            return
        }
        guard body.count + bytes.count <= maxBody else {
            downstream?.jsonRequestTaken(bytes.count)
            respondError(.resourceExhausted, "request body larger than max_request_body (\(maxBody) bytes)", httpStatus: 413)
            return
        }
        body.append(contentsOf: bytes)
        downstream?.jsonRequestTaken(bytes.count)
    }

    /// The request body is complete.
    func requestEnd() {
        guard !requestEnded else { return }
        requestEnded = true
        guard !responded, let method else { return }
        if method.clientStreaming {
            takeStreamedValues()
            return
        }
        encodeUnaryRequest(method)
    }

    private func encodeUnaryRequest(_ method: MethodDescriptor) {
        guard let transcoder else { return }
        var message = Self.framedWriter(capacity: body.count + bindings.bytes.count + 16)
        do throws(TranscodeError) {
            let isBlank = body.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            if let bodyField, !isBlank {
                try body.withTypedThrows { (raw) throws(TranscodeError) in
                    if let field = bodyField.last {
                        try transcoder.encodeField(json: raw, field: field, into: &message)
                    } else {
                        try transcoder.encode(json: raw, as: method.inputType, into: &message)
                    }
                }
            }
        } catch {
            respondError(.invalidArgument, error.message)
            return
        }
        body = []
        message.bytes.append(contentsOf: bindings.bytes)
        enqueueFramed(&message)
        startUpstream()
    }

    /// Takes every complete JSON value at the front of `body`, encodes it and queues it, until the
    /// upstream queue is above its high watermark.
    private func takeStreamedValues() {
        guard let transcoder, let method, !streamedBodyComplete, !responded else { return }
        var taken = 0
        var drained = false
        while requestQueue.count < Self.requestHighWater {
            let next: Range<Int>?
            do throws(TranscodeError) {
                next = try splitter.nextValue(in: body, from: taken)
            } catch {
                respondError(.invalidArgument, error.message)
                return
            }
            guard let range = next else {
                drained = true
                break
            }
            var message = Self.framedWriter(capacity: range.count)
            do throws(TranscodeError) {
                try body.withTypedThrows { (raw) throws(TranscodeError) in
                    try transcoder.encode(json: UnsafeRawBufferPointer(rebasing: raw[range]), as: method.inputType, into: &message)
                }
            } catch {
                respondError(.invalidArgument, error.offsetBy(splitter.consumedTotal + range.lowerBound).message)
                return
            }
            taken = range.upperBound
            enqueueFramed(&message)
        }
        if taken > 0 {
            body.removeSubrange(0..<taken)
            splitter.consumed(taken)
            resumeRequest()
        }
        if drained && requestEnded {
            // The body is over: a last top-level scalar completes now; inside a value is an error.
            do throws(TranscodeError) {
                if let r = try splitter.finish() {
                    let range = (r.lowerBound - splitter.consumedTotal)..<(r.upperBound - splitter.consumedTotal)
                    var message = Self.framedWriter(capacity: r.count)
                    try body.withTypedThrows { (raw) throws(TranscodeError) in
                        try transcoder.encode(json: UnsafeRawBufferPointer(rebasing: raw[range]), as: method.inputType, into: &message)
                    }
                    enqueueFramed(&message)
                }
            } catch {
                respondError(.invalidArgument, error.message)
                return
            }
            body = []
            streamedBodyComplete = true
            resumeRequest()
            return
        }
        // Only when no complete value is left: what remains is one value still arriving.
        if drained && body.count > maxBody {
            respondError(.resourceExhausted, "a request message larger than max_request_body (\(maxBody) bytes)", httpStatus: 413)
        }
    }

    /// A writer whose first five bytes are room for the gRPC message prefix, so that a message is
    /// encoded and framed in one buffer and queued with one copy.
    private static func framedWriter(capacity: Int) -> ProtoWriter {
        var w = ProtoWriter(capacity: capacity + GRPCFrame.headerSize)
        w.bytes.append(contentsOf: [0, 0, 0, 0, 0] as [UInt8])
        return w
    }

    /// Fills in the prefix of a `framedWriter` message (uncompressed, its length) and queues it.
    private func enqueueFramed(_ w: inout ProtoWriter) {
        let length = UInt32(w.bytes.count - GRPCFrame.headerSize)
        w.bytes[1] = UInt8(truncatingIfNeeded: length >> 24)
        w.bytes[2] = UInt8(truncatingIfNeeded: length >> 16)
        w.bytes[3] = UInt8(truncatingIfNeeded: length >> 8)
        w.bytes[4] = UInt8(truncatingIfNeeded: length)
        w.bytes.withUnsafeBytes { requestQueue.append($0) }
    }

    /// The response is over: the rest of the request is not needed. Request bytes held back by
    /// flow control are given back (the client's upload must not stall on a finished call), and an
    /// upstream stream still expecting request data is reset.
    private func requestNoLongerNeeded() {
        if deferredAck > 0 {
            let n = deferredAck
            deferredAck = 0
            downstream?.jsonRequestTaken(n)
        }
        body = []
        if !requestComplete || !requestQueue.isEmpty {
            requestQueue.removeAll()
            cancelUpstream()
        }
    }

    /// The downstream lets go of the call (its request and response are both complete).
    func detach() {
        downstream = nil
    }

    /// The client went away (connection closed, stream reset): cancel the upstream side.
    func downstreamGone() {
        if !responded {
            responded = true
            worker.counters.finished(status: GRPCStatusCode.cancelled.rawValue)
        }
        downstream = nil
        worker.deadlines.remove(self)
        requestQueue.removeAll()
        cancelUpstream()
    }

    /// The client's side drained: give the upstream the window withheld meanwhile.
    func downstreamWritable() {
        guard withheldResponseBytes > 0, (downstream?.jsonResponseBacklog ?? 0) < Self.responseHighWater else { return }
        let n = withheldResponseBytes
        withheldResponseBytes = 0
        consumeResponse(n)
    }

    // MARK: upstream side

    override func upstreamRequestHeaders() -> HTTP2Headers {
        let h = requestHeaders ?? worker.headerPool.take()
        requestHeaders = h
        appendRemainingTimeout(to: h, now: worker.loop.now)
        return h
    }

    override func upstreamRequestHasBody() -> Bool { !(requestComplete && requestQueue.isEmpty) }

    /// Every request message is queued: the unary message, or all values of a streamed body.
    private var requestComplete: Bool {
        requestEnded && (method?.clientStreaming != true || streamedBodyComplete)
    }

    override func upstreamDataReady(maxLength: Int) -> HTTP2DataReady {
        let queued = requestQueue.count
        if queued > 0 {
            let n = min(queued, maxLength)
            return .bytes(n, end: n == queued && requestComplete ? .endStream : .none)
        }
        return requestComplete ? .bytes(0, end: .endStream) : .deferred
    }

    override func upstreamWriteData(into: UnsafeMutableRawBufferPointer) {
        requestQueue.read(into: into)
        guard method?.clientStreaming == true, requestQueue.count < Self.requestHighWater / 2 else { return }
        if deferredAck > 0 {
            let n = deferredAck
            deferredAck = 0
            downstream?.jsonRequestTaken(n)
        }
        takeStreamedValues()
    }

    override func upstreamHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if name.first == UInt8(ascii: ":") {
            if name.equals(":status"), String(decoding: value, as: UTF8.self) != "200" {
                httpStatusWithoutGRPC = Int(String(decoding: value, as: UTF8.self)) ?? 500
            }
            return
        }
        if name.equals("grpc-status") {
            status = GRPCStatusCode(decimalText: value) ?? .unknown
            return
        }
        if name.equals("grpc-message") {
            statusMessage = GRPCStatusMessage.decode(String(decoding: value, as: UTF8.self))
            return
        }
        if name.equals("grpc-status-details-bin") {
            detailsBin = Array(value)
            return
        }
        if name.equals("content-type") || name.hasPrefix("grpc-") || MetadataRules.isHopByHop(name) { return }
        let field = (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        if responseHeadersReceived {
            trailerMetadata.append(field)
        } else {
            responseMetadata.append(field)
        }
    }

    override func upstreamHeadersComplete(kind: HTTP2HeadersKind, endStream: Bool) {
        if kind == .response, !endStream, let code = httpStatusWithoutGRPC {
            endCall(GRPCStatusCode.fromHTTPStatus(code), "upstream answered HTTP \(code)")
            cancelUpstream()
            return
        }
        guard endStream else { return }
        if let status {
            endCall(status, statusMessage)
        } else if let code = httpStatusWithoutGRPC {
            endCall(GRPCStatusCode.fromHTTPStatus(code), "upstream answered HTTP \(code)")
        } else {
            endCall(.internalError, "upstream ended the response without grpc-status")
        }
    }

    override func upstreamData(_ bytes: UnsafeRawBufferPointer) {
        guard !responded else {
            consumeResponse(bytes.count)
            return
        }
        do throws(GRPCFrameDecoder.DecodeError) {
            try decoder.feed(bytes) { message in self.responseMessage(message) }
        } catch {
            switch error {
            case .messageTooLarge(let n):
                endCall(.resourceExhausted, "upstream response message of \(n) bytes is larger than the gateway's limit")
            case .invalidFlag(let f):
                endCall(.internalError, "upstream sent a malformed gRPC message prefix (flag \(f))")
            }
            cancelUpstream()
        }
        if (downstream?.jsonResponseBacklog ?? 0) < Self.responseHighWater {
            consumeResponse(bytes.count)
        } else {
            withheldResponseBytes += bytes.count
        }
    }

    private func responseMessage(_ message: GRPCFrameDecoder.Message) {
        guard !responded, let method, let transcoder else { return }
        if message.compressed {
            endCall(.internalError, "upstream sent a compressed message; the gateway does not offer grpc-encoding")
            cancelUpstream()
            return
        }
        json.removeAll(keepingCapacity: true)
        if method.serverStreaming { json.append(contentsOf: #"{"result":"#.utf8) }
        do throws(TranscodeError) {
            try message.payload.withTypedThrows { (raw) throws(TranscodeError) in
                if let field = responseBodyField {
                    try transcoder.decodeField(proto: raw, as: method.outputType, field: field, into: &json)
                } else {
                    try transcoder.decode(proto: raw, as: method.outputType, into: &json)
                }
            }
        } catch {
            endCall(.internalError, "cannot translate the upstream's \(method.outputType.fullName) to JSON: \(error.message)")
            cancelUpstream()
            return
        }
        guard method.serverStreaming else {
            unaryResponse = json
            return
        }
        json.append(contentsOf: "}\n".utf8)
        sendStreamHeadIfNeeded()
        json.withUnsafeBytes { downstream?.jsonResponseBody($0) }
    }

    private func sendStreamHeadIfNeeded() {
        guard !streamHeadSent else { return }
        streamHeadSent = true
        downstream?.jsonResponseHead(status: 200, headers: [("content-type", "application/x-ndjson")] + responseMetadata,
                                     contentLength: nil)
    }

    // MARK: ending the response

    /// Ends the response with the call's final status.
    override var isEnded: Bool { responded }

    override func endCall(_ code: GRPCStatusCode, _ message: String) {
        guard !responded, let downstream else { return }
        if code == .ok && method?.serverStreaming == true {
            // A stream with no messages is still a (chunked, empty) NDJSON stream with trailers.
            sendStreamHeadIfNeeded()
        }
        if streamHeadSent {
            responded = true
            worker.deadlines.remove(self)
            worker.counters.finished(status: code.rawValue)
            if code != .ok {
                json.removeAll(keepingCapacity: true)
                json.append(contentsOf: #"{"error":"#.utf8)
                writeStatus(code, message, into: &json)
                json.append(contentsOf: "}\n".utf8)
                json.withUnsafeBytes { downstream.jsonResponseBody($0) }
            }
            var trailers: [(String, String)] = []
            if acceptsTrailers {
                trailers = [("grpc-status", code.decimalText), ("grpc-message", GRPCStatusMessage.encode(message))] + trailerMetadata
            }
            downstream.jsonResponseEnd(trailers: trailers)
            requestNoLongerNeeded()
            return
        }
        guard code == .ok else {
            respondError(code, message, extraHeaders: responseMetadata + trailerMetadata)
            return
        }
        responded = true
        worker.deadlines.remove(self)
        worker.counters.finished(status: code.rawValue)
        let body = unaryResponse ?? Array("{}".utf8)
        downstream.jsonResponseHead(status: 200, headers: [("content-type", "application/json")] + responseMetadata + trailerMetadata,
                                    contentLength: body.count)
        body.withUnsafeBytes { downstream.jsonResponseBody($0) }
        downstream.jsonResponseEnd(trailers: [])
        requestNoLongerNeeded()
    }

    private func writeStatus(_ code: GRPCStatusCode, _ message: String, into out: inout [UInt8]) {
        if let detailsBin {
            detailsBin.withUnsafeBytes {
                StatusJSON.write(code: Int(code.rawValue), message: message, detailsBin: $0,
                                 transcoder: transcoder, registry: worker.registry, into: &out)
            }
        } else {
            StatusJSON.write(code: Int(code.rawValue), message: message, detailsBin: nil,
                             transcoder: transcoder, registry: worker.registry, into: &out)
        }
    }

    /// Answers the google.rpc.Status JSON body with the table's HTTP status (or `httpStatus`).
    private func respondError(_ code: GRPCStatusCode, _ message: String, httpStatus: Int? = nil,
                              extraHeaders: [(String, String)] = []) {
        guard !responded else { return }
        if streamHeadSent {
            // NDJSON lines are already out: end with the `{"error": …}` line (and trailers).
            endCall(code, message)
            cancelUpstream()
            return
        }
        responded = true
        worker.deadlines.remove(self)
        worker.counters.finished(status: code.rawValue)
        cancelUpstream()
        requestQueue.removeAll()
        guard let downstream else { return }
        var out: [UInt8] = []
        writeStatus(code, message, into: &out)
        out.append(UInt8(ascii: "\n"))
        downstream.jsonResponseHead(status: httpStatus ?? code.httpStatus,
                                    headers: [("content-type", "application/json")] + extraHeaders,
                                    contentLength: out.count)
        out.withUnsafeBytes { downstream.jsonResponseBody($0) }
        downstream.jsonResponseEnd(trailers: [])
        requestNoLongerNeeded()
    }
}

extension TranscodeError {
    /// The same error with its byte offset moved by `delta` (a value's offset within the body).
    func offsetBy(_ delta: Int) -> TranscodeError {
        guard let offset, delta != 0 else { return self }
        let old = "at byte \(offset)"
        var text = message
        if let r = text.range(of: old) {
            text.replaceSubrange(r, with: "at byte \(offset + delta)")
        }
        return TranscodeError(message: text, offset: offset + delta, fieldPath: fieldPath)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body that throws `TranscodeError` (the standard one rethrows untyped).
    func withTypedThrows<R>(_ body: (UnsafeRawBufferPointer) throws(TranscodeError) -> R) throws(TranscodeError) -> R {
        let result = withUnsafeBytes { raw -> Result<R, TranscodeError> in
            do throws(TranscodeError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension UnsafeRawBufferPointer.SubSequence {
    /// Without leading and trailing spaces and tabs.
    func trimmedBytes() -> Slice<UnsafeRawBufferPointer> {
        var s = self
        while let c = s.first, c == 0x20 || c == 0x09 { s = s.dropFirst() }
        while let c = s.last, c == 0x20 || c == 0x09 { s = s.dropLast() }
        return s
    }
}

import Channel
import Compression
import RouteConfig
import Transcoding

/// JSON over HTTP (README, "JSON over HTTP"), the translated frontend: a JSON request on
/// HTTP/1.1 or HTTP/2, matched to a gRPC method by its `google.api.http` binding or
/// `POST /pkg.Service/Method`, translated into gRPC messages, and the upstream's messages, status
/// and metadata translated back into JSON.
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
/// the README's table.
///
/// Deadlines, metadata rules, cardinality and the final status are the call's (`Call`); this
/// type translates. Owned by its call. Loop-thread only.
final class JSONFrontend: Frontend {
    /// Set by `start` (the call owns this frontend).
    private unowned(unsafe) var call: Call!
    private var worker: Worker { call.worker }
    private var snapshot: ConfigSnapshot { call.snapshot }

    private var method: MethodDescriptor?
    private var transcoder: JSONTranscoder?
    /// nil: the request has no body; []: the body is the whole message; else the field it fills.
    private var bodyField: [FieldDescriptor]? = []
    private var responseBodyField: FieldDescriptor?
    /// Path variables and query parameters, as protobuf fields appended after the body's.
    private var bindings = ProtoWriter()
    private var maxBody = RouteEntry.defaultMaxRequestBodyBytes

    // Request: client -> upstream.
    private var body: [UInt8] = []
    /// The body is gzip-compressed (`Content-Encoding: gzip`): decoded once it is complete.
    private var gzipBody = false
    private var splitter = JSONValueSplitter()
    private var requestEnded = false
    /// Client streaming: every value of the body is queued.
    private var streamedBodyComplete = false
    /// Client streaming: body bytes received while the upstream queue was full, not yet taken.
    private var deferredAck = 0
    /// Above this many framed request bytes waiting for the upstream, no more JSON is taken.
    private static let requestHighWater = 256 * 1024

    // Response: upstream -> client.
    private var decoder = GRPCFrameDecoder(maxMessageSize: 64 << 20)
    /// Response headers and trailers to pass on (the core's table has filtered them).
    private var headerFields: Metadata?
    private var trailerFields: Metadata?
    private var detailsBin: [UInt8]?
    private var unaryResponse: [UInt8]?
    private var streamHeadSent = false
    private var json: [UInt8] = []
    /// The upstream's `grpc-encoding` (its compressed messages are decoded: gzip), and a message
    /// decompressed.
    private var responseEncoding: String?
    private var inflated: [UInt8] = []

    private let pool: MetadataPool
    /// CORS fields for a browser's request (README, "gRPC-Web and CORS").
    private var cors = CORSFields()

    init(pool: MetadataPool) {
        self.pool = pool
    }

    deinit {
        if let headerFields { pool.give(headerFields) }
        if let trailerFields { pool.give(trailerFields) }
    }

    var profile: MetadataFilter.Profile { .translated }
    var callProtocol: CallProtocol { .json }

    // MARK: request head

    /// Matches the request to a method, builds the upstream head and starts the call, or answers
    /// at once (the call is then finished) when there is nothing to call.
    /// Attaches the call without starting it (a call refused before its head could be read).
    func bind(_ call: Call) {
        self.call = call
    }

    func start(_ call: Call, _ head: JSONRequestHead) {
        self.call = call
        cors = CORSFields(fields: head.fields, snapshot: call.snapshot)
        cors.choose(snapshot: call.snapshot, route: nil)
        guard let routes = snapshot.httpRoutes else {
            refuse(.notFound, "no JSON routes: the routes file names no descriptors", httpStatus: 404)
            return
        }
        // absolute-form (`http://host/path`, RFC 9112 §3.2.2): the path is what follows the authority.
        // Searched as UTF-8 bytes: Character-wise String search costs thousands of instructions.
        var target = head.target[...]
        if target.utf8.starts(with: "http://".utf8) || target.utf8.starts(with: "https://".utf8) {
            let rest = target[target.utf8.index(target.utf8.firstIndex(of: UInt8(ascii: ":"))!, offsetBy: 3)...]
            target = rest.utf8.firstIndex(of: UInt8(ascii: "/")).map { rest[$0...] } ?? "/"
        }
        let path: Substring
        let query: Substring
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = target[..<q]
            query = target[target.utf8.index(after: q)...]
        } else {
            path = target
            query = ""
        }
        let match: HTTPBindingMatch
        switch routes.match(method: head.method, path: path) {
        case .matched(let m):
            match = m
        case .methodNotAllowed(let allowed):
            refuse(.unimplemented, "method \(head.method) is not allowed for \(path); allowed: \(allowed.joined(separator: ", "))",
                   httpStatus: 405, fields: [("allow", allowed.joined(separator: ", "))])
            return
        case .notFound:
            refuseNotFound(method: head.method, path: path)
            return
        case .invalidPath(let error):
            refuse(.invalidArgument, error.message)
            return
        }
        let method = match.method
        guard let routeIndex = snapshot.router.route(service: method.serviceName) else {
            refuse(.notFound, "unknown service \(method.serviceName)", httpStatus: 404)
            return
        }
        self.method = method
        cors.choose(snapshot: snapshot, route: routeIndex)
        let route = snapshot.routes[routeIndex]
        transcoder = snapshot.transcoders[routeIndex]
        bodyField = match.bodyField
        responseBodyField = match.responseBodyField
        maxBody = route.maxRequestBodyBytes
        do throws(TranscodeError) {
            for v in match.variables {
                try appendBinding(text: v.value, path: v.path)
            }
            for q in try routes.queryParameters(query, for: match) {
                try appendBinding(text: q.value, path: q.path, mapKey: q.mapKey)
            }
        } catch {
            refuse(.invalidArgument, error.message)
            return
        }
        if method.clientStreaming && bodyField?.isEmpty != true {
            refuse(.internalError, "\(method.path) is client-streaming: its binding must use body \"*\"")
            return
        }
        if let coding = GRPCWebFrontend.field(head.fields, "content-encoding"), !coding.isEmpty,
           coding.lowercased() != "identity"
        {
            // README, "Compression": a unary body in gzip is decoded once complete; nothing else is.
            guard coding.lowercased() == "gzip", !method.clientStreaming else {
                let why = method.clientStreaming && coding.lowercased() == "gzip"
                    ? "a client-streaming JSON body cannot be gzip-compressed (Content-Encoding: gzip): send it uncompressed"
                    : "request body has Content-Encoding \(coding); the gateway decodes gzip only"
                refuse(.unimplemented, why, httpStatus: 415, fields: [("accept-encoding", "gzip")])
                return
            }
            gzipBody = true
        }
        let callHead = upstreamHead(head, method: method, cluster: route.cluster)
        // Full duplex for client streaming: the upstream stream opens now and values follow as
        // they are parsed; a unary body is sent once it is complete and translated.
        call.start(route: routeIndex, head: callHead,
                   cardinality: method.serverStreaming ? .many : .one, openNow: method.clientStreaming)
    }

    private func appendBinding(text: String, path: [FieldDescriptor], mapKey: String? = nil) throws(TranscodeError) {
        var text = text
        var key = mapKey ?? ""
        let transcoder = self.transcoder!
        var thrown: TranscodeError?
        text.withUTF8 { utf8 in
            key.withUTF8 { keyUTF8 in
                do throws(TranscodeError) {
                    try transcoder.appendFieldValue(text: UnsafeRawBufferPointer(utf8), path: path,
                                                    mapKey: mapKey == nil ? nil : UnsafeRawBufferPointer(keyUTF8), into: &bindings)
                } catch {
                    thrown = error
                }
            }
        }
        if let thrown { throw thrown }
    }

    /// No binding matched: say whether the service is unknown or only its descriptor is missing.
    private func refuseNotFound(method: String, path: Substring) {
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, path.hasPrefix("/"), parts[0].contains(".") {
            let service = String(parts[0])
            if snapshot.router.route(service: service) != nil && snapshot.registry.services[service] == nil {
                refuse(.unimplemented,
                       "no descriptor for service \(service): JSON calls need its FileDescriptorSet under \"descriptors\" in the routes file",
                       httpStatus: 501)
                return
            }
            if snapshot.registry.services[service] == nil {
                refuse(.notFound, "unknown service \(service)", httpStatus: 404)
                return
            }
            refuse(.notFound, "unknown method \(parts[1]) of service \(service)", httpStatus: 404)
            return
        }
        refuse(.notFound, "no route for \(method) \(path)", httpStatus: 404)
    }

    /// The upstream request head: the gateway's own pseudo-headers and gRPC fields first, then the
    /// client's fields through the core's request table (translated profile).
    private func upstreamHead(_ head: JSONRequestHead, method: MethodDescriptor, cluster: String) -> CallHead {
        let h = worker.headerPool.take()
        h.append(":method", "POST")
        let scheme: StaticString = head.secure ? "https" : "http"
        h.append(":scheme", scheme)
        h.append(":path", method.path)
        // gRPC servers require :authority; an HTTP/1.0 request may come without Host: name the
        // cluster then.
        h.append(":authority", head.authority ?? cluster)
        h.append("content-type", "application/grpc")
        h.append("te", "trailers")
        // What this frontend can decode (README, "Compression"); identity is implied.
        h.append("grpc-accept-encoding", "gzip")
        return head.withClientFields(into: h, profile: .translated)
    }

    // MARK: request body

    func requestBody(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        guard let method else {
            call.client.requestTaken(bytes.count)
            return
        }
        if method.clientStreaming {
            // The partial value held here is bounded by max_request_body, so it counts as taken;
            // only a full upstream queue holds the client back.
            body.append(contentsOf: bytes)
            if call.requestBacklog < Self.requestHighWater {
                call.client.requestTaken(bytes.count)
            } else {
                deferredAck += bytes.count
            }
            takeStreamedValues()
            return
        }
        call.client.requestTaken(bytes.count)
        guard body.count + bytes.count <= maxBody else {
            refuse(.resourceExhausted, "request body larger than max_request_body (\(maxBody) bytes)", httpStatus: 413)
            return
        }
        body.append(contentsOf: bytes)
    }

    func requestEnd(_ call: Call) {
        guard !requestEnded else { return }
        requestEnded = true
        guard let method else { return }
        if method.clientStreaming {
            takeStreamedValues()
            return
        }
        encodeUnaryRequest(method)
    }

    private func encodeUnaryRequest(_ method: MethodDescriptor) {
        guard let transcoder else { return }
        if gzipBody && !body.isEmpty {
            var inflated: [UInt8] = []
            if let why = body.withUnsafeBytes({ Gzip.decompress($0, limit: maxBody, into: &inflated) }) {
                refuse(why.contains("more than") ? .resourceExhausted : .invalidArgument,
                       "cannot decompress the gzip request body: \(why)", httpStatus: why.contains("more than") ? 413 : 400)
                return
            }
            body = inflated
        }
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
            refuse(.invalidArgument, error.message)
            return
        }
        body = []
        message.bytes.append(contentsOf: bindings.bytes)
        enqueueFramed(&message)
        call.endRequest()
        call.openUpstream()
    }

    /// Takes every complete JSON value at the front of `body`, encodes it and queues it, until the
    /// upstream queue is above its high watermark.
    private func takeStreamedValues() {
        guard let transcoder, let method, !streamedBodyComplete, !call.isFinished else { return }
        var taken = 0
        var drained = false
        while call.requestBacklog < Self.requestHighWater {
            let next: Range<Int>?
            do throws(TranscodeError) {
                next = try splitter.nextValue(in: body, from: taken)
            } catch {
                refuse(.invalidArgument, error.message)
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
                refuse(.invalidArgument, error.offsetBy(splitter.consumedTotal + range.lowerBound).message)
                return
            }
            taken = range.upperBound
            enqueueFramed(&message)
        }
        if taken > 0 {
            body.removeSubrange(0..<taken)
            splitter.consumed(taken)
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
                refuse(.invalidArgument, error.message)
                return
            }
            body = []
            streamedBodyComplete = true
            call.endRequest()
            return
        }
        // Only when no complete value is left: what remains is one value still arriving.
        if drained && body.count > maxBody {
            refuse(.resourceExhausted, "a request message larger than max_request_body (\(maxBody) bytes)", httpStatus: 413)
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
        w.bytes.withUnsafeBytes { call.sendRequest($0) }
    }

    func requestSent(_ call: Call, _ count: Int) {
        guard method?.clientStreaming == true, call.requestBacklog < Self.requestHighWater / 2 else { return }
        if deferredAck > 0 {
            let n = deferredAck
            deferredAck = 0
            call.client.requestTaken(n)
        }
        takeStreamedValues()
    }

    /// The response is over: request bytes held back by flow control are given back (the
    /// client's upload must not stall on a finished call).
    private func requestNoLongerNeeded() {
        if deferredAck > 0 {
            let n = deferredAck
            deferredAck = 0
            call.client.requestTaken(n)
        }
        body = []
    }

    // MARK: response

    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool) {
        take(fields, isTrailer: false)
    }

    /// Keeps the fields of an upstream block that the client may see, and the status details.
    private func take(_ fields: Metadata, isTrailer: Bool) {
        defer { pool.give(fields) }
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            switch MetadataFilter.response(name, profile: .translated) {
            case .forward:
                if isTrailer {
                    if trailerFields == nil { trailerFields = pool.take() }
                    trailerFields!.append(name: name, value: value)
                } else {
                    if headerFields == nil { headerFields = pool.take() }
                    headerFields!.append(name: name, value: value)
                }
            case .statusDetails:
                detailsBin = Array(value)
            case .drop:
                if name.equals("grpc-encoding") { responseEncoding = String(decoding: value, as: UTF8.self) }
            case .pseudo, .status, .statusMessage:
                break  // the core holds the status; the rest is not the client's
            }
        }
    }

    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        do throws(GRPCFrameDecoder.DecodeError) {
            try decoder.feed(bytes) { message in self.responseMessage(message) }
        } catch {
            switch error {
            case .messageTooLarge(let n):
                call.fail(.resourceExhausted, "upstream response message of \(n) bytes is larger than the gateway's limit")
            case .invalidFlag(let f):
                call.fail(.internalError, "upstream sent a malformed gRPC message prefix (flag \(f))")
            }
        }
        call.responseTaken(bytes.count)
    }


    private func responseMessage(_ message: GRPCFrameDecoder.Message) {
        guard !call.isFinished, let method, let transcoder else { return }
        if message.compressed {
            guard responseEncoding == "gzip" else {
                call.fail(.unimplemented, "upstream compressed its reply with grpc-encoding \(responseEncoding ?? "(none)"); the gateway decodes gzip only")
                return
            }
            inflated.removeAll(keepingCapacity: true)
            if let why = message.payload.withUnsafeBytes({ Gzip.decompress($0, limit: 64 << 20, into: &inflated) }) {
                call.fail(.internalError, "cannot decompress the upstream's gzip message: \(why)")
                return
            }
        }
        let payload = message.compressed ? inflated : message.payload
        json.removeAll(keepingCapacity: true)
        if method.serverStreaming { json.append(contentsOf: #"{"result":"#.utf8) }
        do throws(TranscodeError) {
            try payload.withTypedThrows { (raw) throws(TranscodeError) in
                if let field = responseBodyField {
                    try transcoder.decodeField(proto: raw, as: method.outputType, field: field, into: &json)
                } else {
                    try transcoder.decode(proto: raw, as: method.outputType, into: &json)
                }
            }
        } catch {
            call.fail(.internalError, "cannot translate the upstream's \(method.outputType.fullName) to JSON: \(error.message)")
            return
        }
        guard method.serverStreaming else {
            unaryResponse = json
            return
        }
        json.append(contentsOf: "}\n".utf8)
        sendStreamHeadIfNeeded()
        json.withUnsafeBytes { call.client.sendBody($0) }
    }

    private func sendStreamHeadIfNeeded() {
        guard !streamHeadSent else { return }
        streamHeadSent = true
        let h = worker.headerPool.take()
        h.append("content-type", "application/x-ndjson")
        cors.append(to: h)
        appendFields(headerFields, to: h)
        call.client.sendHead(status: 200, fields: h, contentLength: nil, endStream: false)
        worker.headerPool.give(h)
    }

    private func appendFields(_ from: Metadata?, to h: Metadata) {
        guard let from else { return }
        for i in 0 ..< from.count {
            let (name, value) = from.field(i)
            h.append(name: name, value: value)
        }
    }

    // MARK: ending the response

    /// Refuses the call with `code` before or instead of calling upstream; `httpStatus` when the
    /// answer is not the table's.
    private func refuse(_ code: GRPCStatusCode, _ message: String, httpStatus: Int? = nil,
                        fields: [(StaticString, String)] = []) {
        call.fail(code, message, httpStatus: httpStatus, fields: fields)
    }

    func finish(_ call: Call, _ ending: CallStateMachine.Ending, fields: Metadata?) {
        if let fields { take(fields, isTrailer: call.responseStarted) }
        let code = ending.code
        let client = call.client
        if code == .ok && method?.serverStreaming == true {
            // A stream with no messages is still a (chunked, empty) NDJSON stream with trailers.
            sendStreamHeadIfNeeded()
        }
        if streamHeadSent {
            if code != .ok {
                json.removeAll(keepingCapacity: true)
                json.append(contentsOf: #"{"error":"#.utf8)
                writeStatus(code, ending.message, into: &json)
                json.append(contentsOf: "}\n".utf8)
                json.withUnsafeBytes { client.sendBody($0) }
            }
            var trailers: Metadata?
            if client.acceptsTrailers {
                let t = worker.headerPool.take()
                t.append("grpc-status", code.decimalText)
                t.append("grpc-message", GRPCStatusMessage.encode(ending.message))
                appendFields(trailerFields, to: t)
                trailers = t
            }
            client.sendEnd(trailers: trailers)
            requestNoLongerNeeded()
            return
        }
        let h = worker.headerPool.take()
        h.append("content-type", "application/json")
        cors.append(to: h)
        var out: [UInt8]
        let status: Int
        if code == .ok {
            out = unaryResponse ?? Array("{}".utf8)
            status = 200
        } else {
            out = []
            writeStatus(code, ending.message, into: &out)
            out.append(UInt8(ascii: "\n"))
            status = call.refusalHTTPStatus ?? code.httpStatus
            for (name, value) in call.refusalFields { h.append(name, value) }
        }
        // A unary response's head waits for the status, so its trailers come back as headers too.
        appendFields(headerFields, to: h)
        appendFields(trailerFields, to: h)
        client.sendHead(status: status, fields: h, contentLength: out.count, endStream: false)
        worker.headerPool.give(h)
        out.withUnsafeBytes { client.sendBody($0) }
        client.sendEnd(trailers: nil)
        requestNoLongerNeeded()
    }

    private func writeStatus(_ code: GRPCStatusCode, _ message: String, into out: inout [UInt8]) {
        if let detailsBin {
            detailsBin.withUnsafeBytes {
                StatusJSON.write(code: Int(code.rawValue), message: message, detailsBin: $0,
                                 transcoder: transcoder, registry: snapshot.registry, into: &out)
            }
        } else {
            StatusJSON.write(code: Int(code.rawValue), message: message, detailsBin: nil,
                             transcoder: transcoder, registry: snapshot.registry, into: &out)
        }
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

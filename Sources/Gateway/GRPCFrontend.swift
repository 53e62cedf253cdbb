import Channel

/// Native gRPC (PROTOCOL-HTTP2.md): the client already speaks the channel's format, so this
/// frontend only relays. Request DATA bytes go to the call's queue as they arrive, never
/// reframed; response headers, DATA and trailers go back byte for byte (the core's table drops
/// hop-by-hop fields); a status the gateway decides is a trailers-only response, or trailers
/// after what was already relayed. Flow control is 1:1: the client's window opens for the bytes
/// the upstream took, the upstream's for the bytes the client stream wrote out.
final class GRPCFrontend: Frontend {
    unowned(unsafe) let call: Call
    private var responseHeaders: Metadata?
    private var trailers: Metadata?
    private var headSent = false
    /// The HTTP status of a refusal made before any routing (a request that is not a POST: 405).
    var refusalHTTPStatus = "200"

    init(call: Call) {
        self.call = call
    }

    deinit {
        let pool = call.worker.headerPool
        if let responseHeaders { pool.give(responseHeaders) }
        if let trailers { pool.give(trailers) }
    }

    var profile: MetadataFilter.Profile { .native }

    /// Routes the call by its service name and starts it, or answers why it cannot be served.
    func start(_ head: CallHead) {
        guard head.isPost else {
            refusalHTTPStatus = "405"
            call.fail(.invalidArgument, "a gRPC request must be a POST")
            return
        }
        guard let service = head.serviceBytes else {
            call.fail(.unimplemented, "malformed :path: expected /package.Service/Method")
            return
        }
        guard let route = call.snapshot.router.route(service: service) else {
            call.fail(.unimplemented, "unknown service \(head.service ?? "")")
            return
        }
        call.start(route: route, head: head, cardinality: .unknown, openNow: true)
    }

    // MARK: request

    func requestBody(_ bytes: UnsafeRawBufferPointer) {
        call.sendRequest(bytes)
    }

    func requestEnd() {
        call.endRequest()
    }

    func requestSent(_ count: Int) {
        call.client.requestTaken(count)
    }

    // MARK: response

    func responseField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                       kind: MetadataFilter.ResponseField, isTrailer: Bool) {
        guard kind != .drop else { return }
        let pool = call.worker.headerPool
        if isTrailer {
            if trailers == nil { trailers = pool.take() }
            trailers!.append(name: name, value: value)
        } else {
            if responseHeaders == nil { responseHeaders = pool.take() }
            responseHeaders!.append(name: name, value: value)
        }
    }

    func responseHead() {
        headSent = true
        call.client.sendHead(status: 200, fields: responseHeaders ?? call.worker.headerPool.take(),
                             contentLength: nil, endStream: false)
    }

    func responseData(_ bytes: UnsafeRawBufferPointer) {
        call.client.sendBody(bytes)
    }

    func responseWritten(_ count: Int) {
        call.consumeResponse(count)
    }

    func finish(_ ending: CallStateMachine.Ending) {
        let client = call.client
        if ending.source == .upstream {
            // Relayed exactly: a trailers-only response stays one HEADERS frame.
            if headSent {
                client.sendEnd(trailers: trailers)
                trailers = nil  // the stream owns it now
            } else if let responseHeaders {
                client.sendHead(status: 200, fields: responseHeaders, contentLength: nil, endStream: true)
            }
            return
        }
        let h = call.worker.headerPool.take()
        if !headSent {
            h.append(":status", refusalHTTPStatus)
            h.append("content-type", "application/grpc")
        }
        h.append("grpc-status", ending.code.decimalText)
        h.append("grpc-message", GRPCStatusMessage.encode(ending.message))
        if headSent {
            client.sendEnd(trailers: h)  // the stream owns it now
        } else {
            client.sendHead(status: 200, fields: h, contentLength: nil, endStream: true)
            call.worker.headerPool.give(h)
        }
    }
}

import Channel

/// Native gRPC (PROTOCOL-HTTP2.md): the client already speaks the channel's format, so this
/// frontend only relays. Request DATA bytes go to the call's queue as they arrive, never
/// reframed; the upstream's response head, DATA and trailers go back byte for byte (a header
/// block is relayed as the upstream sent it, unless the core's table drops one of its fields); a
/// status the gateway decides is a trailers-only response, or trailers after what was already
/// relayed. Flow control is 1:1: the client's window opens for the bytes the upstream took, the
/// upstream's for the bytes the client stream wrote out.
///
/// It keeps no state of its own (the call has it all), so one instance serves every native call
/// of a worker.
final class GRPCFrontend: RelaysRequestFrames {
    private let pool: MetadataPool

    init(pool: MetadataPool) {
        self.pool = pool
    }

    var profile: MetadataFilter.Profile { .native }
    var callProtocol: CallProtocol { .grpc }

    /// Routes the call by its service name and starts it, or answers why it cannot be served.
    /// `inout` only so that the stream's head is used in place (not copied); it is not changed.
    func start(_ call: Call, _ head: inout CallHead) {
        guard head.isPost else {
            call.fail(.invalidArgument, "a gRPC request must be a POST", httpStatus: 405)
            return
        }
        guard let service = head.serviceBytes else {
            call.fail(.unimplemented, "malformed :path: expected /package.Service/Method")
            return
        }
        guard let route = call.snapshot.route(service: service) else {
            call.fail(.unimplemented, "unknown service \(head.service ?? "")")
            return
        }
        call.start(route: route, head: head, cardinality: .unknown, openNow: true)
    }

    // MARK: request: relayed untouched (RelaysRequestFrames)

    // MARK: response

    /// `body` with the block as it may go to the client: itself, or (rare: an upstream that
    /// sends hop-by-hop fields) a copy without what the table drops, which `body` takes; the
    /// block itself is then given back. (No block is returned: a returned reference is retained
    /// and released on every call.)
    @inline(__always)
    private func withRelayable(_ fields: Metadata, filtered: Bool, _ body: (Metadata) -> Void) {
        guard !filtered else { return body(fields) }
        let block = pool.take()
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            if MetadataFilter.response(name, profile: .native) != .drop { block.append(name: name, value: value) }
        }
        pool.give(fields)
        body(block)
    }

    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool) {
        withRelayable(fields, filtered: filtered) { block in
            call.client.sendHead(status: 200, fields: block, contentLength: nil, endStream: false)
            pool.give(block)
        }
    }

    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        call.client.sendBody(bytes)
    }

    func responseWritten(_ call: Call, _ count: Int) {
        call.consumeResponse(count)
    }

    func finish(_ call: Call, _ ending: CallStateMachine.Ending, fields: Metadata?) {
        let headSent = call.responseStarted
        if ending.source == .upstream, fields != nil {
            // Relayed exactly: a trailers-only response stays one HEADERS frame. (Not bound
            // with `let`: that copy is one more retain and release per call.)
            withRelayable(fields.unsafelyUnwrapped, filtered: call.filteredFields) { block in
                if headSent {
                    call.client.sendEnd(trailers: block)  // the stream owns it now
                } else {
                    call.client.sendHead(status: 200, fields: block, contentLength: nil, endStream: true)
                    pool.give(block)
                }
            }
            return
        }
        if let fields { pool.give(fields) }
        let h = pool.take()
        if !headSent {
            h.append(":status", String(call.refusalHTTPStatus ?? 200))
            h.append("content-type", "application/grpc")
        }
        h.append("grpc-status", ending.code.decimalText)
        h.append("grpc-message", GRPCStatusMessage.encode(ending.message))
        if headSent {
            call.client.sendEnd(trailers: h)  // the stream owns it now
        } else {
            call.client.sendHead(status: 200, fields: h, contentLength: nil, endStream: true)
            pool.give(h)
        }
    }
}

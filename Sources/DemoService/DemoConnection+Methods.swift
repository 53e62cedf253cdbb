import Channel
import HTTP2
import Transcoding
import UVLoop

/// How each method answers: request messages in, replies and trailers out through the stream's
/// queue, which the session pulls (`http2DataReady`). Runs inside the session's callbacks or a
/// stream's timer, on the loop thread.
extension DemoConnection {
    /// DATA of a message-level method: decoded into messages as it arrives. A request over
    /// `maxRequest` or with broken framing is answered at once; its further bytes are dropped.
    func requestBytes(_ s: DemoStream, _ bytes: UnsafeRawBufferPointer) {
        guard !s.ended else { return }
        s.requestBytes += bytes.count
        guard s.requestBytes <= Self.maxRequest else {
            s.messages = []
            finish(s, .resourceExhausted, "request larger than the demo service's \(Self.maxRequest) bytes")
            return
        }
        do throws(GRPCFrameDecoder.DecodeError) {
            try s.decoder.feed(bytes) { s.messages.append($0) }
        } catch {
            switch error {
            case .messageTooLarge:
                finish(s, .resourceExhausted, "request larger than the demo service's \(Self.maxRequest) bytes")
            case .invalidFlag(let flag):
                finish(s, .internalError, "invalid gRPC compressed flag \(flag)")
            }
        }
    }

    /// The request is complete: answer per method.
    func requestEnded(_ s: DemoStream) {
        guard !s.requestEnded else { return }
        s.requestEnded = true
        if s.method == .chat {
            s.ended = true
            session.resumeData(streamID: s.id)
            return
        }
        guard !s.ended else { return }  // refused while it arrived
        if s.decoder.hasPartialMessage {
            finish(s, .internalError, "the request ended inside a gRPC message")
            return
        }
        var requests: [DemoRequest] = []
        do throws(TranscodeError) {
            for message in s.messages { requests.append(try DemoRequest(message)) }
        } catch {
            finish(s, .invalidArgument, "cannot parse EchoRequest: \(error.message)")
            return
        }
        switch s.method {
        case .echo:
            guard let first = requests.first, requests.count == 1 else {
                finish(s, .unimplemented, "Echo takes exactly one request message")
                return
            }
            if first.isPlain {
                // The fast path of benchmarks: the request message is the response.
                let message = s.messages[0]
                prefix.removeAll(keepingCapacity: true)
                GRPCFrame.writeHeader(compressed: message.compressed, length: UInt32(message.payload.count), into: &prefix)
                prefix.withUnsafeBytes { s.queue.append($0) }
                message.payload.withUnsafeBytes { s.queue.append($0) }
                finish(s, trailers: first.trailers())
                break
            }
            after(first.delayMs, s) { [unowned self] in
                if first.asksForOK { self.send(s, first.response(index: 0)) }
                self.finish(s, trailers: first.trailers())
            }
        case .expand:
            s.expand = requests.first ?? DemoRequest()
            s.expandLeft = max(0, min(s.expand.count, 1_000_000))
            expandNext(s)
        case .collect:
            var reply = DemoRequest()
            reply.message = Array(requests.map { String(decoding: $0.message, as: UTF8.self) }.joined(separator: " ").utf8)
            send(s, reply.response(index: Int32(requests.count)))
            finish(s, trailers: reply.trailers())
        case .chat, .unknown:
            break
        }
        s.messages = []
    }

    private func expandNext(_ s: DemoStream) {
        guard s.expandLeft > 0 else {
            finish(s, trailers: s.expand.trailers())
            return
        }
        if s.expand.delayMs <= 0 {
            // No delay: replies are made as the session pulls them (`produceExpandReplies`), so a
            // long stream to a slow client is held back by flow control, not queued whole.
            s.expandOnDemand = true
            session?.resumeData(streamID: s.id)
            return
        }
        after(s.expand.delayMs, s) { [unowned self] in
            s.expandLeft -= 1
            self.send(s, s.expand.response(index: s.expandIndex))
            s.expandIndex += 1
            self.expandNext(s)
        }
    }

    /// `Expand` without delay, inside `http2DataReady`: tops the queue up to 64 KiB of replies,
    /// and decides the trailers after the last one.
    func produceExpandReplies(_ s: DemoStream) {
        while s.queue.count < 64 * 1024 && s.expandLeft > 0 {
            s.expand.response(index: s.expandIndex).withUnsafeBytes { s.queue.append($0) }
            s.expandIndex += 1
            s.expandLeft -= 1
        }
        if s.expandLeft == 0 && !s.ended {
            s.expandOnDemand = false
            s.trailers = s.expand.trailers()
            s.ended = true
        }
    }

    /// Runs `body` after `ms` milliseconds (at once for 0), unless the stream is gone by then.
    private func after(_ ms: Int, _ s: DemoStream, _ body: @escaping () -> Void) {
        guard ms > 0 else { body(); return }
        s.timer?.close()
        s.timer = Timer(loop: server.loop) { [weak self, weak s] in
            guard let self, let s, !self.closed, self.streams[s.id] != nil else { return }
            body()
            self.server.flushQueue.schedule(self)
        }
        s.timer?.start(timeoutMs: UInt64(ms))
    }

    private func send(_ s: DemoStream, _ framed: [UInt8]) {
        framed.withUnsafeBytes { s.queue.append($0) }
        session?.resumeData(streamID: s.id)
    }

    private func finish(_ s: DemoStream, trailers: Metadata) {
        guard !s.ended else { return }
        s.trailers = trailers
        s.ended = true
        session?.resumeData(streamID: s.id)
    }

    /// Ends the call with the service's own failure: `status` and `message`.
    private func finish(_ s: DemoStream, _ status: GRPCStatusCode, _ message: String) {
        finish(s, trailers: DemoRequest.trailers(status, message))
    }
}

import HTTP1
import HTTP2
import Transcoding
import UVLoop

/// The HTTP/1.1 frontend of a client connection (RFC 9112): one request at a time, in order.
///
/// Bytes are parsed with `stopAfterEnd`, so after a request's last byte nothing more is parsed
/// until its response is complete; bytes of pipelined requests wait in `h1Pending` (reading stops
/// above `pendingLimit`). Within one request the body and the response flow at the same time
/// (full-duplex streaming). A request the parser refuses gets its status and `Connection: close`
/// and is never forwarded. The header timeout (the `preface_timeout` timer) runs while a request's
/// head is incomplete and while the connection idles between requests.
extension ServerConnection: JSONDownstream {
    /// Untaken request body bytes above which the socket stops being read.
    private static let untakenHighWater = 1 << 20
    private static let untakenLowWater = 256 * 1024
    private static let pendingLimit = 64 * 1024
    /// Response bytes queued for the socket above which no further pipelined request is parsed.
    private static let outputHighWater = 256 * 1024

    /// Whether the current request's bytes are all parsed and the parser must wait for its response.
    private var h1AwaitingResponse: Bool { h1Head != nil && h1RequestEnded }

    func h1Feed(_ bytes: UnsafeRawBufferPointer) {
        if h1AwaitingResponse || h1ResumeParsing || !h1Pending.isEmpty {
            h1Pending.append(contentsOf: bytes)
            if h1Pending.count > Self.pendingLimit { h1PauseReading() }
            return
        }
        h1Parse(bytes)
    }

    /// Parses until the input is used up or a request has ended (then the rest waits).
    private func h1Parse(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count, mode == .http1, !h1AwaitingResponse {
            do {
                offset += try h1Parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...]), stopAfterEnd: true) { event in
                    self.h1Event(event)
                }
            } catch {
                h1ParseFailed(error)
                return
            }
            if mode == .http2 {
                // Upgraded: what follows is the client's HTTP/2 preface and frames.
                if offset < bytes.count { feed(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                return
            }
            if h1Parser.isClosed { return }
        }
        if offset < bytes.count, mode == .http1 {
            h1Pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            if h1Pending.count > Self.pendingLimit { h1PauseReading() }
        }
        if h1Parser.isReadingHead || (h1Head == nil && h1Parser.isIdle) {
            h1StartHeadTimer()
        }
    }

    private func h1Event(_ event: HTTP1Event) {
        switch event {
        case .head(let head) where head.upgrade == "h2c" && !worker.draining:
            stopPrefaceTimer()
            h1Head = head
            h1Upgrading = true
            h1RequestEnded = false
            h1UpgradeBody = []
            if head.expectContinue {
                var continueBytes: [UInt8] = []
                HTTP1ResponseWriter.writeContinue(into: &continueBytes)
                continueBytes.withUnsafeBytes { out.append($0) }
                scheduleFlush()
            }
        case .head(let head):
            stopPrefaceTimer()
            h1Head = head
            h1RequestEnded = false
            h1ResponseStarted = false
            h1ResponseEnded = false
            h1Chunked = false
            h1CloseAfterResponse = !head.keepAlive
            h1Untaken = 0
            let call = JSONCall(worker: worker, downstream: self)
            h1Call = call
            call.start(JSONRequestHead(
                method: head.method, target: head.target, authority: head.headers.first("Host"),
                fields: .http1(head.headers), peer: peerHost,
                acceptsTrailers: head.version == .http11 && head.headers.acceptsTrailers))
            if head.expectContinue && !call.isResponded && mode == .http1 {
                var continueBytes: [UInt8] = []
                HTTP1ResponseWriter.writeContinue(into: &continueBytes)
                continueBytes.withUnsafeBytes { out.append($0) }
                scheduleFlush()
            }
        case .body(let bytes) where h1Upgrading:
            if h1UpgradeBody.count + bytes.count > Self.upgradeBodyLimit {
                h1ParseFailed(HTTP1ParseError(status: 413, message: "the body of an h2c upgrade request is larger than \(Self.upgradeBodyLimit) bytes"))
                return
            }
            h1UpgradeBody.append(contentsOf: bytes)
        case .body(let bytes):
            h1Untaken += bytes.count
            h1Call?.requestBody(bytes)
            if h1Untaken > Self.untakenHighWater { h1PauseReading() }
        case .trailers:
            break  // request trailers carry nothing a gRPC upstream could use
        case .end where h1Upgrading:
            h1SwitchToHTTP2()
        case .end:
            h1RequestEnded = true
            h1Call?.requestEnd()
            h1MaybeComplete()
        }
    }

    /// An upgrade request's body is held whole until the switch (RFC 7540 §3.2: it is sent in
    /// full before HTTP/2 frames), so it is bounded.
    private static let upgradeBodyLimit = 1 << 20

    /// RFC 7540 §3.2 (h2c): `101 Switching Protocols`, then HTTP/2 on this connection with the
    /// upgrading request as stream 1, handled like any HTTP/2 request (native gRPC or JSON).
    private func h1SwitchToHTTP2() {
        guard let head = h1Head else { return }
        var settings: [UInt8] = []
        let text = head.headers.first("HTTP2-Settings") ?? ""
        var decoded = false
        if case .success = Array(text.utf8).withUnsafeBytes({ Base64.decode($0, into: &settings) }) { decoded = true }
        guard decoded, settings.count % 6 == 0 else {
            h1ParseFailed(HTTP1ParseError(status: 400, message: "HTTP2-Settings is not a base64url SETTINGS payload"))
            return
        }
        let switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        Array(switching.utf8).withUnsafeBytes { out.append($0) }
        h1Upgrading = false
        h1Head = nil
        mode = .http2
        if h1ReadPaused {
            h1ReadPaused = false
            tcp.startReading()
        }
        let session = HTTP2Session(role: .server, delegate: self, settings: worker.serverSettings)
        self.session = session
        let call = openCall(streamID: 1)
        call.windowless = true
        if let error = session.upgrade(settingsPayload: settings, headRequest: head.method == "HEAD",
                                       userData: Unmanaged.passUnretained(call).toOpaque()) {
            worker.log("h2c upgrade failed: \(error)")
            close()
            return
        }
        func header(_ name: String, _ value: String) {
            var n = name, v = value
            n.withUTF8 { nb in v.withUTF8 { vb in call.downstreamHeader(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
        }
        header(":method", head.method)
        header(":scheme", "http")
        header(":path", head.target)
        if let host = head.headers.first("Host") { header(":authority", host) }
        for field in head.headers {
            let name = field.name.lowercased()
            if name == "host" || name == "connection" || name == "upgrade" || name == "http2-settings" { continue }
            header(name, field.value)
        }
        let body = h1UpgradeBody
        h1UpgradeBody = []
        call.requestHeadersComplete(endStream: body.isEmpty)
        if !body.isEmpty {
            body.withUnsafeBytes { call.downstreamData($0) }
            call.downstreamRemoteEnded()
        }
        scheduleFlush()
    }

    private func h1ParseFailed(_ error: HTTP1ParseError) {
        worker.log("HTTP/1.1 request refused: \(error)")
        tcp.stopReading()
        h1Pending = []
        if let call = h1Call {
            h1Call = nil
            call.downstreamGone()
            // Mid-request with a response already under way: the connection just ends after it.
            if h1ResponseStarted {
                mode = .rejecting
                scheduleFlush()
                return
            }
        }
        var bytes: [UInt8] = []
        HTTP1ResponseWriter.writeError(error, into: &bytes)
        bytes.withUnsafeBytes { out.append($0) }
        mode = .rejecting
        stopPrefaceTimer()
        scheduleFlush()
    }

    /// The head timer fired: a request head that did not arrive in time gets 408; an idle
    /// keep-alive connection is closed quietly.
    func h1HeadTimeout() {
        guard h1Head == nil else { return }
        if h1Parser.isReadingHead {
            worker.log("closing a connection whose request head did not arrive in \(worker.config.prefaceTimeoutMs)ms")
            let body = "request head not received in time\n"
            let response = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            Array(response.utf8).withUnsafeBytes { out.append($0) }
            tcp.stopReading()
            mode = .rejecting
            scheduleFlush()
        } else {
            h1CloseOnceWritten()  // idle; a response still being written is not cut
        }
    }

    private func h1StartHeadTimer() {
        guard mode == .http1 else { return }
        if prefaceTimer == nil {
            prefaceTimer = Timer(loop: worker.loop) { [unowned self] in self.h1HeadTimeout() }
        }
        prefaceTimer?.start(timeoutMs: worker.config.prefaceTimeoutMs)
    }

    private func h1PauseReading() {
        guard !h1ReadPaused else { return }
        h1ReadPaused = true
        tcp.stopReading()
    }

    private func h1ResumeReading() {
        guard h1ReadPaused, mode == .http1 else { return }
        h1ReadPaused = false
        tcp.startReading()
    }

    /// The request and its response are both complete: the next request may be parsed.
    private func h1MaybeComplete() {
        guard h1RequestEnded, h1ResponseEnded else { return }
        h1Call?.detach()
        h1Call = nil
        h1Head = nil
        if h1CloseAfterResponse || h1Parser.isClosed {
            mode = .rejecting  // close once the response is written
            tcp.stopReading()
            scheduleFlush()
            return
        }
        // Parse what is pending from the flush, not from inside this (upstream) callback.
        h1ResumeParsing = true
        scheduleFlush()
    }

    func h1ResumeAfterResponse() {
        // A client that pipelines and does not read must not make the gateway buffer responses
        // without bound: the next request waits until the output has drained below the mark
        // (this runs again from every flush).
        guard outputBacklog <= Self.outputHighWater else { return }
        h1ResumeParsing = false
        let pending = h1Pending
        h1Pending = []
        if !pending.isEmpty {
            pending.withUnsafeBytes { h1Parse($0) }
        } else {
            h1StartHeadTimer()
        }
        if h1Pending.count <= Self.pendingLimit && h1Untaken <= Self.untakenHighWater { h1ResumeReading() }
    }

    /// Everything queued is written.
    func h1Flushed() {
        if h1ResumeParsing {
            h1ResumeAfterResponse()  // pipelined requests waiting for the output to drain
        }
        h1Call?.downstreamWritable()
    }

    /// Graceful shutdown: finish the request in flight, then close.
    func h1BeginDrain() {
        if h1Head == nil {
            h1CloseOnceWritten()
        } else {
            h1CloseAfterResponse = true
        }
    }

    /// Closes the connection after what is queued has been written (at once when nothing is).
    private func h1CloseOnceWritten() {
        if outputBacklog == 0 {
            close()
            return
        }
        tcp.stopReading()
        mode = .rejecting
        scheduleFlush()
    }

    // MARK: JSONDownstream

    func jsonResponseHead(status: Int, headers: [(String, String)], contentLength: Int?) {
        guard mode == .http1, let head = h1Head, !h1ResponseStarted else { return }
        h1ResponseStarted = true
        // A response that ends before its request did leaves unread body bytes: close after it.
        let bodyless = head.body == .none || head.body == .contentLength(0)
        if !h1RequestEnded && !bodyless && (contentLength != nil || status >= 400) { h1CloseAfterResponse = true }
        if contentLength == nil {
            if head.version == .http11 {
                h1Chunked = true
            } else {
                h1CloseAfterResponse = true  // HTTP/1.0: the body ends when the connection closes
            }
        }
        // Written directly: the fields are the gateway's own and the upstream's, whose names and
        // values nghttp2 has validated (RFC 9113 §8.2.1: no CR, LF or NUL), so they are valid
        // HTTP/1.1 field lines (RFC 9112 §5).
        var b: [UInt8] = []
        swap(&b, &h1HeadScratch)
        b.removeAll(keepingCapacity: true)
        b.append(contentsOf: "HTTP/1.1 ".utf8)
        b.append(contentsOf: String(status).utf8)
        b.append(UInt8(ascii: " "))
        b.append(contentsOf: HTTP1ResponseWriter.reasonPhrase(for: status).utf8)
        b.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            b.append(contentsOf: name.utf8)
            b.append(contentsOf: ": ".utf8)
            b.append(contentsOf: value.utf8)
            b.append(contentsOf: "\r\n".utf8)
        }
        if let contentLength {
            b.append(contentsOf: "content-length: ".utf8)
            b.append(contentsOf: String(contentLength).utf8)
            b.append(contentsOf: "\r\n".utf8)
        } else if h1Chunked {
            b.append(contentsOf: "transfer-encoding: chunked\r\n".utf8)
        }
        if h1CloseAfterResponse {
            b.append(contentsOf: "connection: close\r\n".utf8)
        } else if head.version == .http10 {
            b.append(contentsOf: "connection: keep-alive\r\n".utf8)
        }
        b.append(contentsOf: "\r\n".utf8)
        b.withUnsafeBytes { out.append($0) }
        swap(&b, &h1HeadScratch)
        scheduleFlush()
    }

    func jsonResponseBody(_ bytes: UnsafeRawBufferPointer) {
        guard mode == .http1, !bytes.isEmpty else { return }
        if h1Chunked {
            var prefix: [UInt8] = []
            HTTP1ResponseWriter.writeChunkPrefix(length: bytes.count, into: &prefix)
            prefix.withUnsafeBytes { out.append($0) }
            out.append(bytes)
            var suffix: [UInt8] = []
            HTTP1ResponseWriter.writeChunkSuffix(into: &suffix)
            suffix.withUnsafeBytes { out.append($0) }
        } else {
            out.append(bytes)
        }
        scheduleFlush()
    }

    func jsonResponseEnd(trailers: [(String, String)]) {
        guard mode == .http1 else { return }
        if h1Chunked {
            var fields = HTTP1Fields()
            for (name, value) in trailers { fields.append(name: name, value: value) }
            var bytes: [UInt8] = []
            do {
                try HTTP1ResponseWriter.writeLastChunk(trailers: fields, into: &bytes)
            } catch {
                bytes.removeAll()
                try? HTTP1ResponseWriter.writeLastChunk(into: &bytes)
            }
            bytes.withUnsafeBytes { out.append($0) }
        }
        h1ResponseEnded = true
        if !h1RequestEnded && h1CloseAfterResponse {
            // The rest of the request body is not worth reading: close once this is written.
            if let call = h1Call {
                h1Call = nil
                call.downstreamGone()
            }
            tcp.stopReading()
            mode = .rejecting
        }
        scheduleFlush()
        h1MaybeComplete()
    }

    func jsonRequestTaken(_ count: Int) {
        h1Untaken -= count
        if h1Untaken < Self.untakenLowWater && h1Pending.count <= Self.pendingLimit && !h1AwaitingResponse {
            h1ResumeReading()
        }
    }

    var jsonResponseBacklog: Int { outputBacklog }
}

extension HTTP1Fields {
    /// A `TE` field lists `trailers` (RFC 9110 §10.1.4).
    var acceptsTrailers: Bool {
        values("TE").contains { $0.split(separator: ",").contains { $0.trimmed().lowercased() == "trailers" } }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmed() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}

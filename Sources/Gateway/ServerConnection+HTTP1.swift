import Channel
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
extension ServerConnection {
    /// Untaken request body bytes above which the socket stops being read.
    static let untakenHighWater = 1 << 20
    static let untakenLowWater = 256 * 1024
    static let pendingLimit = 64 * 1024
    /// Response bytes queued for the socket above which no further pipelined request is parsed.
    private static let outputHighWater = 256 * 1024

    /// Whether the current request's bytes are all parsed and the parser must wait for its response.
    var h1AwaitingResponse: Bool { h1Exchange?.requestEnded ?? false }

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
        if h1Parser.isReadingHead {
            h1StartHeadTimer(.head)
        } else if h1Exchange == nil && h1Upgrade == nil && h1Parser.isIdle {
            h1StartHeadTimer(.idle)
        }
    }

    private func h1Event(_ event: HTTP1Event) {
        switch event {
        case .head(let head) where head.upgrade == "h2c" && !worker.draining && tls == nil:  // h2c is cleartext only (RFC 9113 §3.1)
            stopPrefaceTimer()
            h1Upgrade = head
            h1UpgradeBody = []
            if head.expectContinue {
                var continueBytes: [UInt8] = []
                HTTP1ResponseWriter.writeContinue(into: &continueBytes)
                continueBytes.withUnsafeBytes { out.append($0) }
                scheduleFlush()
            }
        case .head(let head):
            stopPrefaceTimer()
            let exchange = HTTP1Exchange(conn: self, head: head)
            h1Exchange = exchange
            startStreamTimer()  // min_rate and stream_idle_timeout for the exchange (h1Tick)
            let call = exchange.start()
            if head.expectContinue, let call, !call.isFinished, mode == .http1 {
                var continueBytes: [UInt8] = []
                HTTP1ResponseWriter.writeContinue(into: &continueBytes)
                continueBytes.withUnsafeBytes { out.append($0) }
                scheduleFlush()
            }
        case .body(let bytes) where h1Upgrade != nil:
            if h1UpgradeBody.count + bytes.count > Self.upgradeBodyLimit {
                h1ParseFailed(HTTP1ParseError(status: 413, message: "the body of an h2c upgrade request is larger than \(Self.upgradeBodyLimit) bytes"))
                return
            }
            h1UpgradeBody.append(contentsOf: bytes)
        case .body(let bytes):
            h1Exchange?.body(bytes)
        case .trailers:
            break  // request trailers carry nothing a gRPC upstream could use
        case .end where h1Upgrade != nil:
            h1SwitchToHTTP2()
        case .end:
            h1Exchange?.end()
        }
    }

    /// An upgrade request's body is held whole until the switch (RFC 7540 §3.2: it is sent in
    /// full before HTTP/2 frames), so it is bounded.
    private static let upgradeBodyLimit = 1 << 20

    /// RFC 7540 §3.2 (h2c): `101 Switching Protocols`, then HTTP/2 on this connection with the
    /// upgrading request as stream 1, handled like any HTTP/2 request (native gRPC or JSON).
    private func h1SwitchToHTTP2() {
        guard let head = h1Upgrade else { return }
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
        h1Upgrade = nil
        mode = .http2
        if h1ReadPaused {
            h1ReadPaused = false
            tcp.startReading()
        }
        let session = HTTP2Session(role: .server, delegate: self, settings: worker.serverSettings,
                                   headerPool: worker.headerPool)
        self.session = session
        startIdleTimer()
        streamTimer?.close()
        streamTimer = nil
        startStreamTimer()
        let stream = openStream(streamID: 1)
        stream.windowless = true
        if let error = session.upgrade(settingsPayload: settings, headRequest: head.method == "HEAD",
                                       userData: Unmanaged.passUnretained(stream).toOpaque()) {
            worker.log("h2c upgrade failed: \(error)")
            close()
            return
        }
        // The HTTP/1.1 head becomes the stream's HTTP/2 head, through the same request filter
        // (hop-by-hop fields and what `Connection` names are dropped there).
        for value in head.headers.values("Connection") {
            var v = value
            v.withUTF8 { stream.dropFieldsNamed(byConnectionValue: UnsafeRawBufferPointer($0)) }
        }
        func header(_ name: String, _ value: String) {
            var n = name, v = value
            n.withUTF8 { nb in v.withUTF8 { vb in stream.header(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
        }
        header(":method", head.method)
        header(":scheme", "http")
        header(":path", head.target)
        if let host = head.headers.first("Host") { header(":authority", host) }
        for field in head.headers {
            header(field.name.lowercased(), field.value)
        }
        let body = h1UpgradeBody
        h1UpgradeBody = []
        stream.headersComplete(endStream: body.isEmpty)
        if !body.isEmpty {
            body.withUnsafeBytes { stream.data($0) }
            stream.remoteEnded()
        }
        scheduleFlush()
    }

    private func h1ParseFailed(_ error: HTTP1ParseError) {
        worker.log("HTTP/1.1 request refused: \(error)")
        tcp.stopReading()
        h1Pending = []
        if let exchange = h1Exchange {
            h1Exchange = nil
            exchange.clientGone()
            exchange.detach()
            // Mid-request with a response already under way: the connection just ends after it.
            if exchange.responseStarted {
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
        guard h1Exchange == nil, h1Upgrade == nil else { return }
        if h1Parser.isReadingHead {
            worker.log("closing a connection whose request head did not arrive in \(worker.config.prefaceTimeoutMs)ms")
            var bytes: [UInt8] = []
            HTTP1ResponseWriter.writeError(HTTP1ParseError(status: 408, message: "request head not received in time"), into: &bytes)
            bytes.withUnsafeBytes { out.append($0) }
            tcp.stopReading()
            mode = .rejecting
            scheduleFlush()
        } else {
            h1CloseOnceWritten()  // idle; a response still being written is not cut
        }
    }

    /// Starts the head timer for `phase`, unless it already runs for it: a request head must be
    /// complete `preface_timeout` after its first byte, however the rest trickles in (slowloris),
    /// and an idle keep-alive connection closes that long after its last response.
    private func h1StartHeadTimer(_ phase: HeadTimerPhase) {
        guard mode == .http1, headTimerPhase != phase else { return }
        headTimerPhase = phase
        if prefaceTimer == nil {
            prefaceTimer = Timer(loop: worker.loop) { [unowned self] in self.h1HeadTimeout() }
        }
        prefaceTimer?.start(timeoutMs: worker.config.prefaceTimeoutMs)
    }

    /// Once per `min_rate_window` (the stream timer, started with the first request): the request
    /// body's minimum rate and the exchange's idle timeout (`HTTP1Exchange.tick`), and the
    /// response's minimum rate. Output that waited for the
    /// client the whole window while it took fewer than `min_rate` bytes (it does not read) ends
    /// the call in flight DEADLINE_EXCEEDED and closes the connection, dropping what was queued:
    /// nothing more could reach the client anyway. Also while rejecting (an error response the
    /// client does not read is no different).
    func h1Tick(tickMs: UInt64) {
        let sent = tcp.bytesSent
        let moved = sent &- h1SentAtTick
        h1SentAtTick = sent
        if mode == .http1 {
            h1Exchange?.tick(tickMs: tickMs, reading: !h1ReadPaused, insideChunk: h1Parser.isInsideChunk, movedOut: moved)
        }
        guard mode == .http1 || mode == .rejecting else { return }
        let waiting = outputBacklog > 0
        let waitedAllWindow = waiting && h1OutputWaitingAtTick
        h1OutputWaitingAtTick = waiting
        let limits = worker.limits
        guard limits.minRateWindowBytes > 0, waitedAllWindow, moved < UInt64(limits.minRateWindowBytes) else { return }
        worker.counters.limitHit(.minRateResponse)
        let message = "response not read: \(moved) bytes taken by the client in \(tickMs)ms, "
            + "at least \(limits.minRateBytesPerSecond) bytes/s expected"
        worker.log("closing an HTTP/1.1 connection: \(message)")
        h1Exchange?.responseNotRead(message)
        close()
    }

    /// Brings this connection's share of the worker's held bytes (`max_buffered_per_worker`) up
    /// to date: response bytes not yet written to the socket, request body bytes its call has
    /// not taken, pipelined bytes not yet parsed. After every read, flush and take, and at close
    /// (when it falls to zero).
    func h1CountHeld() {
        var held = 0
        if mode == .http1 || mode == .rejecting {
            held = outputBacklog + h1Pending.count + (h1Exchange?.untaken ?? 0)
        }
        guard held != h1Counted else { return }
        worker.counters.add(worker.counters.bufferedBytes, Int64(held - h1Counted))
        h1Counted = held
    }

    func h1PauseReading() {
        guard !h1ReadPaused else { return }
        h1ReadPaused = true
        tcp.stopReading()
    }

    func h1ResumeReading() {
        guard h1ReadPaused, mode == .http1 else { return }
        h1ReadPaused = false
        tcp.startReading()
    }

    /// The request and its response are both complete: the next request may be parsed.
    func h1ExchangeComplete(_ exchange: HTTP1Exchange) {
        guard h1Exchange === exchange else { return }
        h1Exchange = nil
        h1Retired = exchange  // may be inside its call's callbacks: freed at the next flush
        if exchange.closeAfterResponse || h1Parser.isClosed {
            mode = .rejecting  // close once the response is written
            tcp.stopReading()
            scheduleFlush()
            return
        }
        // Parse what is pending from the flush, not from inside this (upstream) callback.
        h1ResumeParsing = true
        scheduleFlush()
    }

    /// The response ended before the request did and the connection will close after it: the
    /// rest of the request body is not worth reading.
    func h1AbandonRequest(_ exchange: HTTP1Exchange) {
        guard h1Exchange === exchange else { return }
        h1Exchange = nil
        h1Retired = exchange
        exchange.clientGone()
        tcp.stopReading()
        mode = .rejecting
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
            h1StartHeadTimer(.idle)
        }
        if h1Pending.count <= Self.pendingLimit { h1ResumeReading() }
    }

    /// Everything queued is written.
    func h1Flushed() {
        if h1ResumeParsing {
            h1ResumeAfterResponse()  // pipelined requests waiting for the output to drain
        }
        h1Exchange?.written()
    }

    /// Graceful shutdown: finish the request in flight, then close.
    func h1BeginDrain() {
        if let exchange = h1Exchange {
            exchange.closeAfterResponse = true
        } else if h1Upgrade == nil {
            h1CloseOnceWritten()
        }
    }

    /// Closes the connection after what is queued has been written (at once when nothing is).
    func h1CloseOnceWritten() {
        if outputBacklog == 0 {
            close()
            return
        }
        tcp.stopReading()
        mode = .rejecting
        scheduleFlush()
    }
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

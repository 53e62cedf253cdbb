import Channel
import HTTP1
import HTTP2
import TLS
import Transport
import UVLoop

/// One client connection on a worker. Sniffs the first bytes: the HTTP/2 client preface
/// (h2c with prior knowledge) gets an nghttp2 server session; a request line gets the HTTP/1.1
/// frontend (`ServerConnection+HTTP1.swift`); anything else a 400 and the connection closed.
/// Owns its HTTP/2 streams and its HTTP/1.1 exchange, which own their calls; loop-thread only.
///
/// On a TLS listener (`ServerConnection+TLS.swift`) the socket's bytes go through `tls` first and
/// only plaintext reaches the paths above; ALPN `h2` or `http/1.1` chooses the protocol, a client
/// that offers neither is sniffed. Output goes through the same `WritePump`, with `tls` as its
/// record layer.
final class ServerConnection: TCPStreamDelegate, HTTP2SessionDelegate, Flushable {
    enum Mode { case sniffing, http2, http1, rejecting, closed }

    /// Strong (a `let`): reaching the worker on a per-call path then costs no reference counting,
    /// where an unowned reference is retained and released at every use. No cycle outlives the
    /// connection: the worker lets go of it when it closes.
    let worker: Worker
    let tcp: TCPStream
    var mode = Mode.sniffing {
        didSet { if mode != oldValue { countMode(from: oldValue) } }
    }

    /// `downstreamByProtocol`: a connection counts under HTTP/1.1 or HTTP/2 while in that mode.
    private func countMode(from old: Mode) {
        let c = worker.counters
        if old == .http1 || old == .http2 { c.add(c.downstreamByProtocol[old == .http1 ? 0 : 1], -1) }
        if mode == .http1 || mode == .http2 { c.add(c.downstreamByProtocol[mode == .http1 ? 0 : 1], 1) }
    }

    // HTTP/1.1 mode (see ServerConnection+HTTP1.swift).
    var h1Parser = HTTP1RequestParser()
    /// The request being served; requests are served one at a time, in order (pipelining).
    var h1Exchange: HTTP1Exchange?
    /// The exchange that just completed, kept until the next flush (see `h1ExchangeComplete`).
    var h1Retired: HTTP1Exchange?
    /// Bytes received after the current request's end (pipelined requests), parsed once its
    /// response is complete.
    var h1Pending: [UInt8] = []
    var h1ReadPaused = false
    /// Reused for writing response heads.
    var h1HeadScratch: [UInt8] = []
    var h1ResumeParsing = false
    /// The current request offered `Upgrade: h2c`: its head and body are collected here, and at
    /// its end the connection switches to HTTP/2 with the request as stream 1.
    var h1Upgrade: HTTP1RequestHead?
    var h1UpgradeBody: [UInt8] = []
    /// `min_rate` for HTTP/1.1 output: the socket's byte count, and whether output was waiting,
    /// at the last tick (`h1Tick`).
    var h1SentAtTick: UInt64 = 0
    var h1OutputWaitingAtTick = false
    /// What this connection counts in the worker's held bytes while it speaks HTTP/1.1
    /// (`h1CountHeld`).
    var h1Counted = 0
    private var sniffed: [UInt8] = []
    var session: HTTP2Session?
    /// Open streams, as an intrusive list through `HTTP2ServerStream.nextOnConnection`; the
    /// list owns one reference to each (see `openStream` and `unlink`).
    private var firstStream: Unmanaged<HTTP2ServerStream>?
    private let pump = WritePump(capacity: 16 * 1024)
    /// Where output for the client is collected (HTTP/1.1 responses are written into it).
    var out: OutputBuffer { pump.out }
    var flushScheduled = false
    /// Closes a connection that has not sent a complete client preface in time (slowloris).
    var prefaceTimer: Timer?
    /// HTTP/2: closes the connection once it has had no open stream for `idle_timeout`. One
    /// timer per connection, started once; a call only records when the connection went idle.
    private var idleTimer: Timer?
    /// Drain: the final GOAWAY goes out when this fires (after the shutdown notice).
    private var goAwayTimer: Timer?
    /// The gateway ended the session over an error (a flood, a protocol error): once its GOAWAY
    /// is written the connection lingers (`lingerTimer`), reading and discarding, before it
    /// closes — closing a socket with unread bytes sends a TCP RST, which can destroy the GOAWAY
    /// before the client reads it (nginx's lingering close).
    private var terminatedWithError = false
    private var lingerTimer: Timer?
    static let lingerMs: UInt64 = 1000
    /// Loop ms since which no stream is open; nil while one is.
    private var idleSince: UInt64?
    /// What the HTTP/1.1 head timer is running for (it is not restarted by further reads).
    enum HeadTimerPhase { case none, idle, head }
    var headTimerPhase = HeadTimerPhase.none
    /// Request bytes received on this connection's streams and not yet given back to its
    /// window, and the upstream response window granted to its streams beyond the initial one:
    /// each at most `connection_window` (README "Hardening").
    var requestHeld = 0
    var responseGranted = 0
    /// Streams reset (by either side) that the connection may still afford: a token bucket of
    /// 1000, refilled at 33 per second (nghttp2's own defaults). Empty: a rapid-reset flood.
    private var resetTokens = 1000.0
    private var resetTokensAt: UInt64 = 0
    /// HTTP/2: the once-per-`min_rate_window` sweep of the streams (min_rate, stream_idle_timeout).
    var streamTimer: Timer?

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The TLS side of a connection accepted on a TLS listener; nil on a cleartext one.
    let tls: TLSConnection?
    /// The listener's `forward_client_certificate`.
    let forwardsClientCertificate: Bool
    /// Bytes arrived since the worker's last TLS idle sweep (`tlsIdleSweep`).
    var tlsReadSinceSweep = false
    /// ALPN chose `h2`: only the HTTP/2 client preface may follow.
    var requiresHTTP2 = false
    /// The verified client certificate as an `x-forwarded-client-cert` value, when the listener
    /// forwards it and the client sent one.
    var forwardedClientCertificate: String?
    /// Whether the client came over TLS (`:scheme https` upstream).
    var isSecure: Bool { tls != nil }

    /// The client's IP address (X-Forwarded-For), read once per connection.
    lazy var peerHost: String? = tcp.peerAddress?.host
    /// `host:port` of the client (the access log), made once per connection.
    lazy var peerText: String? = tcp.peerAddress.map { "\($0)" }

    init(worker: Worker, tcp: TCPStream, tls context: TLSServerContext? = nil, forwardClientCertificate: Bool = false) {
        self.worker = worker
        self.tcp = tcp
        let limits = worker.limits
        h1Parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: limits.maxHeaderListBytes,
                                                          maxHeaderCount: limits.maxHeaderFields))
        forwardsClientCertificate = forwardClientCertificate
        if let context {
            let t = TLSConnection(server: context, plaintextBuffer: worker.tlsPlaintext)
            tls = t
            pump.recordLayer = t
        } else {
            tls = nil
        }
        tcp.delegate = self
        tcp.startReading()
        worker.counters.add(worker.counters.downstreamConnections, 1)
        if tls != nil { worker.counters.add(worker.counters.downstreamTLS, 1) }
        let timeout = worker.config.prefaceTimeoutMs
        prefaceTimer = Timer(loop: worker.loop) { [unowned self] in
            if self.mode == .http1 {
                self.h1HeadTimeout()
                return
            }
            if let tls = self.tls, tls.handshake == nil {
                self.tlsHandshakeTimedOut(after: timeout)
                return
            }
            self.worker.log("closing a connection that sent no complete client preface in \(timeout)ms")
            self.close()
        }
        prefaceTimer?.start(timeoutMs: timeout)
    }

    func stopPrefaceTimer() {
        prefaceTimer?.close()
        prefaceTimer = nil
        headTimerPhase = .none
    }

    var loopNow: UInt64 { worker.loop.now }

    /// Several times per call: one already scheduled costs only this check (no call into the
    /// queue through the protocol, no reference counting).
    @inline(__always)
    func scheduleFlush() { if !flushScheduled { worker.flushQueue.schedule(self) } }

    // MARK: TCP

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        if let tls {
            tlsRead(tls, bytes)
            return
        }
        plaintextRead(bytes)
    }

    /// Bytes from the client in the clear (decrypted on a TLS listener).
    func plaintextRead(_ bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .http2:
            feed(bytes)
        case .http1:
            h1Feed(bytes)
            h1CountHeld()
        case .sniffing:
            sniff(bytes)
        case .rejecting, .closed:
            break
        }
    }

    private func sniff(_ bytes: UnsafeRawBufferPointer) {
        let need = Self.preface.count - sniffed.count
        let take = min(need, bytes.count)
        sniffed.append(contentsOf: bytes[0 ..< take])
        if !Self.preface.starts(with: sniffed) && requiresHTTP2 {
            worker.log("closing a TLS connection from \(peerHost ?? "?") that chose ALPN h2 but sent no HTTP/2 client preface")
            close()
            return
        }
        if !Self.preface.starts(with: sniffed) {
            if let first = sniffed.first, first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z") {
                // A request line (methods are upper-case tokens): the HTTP/1.1 frontend.
                mode = .http1
                let start = sniffed
                sniffed = []
                start.withUnsafeBytes { h1Feed($0) }
                if mode == .http1, take < bytes.count {
                    h1Feed(UnsafeRawBufferPointer(rebasing: bytes[take...]))
                }
                return
            }
            reject()
            return
        }
        guard sniffed.count == Self.preface.count else { return }
        stopPrefaceTimer()
        mode = .http2
        session = HTTP2Session(role: .server, delegate: self, settings: worker.serverSettings, headerPool: worker.headerPool)
        startIdleTimer()
        startStreamTimer()
        let preface = sniffed
        sniffed = []
        preface.withUnsafeBytes { feed($0) }
        if mode == .http2, take < bytes.count {
            feed(UnsafeRawBufferPointer(rebasing: bytes[take...]))
        }
    }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let session, !terminatedWithError else { return }  // lingering: discarded
        if let err = session.receive(bytes) {
            // A flood is the connection's abuse, named so (RFC 9113 §10.5).
            let code = err.isFlood ? HTTP2ErrorCode.enhanceYourCalm : .protocolError
            if err.isFlood { worker.counters.limitHit(.flood) }
            worker.log("connection error: \(err) (GOAWAY \(code))")
            session.terminate(errorCode: code.rawValue)
            terminatedWithError = true
        }
        scheduleFlush()
    }

    /// Closes once the GOAWAY is out: at once, or after lingering when the session ended over an
    /// error (see `terminatedWithError`).
    private func sessionFinished() {
        guard terminatedWithError else { close(); return }
        guard lingerTimer == nil else { return }
        lingerTimer = Timer(loop: worker.loop) { [unowned self] in self.close() }
        lingerTimer?.start(timeoutMs: Self.lingerMs)
    }

    /// Not HTTP/2: answer once, in HTTP/1.1, and close.
    private func reject() {
        stopPrefaceTimer()
        mode = .rejecting
        tcp.stopReading()
        var bytes: [UInt8] = []
        HTTP1ResponseWriter.writeError(HTTP1ParseError(status: 400, message: "trestle: expected an HTTP/1.1 request or the HTTP/2 client preface"),
                                       into: &bytes)
        bytes.withUnsafeBytes { out.append($0) }
        scheduleFlush()
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        close()
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if error != nil {
            close()
            return
        }
        flush()
        if mode == .http1 { h1Exchange?.written() }
    }

    /// Bytes queued towards the client and not yet written.
    var outputBacklog: Int { pump.backlog }

    func flush() {
        defer { if h1Counted != 0 || mode == .http1 || mode == .rejecting { h1CountHeld() } }
        if let retired = h1Retired {
            h1Retired = nil
            retired.detach()
        }
        if mode == .http1 && h1ResumeParsing { h1ResumeAfterResponse() }
        guard mode != .closed else { return }
        let (outcome, failure) = pump.pump(tcp, session: session)
        switch outcome {
        case .writing:
            return
        case .failed:
            worker.log("connection error: \(failure!)")
            close()
            return
        case .drained:
            break
        }
        if mode == .rejecting { close(); return }
        if mode == .http1 { h1Flushed(); return }
        if let session, !session.wantsRead, !session.wantsWrite { sessionFinished() }
    }

    /// Graceful shutdown as nghttpx and Envoy do it: a GOAWAY shutdown notice (last stream
    /// 2^31-1: no new streams, please), then, `finalGoAwayDelayMs` later, the GOAWAY naming the
    /// last stream taken; the connection closes once the calls in flight are done. A client's
    /// stream already on the wire when the notice leaves is served, not refused.
    func beginDrain() {
        if mode == .http1 {
            h1BeginDrain()
            return
        }
        guard let session, mode == .http2 else {
            close()
            return
        }
        session.submitShutdownNotice()
        scheduleFlush()
        goAwayTimer = Timer(loop: worker.loop) { [unowned self] in
            self.goAwayTimer?.close()
            self.goAwayTimer = nil
            guard let session = self.session, self.mode == .http2 else { return }
            session.submitGoAway()
            self.scheduleFlush()
        }
        goAwayTimer?.start(timeoutMs: min(Self.finalGoAwayDelayMs, worker.config.shutdownGraceMs / 2))
    }

    /// Between the shutdown notice and the final GOAWAY: more than a round trip on any network
    /// a gateway sits in, short against `shutdown_grace`.
    static let finalGoAwayDelayMs: UInt64 = 1_000

    /// Tears the connection down; calls still open lose their client and cancel upstream.
    func close() {
        guard mode != .closed else { return }
        stopPrefaceTimer()
        idleTimer?.close()
        idleTimer = nil
        streamTimer?.close()
        streamTimer = nil
        goAwayTimer?.close()
        goAwayTimer = nil
        lingerTimer?.close()
        lingerTimer = nil
        mode = .closed
        while let first = firstStream {
            let stream = first.takeUnretainedValue()
            unlink(stream)
            stream.closed(errorCode: HTTP2ErrorCode.cancel.rawValue)
            first.release()  // the list's reference
        }
        if let exchange = h1Exchange {
            h1Exchange = nil
            exchange.clientGone()
            exchange.detach()
        }
        h1Retired?.detach()
        h1Retired = nil
        h1CountHeld()
        session = nil
        if let tls { tlsSendCloseNotify(tls) }
        tcp.close()
        worker.counters.add(worker.counters.downstreamConnections, -1)
        if isSecure { worker.counters.add(worker.counters.downstreamTLS, -1) }
        worker.connectionClosed(self)
    }

    /// Takes `c` off the list; the list's reference to it is the caller's to release.
    private func unlink(_ c: HTTP2ServerStream) {
        c.onConnectionList = false
        let next = c.nextOnConnection, prev = c.prevOnConnection
        if let prev { prev._withUnsafeGuaranteedRef { $0.nextOnConnection = next } } else { firstStream = next }
        next?._withUnsafeGuaranteedRef { $0.prevOnConnection = prev }
        c.nextOnConnection = nil
        c.prevOnConnection = nil
    }

    // MARK: HTTP/2 events

    @inline(__always)
    private func stream(_ userData: UnsafeMutableRawPointer?) -> HTTP2ServerStream? {
        guard let userData else { return nil }
        return Unmanaged<HTTP2ServerStream>.fromOpaque(userData).takeUnretainedValue()
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {
        // The worker's memory budget: beyond it a new stream is refused (the client may retry it).
        if worker.overBudget {
            worker.counters.limitHit(.bufferedPerWorker)
            session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.refusedStream.rawValue)
            return
        }
        let s = openStream(streamID: streamID)
        session.setStreamUserData(streamID, Unmanaged.passUnretained(s).toOpaque())
    }

    /// A new client stream, linked into the connection's list (which owns it).
    /// Starts watching for an idle HTTP/2 connection (when it becomes HTTP/2).
    func startIdleTimer() {
        idleSince = firstStream == nil ? worker.loop.now : nil
        let timeout = worker.config.idleTimeoutMs
        idleTimer = Timer(loop: worker.loop) { [unowned self] in self.idleCheck() }
        idleTimer?.start(timeoutMs: timeout)
    }

    /// Starts the sweep that applies `min_rate` and `stream_idle_timeout` to the streams.
    func startStreamTimer() {
        guard streamTimer == nil else { return }
        let limits = worker.limits
        let tick = min(limits.minRateWindowMs, limits.streamIdleTimeoutMs)
        streamTimer = Timer(loop: worker.loop) { [unowned self] in
            self.streamTick(tickMs: tick)
            self.streamTimer?.start(timeoutMs: tick)
        }
        streamTimer?.start(timeoutMs: tick)
    }

    private func streamTick(tickMs: UInt64) {
        if mode == .http1 || (mode == .rejecting && session == nil) {
            h1Tick(tickMs: tickMs)
            return
        }
        guard mode == .http2 else { return }
        let open = requestHeld < worker.limits.connectionWindowBytes / 2
        let window = worker.config.streamWindowBytes
        var s = firstStream
        while let stream = s {
            // The list holds each stream; a tick only submits frames and never unlinks one.
            s = stream._withUnsafeGuaranteedRef { $0.nextOnConnection }
            stream._withUnsafeGuaranteedRef { $0.tick(tickMs: tickMs, requestWindowOpen: open, streamWindow: window) }
        }
    }

    private func idleCheck() {
        let timeout = worker.config.idleTimeoutMs
        guard mode == .http2 else { return }
        guard let since = idleSince else {
            idleTimer?.start(timeoutMs: timeout)
            return
        }
        let now = worker.loop.now
        if now &- since >= timeout {
            worker.log("closing an HTTP/2 connection idle for \(timeout)ms (GOAWAY)")
            beginDrain()
        } else {
            idleTimer?.start(timeoutMs: timeout - (now &- since))
        }
    }

    func openStream(streamID: Int32) -> HTTP2ServerStream {
        idleSince = nil
        let s = HTTP2ServerStream(connection: Unmanaged.passUnretained(self), streamID: streamID)
        let listed = Unmanaged.passRetained(s)  // the list's reference, released by whoever unlinks it
        s.nextOnConnection = firstStream
        firstStream?._withUnsafeGuaranteedRef { $0.prevOnConnection = listed }
        s.onConnectionList = true
        firstStream = listed
        return s
    }

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let userData else { return }
        // The stream is owned by the list for as long as nghttp2 knows it: no retain needed.
        Unmanaged<HTTP2ServerStream>.fromOpaque(userData)._withUnsafeGuaranteedRef {
            $0.header(name: name, value: value)
        }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let userData else { return }
        // Held by the list while nghttp2 knows the stream; only closing it (below) releases it.
        Unmanaged<HTTP2ServerStream>.fromOpaque(userData)._withUnsafeGuaranteedRef { s in
            if kind == .request {
                s.headersComplete(endStream: endStream)
            } else if endStream {
                s.remoteEnded()  // request trailers: carried nothing a gRPC upstream could use
            }
        }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        if let userData {
            Unmanaged<HTTP2ServerStream>.fromOpaque(userData)._withUnsafeGuaranteedRef { $0.data(bytes) }
        } else {
            session.consume(streamID: streamID, bytes.count)
        }
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let userData else { return }
        Unmanaged<HTTP2ServerStream>.fromOpaque(userData)._withUnsafeGuaranteedRef { $0.remoteEnded() }
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        if errorCode != HTTP2ErrorCode.noError.rawValue { countReset(session) }
        guard let userData else { return }
        let listed = Unmanaged<HTTP2ServerStream>.fromOpaque(userData)
        let wasListed = listed._withUnsafeGuaranteedRef { s -> Bool in
            guard s.onConnectionList else { return false }
            unlink(s)
            s.closed(errorCode: errorCode)
            return true
        }
        guard wasListed else { return }
        listed.release()  // the list's reference
        if firstStream == nil { idleSince = worker.loop.now }
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}

    /// One more reset stream: a client that resets faster than the bucket refills is flooding
    /// (RFC 9113 §10.5), and the connection gets GOAWAY(ENHANCE_YOUR_CALM).
    private func countReset(_ session: HTTP2Session) {
        let now = worker.loop.now
        resetTokens = min(1000, resetTokens + Double(now &- resetTokensAt) * 0.033)
        resetTokensAt = now
        resetTokens -= 1
        guard resetTokens < 0, resetTokens > -2 else { return }
        worker.counters.limitHit(.flood)
        worker.log("connection error: rapid reset flood (GOAWAY ENHANCE_YOUR_CALM)")
        session.terminate(errorCode: HTTP2ErrorCode.enhanceYourCalm.rawValue)
        terminatedWithError = true
        scheduleFlush()
    }

    func http2SettingsReceived(_ session: HTTP2Session) {}

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let source else { return .bytes(0, end: .endStream) }
        return Unmanaged<HTTP2ServerStream>.fromOpaque(source)._withUnsafeGuaranteedRef { $0.dataReady(maxLength: maxLength) }
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let source else { return }
        Unmanaged<HTTP2ServerStream>.fromOpaque(source)._withUnsafeGuaranteedRef { $0.writeData(into: into) }
    }
}

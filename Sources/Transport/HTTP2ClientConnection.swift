import Channel
import HTTP2
import TLS
import UVLoop

/// What an `HTTP2ClientConnection` reports to the object that carries streams on it (an
/// upstream connection, a load-generator connection). The owner is also its session's delegate:
/// stream events go to it directly, without passing through the connection. Loop-thread only.
public protocol HTTP2ClientConnectionOwner: HTTP2SessionDelegate {
    /// The connection never became ready: TCP connect failed or timed out, the TLS handshake
    /// failed (`reason` says why: unknown CA, expired, name mismatch, no `h2`), or the peer closed
    /// or sent no SETTINGS in time. The connection is closed.
    func clientConnectionFailed(_ connection: HTTP2ClientConnection, reason: String)
    /// A connection that was ready is closed: lost (`reason`), or closed on purpose once drained
    /// (`reason` nil). Streams still open on it are the owner's to fail.
    func clientConnectionClosed(_ connection: HTTP2ClientConnection, reason: String?)
    /// Whether streams are open: a draining connection closes once none is.
    var hasOpenStreams: Bool { get }
    /// At the start of every flush, before output is produced: what the owner submits here goes
    /// out in this flush.
    func clientConnectionWillFlush(_ connection: HTTP2ClientConnection)
}

extension HTTP2ClientConnectionOwner {
    public func clientConnectionWillFlush(_ connection: HTTP2ClientConnection) {}
}

/// The life of one HTTP/2 client connection, shared by every HTTP/2 client in Trestle:
/// connect → (TLS handshake) → the server's first SETTINGS → ready → draining → closed, with
/// one timeout (`connectTimeoutMs`) covering everything before ready, the produce → write loop
/// (`WritePump`, one write in flight; through TLS when `tls` is set, so that small frames share
/// records), and bytes read fed to the session (decrypted first). Streams are not its business:
/// the owner opens them on `session` and hears their events as the session's delegate.
///
/// One object per connection attempt: once closed it stays closed (a reconnect makes a new one).
/// The owner holds it; it holds the owner unowned. The session holds the owner (its delegate)
/// strongly until the connection closes and drops the session. Loop-thread only.
public final class HTTP2ClientConnection: TCPStreamDelegate, Flushable {
    public enum State: Sendable {
        /// TCP connect in progress.
        case connecting
        /// Connected: TLS handshake (if any), then prefaces and SETTINGS exchanged.
        case handshaking
        /// The server's first SETTINGS arrived: streams may open.
        case ready
        /// No new streams (GOAWAY, stream IDs used up, shutdown); open ones finish.
        case draining
        case closed
    }

    public struct Options {
        public var address: ResolvedAddress
        public var connectTimeoutMs: UInt64
        public var http2: HTTP2LocalSettings
        /// TLS to the server (ALPN `h2` required by the context); nil: h2c with prior knowledge.
        public var tls: TLSClientContext?
        /// SNI and the name checked against the server's certificate (see `TLSConnection`).
        public var serverName: String?
        /// Where the TLS session is cached for resumption on the next connection to this peer.
        public var sessionKey: String?
        /// Where the header blocks submitted on the session come from (it takes them without a
        /// copy and gives them back there once sent; see `HTTP2Session`), or nil: copied.
        public var headerPool: MetadataPool?

        public init(address: ResolvedAddress, connectTimeoutMs: UInt64, http2: HTTP2LocalSettings,
                    tls: TLSClientContext? = nil, serverName: String? = nil, sessionKey: String? = nil,
                    headerPool: MetadataPool? = nil) {
            self.headerPool = headerPool
            self.address = address
            self.connectTimeoutMs = connectTimeoutMs
            self.http2 = http2
            self.tls = tls
            self.serverName = serverName
            self.sessionKey = sessionKey
        }
    }

    unowned(unsafe) let owner: any HTTP2ClientConnectionOwner
    public let address: ResolvedAddress
    public private(set) var state = State.connecting
    /// nil once closed (which breaks the session → owner cycle).
    public private(set) var session: HTTP2Session?
    /// The TLS side, when the connection speaks TLS.
    public let tls: TLSConnection?
    /// What the TLS handshake settled (nil: cleartext, or not yet).
    public private(set) var handshake: TLSHandshake?
    /// Why TLS failed, when it did (the connection is closed then).
    public private(set) var tlsError: TLSError?
    private var tcp: TCPStream?
    private let pump = WritePump()
    private let loop: Loop
    private let flushQueue: FlushQueue
    private let connectTimeoutMs: UInt64
    private var timer: Timer?
    public var flushScheduled = false
    /// Inside the owner's `clientConnectionWillFlush`: what it schedules is written by this flush.
    private var flushing = false

    /// Creates the session (so the owner can ask it about stream IDs at once); `start` connects.
    /// `plaintextBuffer`: the thread's (required when `options.tls` is set).
    public init(owner: any HTTP2ClientConnectionOwner, loop: Loop, flushQueue: FlushQueue, options: Options,
                plaintextBuffer: TLSPlaintextBuffer? = nil) {
        self.owner = owner
        self.loop = loop
        self.flushQueue = flushQueue
        address = options.address
        connectTimeoutMs = options.connectTimeoutMs
        session = HTTP2Session(role: .client, delegate: owner, settings: options.http2, headerPool: options.headerPool)
        if let context = options.tls {
            let t = TLSConnection(client: context, serverName: options.serverName, sessionKey: options.sessionKey,
                                  plaintextBuffer: plaintextBuffer ?? TLSPlaintextBuffer())
            tls = t
            pump.recordLayer = t
        } else {
            tls = nil
        }
    }

    /// Starts connecting. Separate from `init` so that the owner holds the connection before any
    /// outcome (even an immediate failure, reported from inside this call) reaches it.
    public func start() {
        timer = Timer(loop: loop) { [unowned self] in self.timedOut() }
        timer?.start(timeoutMs: connectTimeoutMs)
        switch TCPStream.connect(loop: loop, to: address, delegate: self) {
        case let .success(stream): tcp = stream
        case let .failure(error): fail("connect to \(address) failed: \(error)")
        }
    }

    /// Not ready yet, not failed: it will take streams soon.
    public var isComingUp: Bool { state == .connecting || state == .handshaking }

    /// The owner's `http2SettingsReceived` calls this: true when the connection just became ready
    /// (the server's first SETTINGS).
    public func settingsReceived() -> Bool {
        guard state == .handshaking else { return false }
        stopTimer()
        state = .ready
        return true
    }

    /// No new streams from now on (GOAWAY received, stream IDs used up, shutdown); closes once
    /// the owner has no open stream. A connection still coming up is abandoned (reported failed).
    public func drain(reason: String = "shutting down") {
        if isComingUp {
            fail(reason)
        } else if state == .ready {
            state = .draining
            scheduleFlush()
        }
    }

    /// Stops taking streams without a flush (the owner calls it from inside a session callback).
    public func markDraining() {
        if state == .ready { state = .draining }
    }

    /// Closes now; the owner hears `clientConnectionClosed` (or `…Failed` while coming up).
    public func close(reason: String) { fail(reason) }

    /// Closes now without telling the owner (it is going away itself).
    public func abandon() {
        guard state != .closed else { return }
        tearDown()
        session = nil
    }

    @inline(__always)
    public func scheduleFlush() {
        if !flushing && !flushScheduled { flushQueue.schedule(self) }
    }

    public func flush() {
        guard let tcp, state != .connecting, state != .closed else { return }
        // What the owner submits here is written below: no second flush for it. A flush asked
        // for while producing is kept (a stream resumed inside nghttp2's callbacks may need it).
        flushing = true
        owner.clientConnectionWillFlush(self)
        flushing = false
        guard let session, state != .closed else { return }  // the owner may have closed it
        let (outcome, failure) = pump.pump(tcp, session: session)
        switch outcome {
        case .writing:
            return
        case .failed:
            fail("HTTP/2 error on the connection to \(address): \(failure!)")
            return
        case .drained:
            break
        }
        // Everything is written, a GOAWAY included: a session nghttp2 has ended (a protocol error
        // it detected) is closed now, not when the silent peer next sends something.
        if !session.wantsRead && !session.wantsWrite {
            fail("\(address) ended the HTTP/2 session (protocol error or GOAWAY)")
        } else if state == .draining && !owner.hasOpenStreams {
            closeQuietly()
        }
    }

    // MARK: TCP

    public func streamConnected(_ stream: TCPStream, error: UVError?) {
        guard state == .connecting else { return }
        if let error {
            fail("connect to \(address) failed: \(error)")
            return
        }
        // Our preface (and the ClientHello) now; streams wait for the server's SETTINGS.
        state = .handshaking
        stream.startReading()
        scheduleFlush()
    }

    public func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard let session else { return }
        guard let tls else {
            if let err = session.receive(bytes) {
                fail("HTTP/2 protocol error from \(address): \(err)")
                return
            }
            scheduleFlush()
            return
        }
        let events = tls.receive(bytes)
        if let h = events.handshake { handshake = h }
        if events.plaintext.count > 0, let err = session.receive(events.plaintext) {
            fail("HTTP/2 protocol error from \(address): \(err)")
            return
        }
        if let error = events.error {
            tlsError = error
            sendAlert()
            fail(tls.handshake == nil
                 ? "TLS handshake with \(address) failed: \(error.message)"
                 : "TLS error on the connection to \(address): \(error.message)")
            return
        }
        if events.closed {
            fail(isComingUp ? "\(address) closed the TLS connection during the handshake"
                            : "\(address) closed the TLS connection (close_notify)")
            return
        }
        scheduleFlush()
    }

    public func streamEnded(_ stream: TCPStream, error: UVError?) {
        if isComingUp {
            let during = tls != nil && handshake == nil ? "TLS handshake" : "HTTP/2 handshake"
            // TLS 1.3: the client's handshake ends before the server has checked the client's
            // certificate; a server that wants one and got none may just close, without an alert.
            let hint = tls != nil && handshake != nil && tls?.clientContext?.hasClientCertificate == false
                ? " right after the TLS handshake (does it require a client certificate? none is configured)" : ""
            fail(error.map { "connection to \(address) lost during the \(during)\(hint): \($0)" }
                 ?? "\(address) closed the connection during the \(during)\(hint)")
        } else {
            fail(error.map { "connection to \(address) lost: \($0)" } ?? "\(address) closed the connection")
        }
    }

    public func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if let error {
            fail("write to \(address) failed: \(error)")
            return
        }
        flush()
    }

    // MARK: ending

    private func timedOut() {
        guard isComingUp else { return }
        let what: String
        if state == .connecting {
            what = "connect to \(address) timed out after \(connectTimeoutMs)ms"
        } else if tls != nil && handshake == nil {
            what = "TLS handshake with \(address) did not complete within the connect timeout (\(connectTimeoutMs)ms)"
        } else {
            what = "\(address) sent no HTTP/2 SETTINGS within the connect timeout (\(connectTimeoutMs)ms)"
        }
        fail(what)
    }

    /// A failed TLS connection holds an alert for the peer: one try to send it (never waited for).
    private func sendAlert() {
        guard let tcp, let tls, !tcp.writeInFlight else { return }
        let bytes = tls.produce()
        if bytes.count > 0 { tcp.write(bytes) }
    }

    private func fail(_ reason: String) {
        guard state != .closed else { return }
        let wasUp = !isComingUp
        tearDown()
        // The owner usually lets go of this connection in its callback: keep it until the end.
        withExtendedLifetime(self) {
            if wasUp {
                owner.clientConnectionClosed(self, reason: reason)
            } else {
                owner.clientConnectionFailed(self, reason: reason)
            }
            session = nil  // after the owner has failed its streams: breaks the session → owner cycle
        }
    }

    private func closeQuietly() {
        guard state != .closed else { return }
        tearDown()
        withExtendedLifetime(self) {
            owner.clientConnectionClosed(self, reason: nil)
            session = nil
        }
    }

    private func stopTimer() {
        timer?.close()
        timer = nil
    }

    private func tearDown() {
        stopTimer()
        state = .closed
        tcp?.close()
        tcp = nil
        pump.discard()
    }
}

import Channel
import HTTP2
import Transport
import UVLoop

/// One multiplexed HTTP/2 connection to one endpoint (h2c with prior knowledge, or TLS with
/// ALPN `h2` when the cluster has `tls`), owned by its endpoint pool on one worker. Its life —
/// connect, TLS handshake, the server's first SETTINGS, ready, draining — is the shared
/// `HTTP2ClientConnection`'s; this type carries the streams: it owns them (nghttp2 gets
/// unretained pointers) and fails them all with UNAVAILABLE if the connection is lost. A TLS
/// handshake failure is a connect failure whose reason (unknown CA, expired, name mismatch, no
/// `h2`) reaches the calls waiting for it as their UNAVAILABLE message.
final class UpstreamConnection: HTTP2ClientConnectionOwner {
    /// connecting: TCP connect in progress. handshaking: connected, TLS and prefaces exchanged
    /// until the server's first SETTINGS (`connect_timeout` covers all). ready: takes new
    /// streams. draining: GOAWAY received, stream IDs used up, or shutdown — streams in flight finish.
    typealias State = HTTP2ClientConnection.State

    unowned(unsafe) let pool: EndpointPool
    /// `pool`, unmanaged, for the per-stream path (an `unowned(unsafe)` reference is retained
    /// and released at every use).
    private let poolRef: Unmanaged<EndpointPool>
    /// The worker's counters (a `let`: reached through the pool, every stream's count would
    /// retain and release them).
    let counters: CallCounters
    /// The connection's life (TCP, TLS, SETTINGS); set once in `init`.
    private var link: HTTP2ClientConnection!
    /// `link` and its session, unmanaged (valid while `link` holds them; `sessionRef` is cleared
    /// when the connection closes), for the per-call paths: loading the optionals would retain
    /// and release them each time.
    private var linkRef: Unmanaged<HTTP2ClientConnection>!
    private var sessionRef: Unmanaged<HTTP2Session>?
    var state: State { linkRef._withUnsafeGuaranteedRef { $0.state } }
    /// The session streams are opened on; nil once the connection is closed.
    var session: HTTP2Session! { link.session }
    /// The cluster's `max_streams_per_connection` (read on every call's pick).
    private let maxStreams: Int
    /// The open streams, as an intrusive list through `UpstreamAttempt.nextOnConnection`; the
    /// list owns one reference to each (`link`, `unlink`).
    private var firstStream: Unmanaged<UpstreamAttempt>?
    private(set) var streamCount = 0
    let address: ResolvedAddress
    /// `address` as text (messages, the access log), made once.
    lazy var addressText = "\(address)"
    /// Counted in the upstream-connections gauge (from SETTINGS to close).
    private var counted = false

    init(pool: EndpointPool, address: ResolvedAddress) {
        self.pool = pool
        poolRef = Unmanaged.passUnretained(pool)
        self.address = address
        counters = pool.cluster.counters
        let settings = pool.cluster.settings
        maxStreams = settings.maxStreamsPerConnection
        var options = HTTP2ClientConnection.Options(address: address, connectTimeoutMs: settings.connectTimeoutMs,
                                                    http2: settings.http2, headerPool: pool.cluster.headerPool)
        if let tls = settings.tls {
            let name = settings.tlsServerName ?? pool.host
            options.tls = tls.current  // read once per connection: a reload reaches the next one
            options.serverName = name
            options.sessionKey = "\(name)|\(address)"
        }
        link = HTTP2ClientConnection(owner: self, loop: pool.cluster.loop, flushQueue: pool.cluster.flushQueue,
                                     options: options, plaintextBuffer: pool.cluster.plaintextBuffer)
        linkRef = Unmanaged.passUnretained(link)
        sessionRef = link.session.map { Unmanaged.passUnretained($0) }
    }

    /// Starts connecting. Separate from `init` so that the pool holds the connection before any
    /// outcome (even an immediate failure) is reported to it.
    func start() { link.start() }

    /// Connections still coming up (they will take streams soon).
    var isComingUp: Bool { linkRef._withUnsafeGuaranteedRef { $0.isComingUp } }

    /// Streams this connection may still open (for one coming up: what it will have).
    var room: Int {
        guard state == .ready || isComingUp, let ref = sessionRef else { return 0 }
        return ref._withUnsafeGuaranteedRef { session in
            guard session.nextStreamIDAvailable else { return 0 }
            return max(0, min(Int(session.remoteMaxConcurrentStreams), maxStreams) - streamCount)
        }
    }

    /// Opens a stream for `call`. Precondition: room > 0 and state == .ready.
    func open(_ call: UpstreamAttempt) {
        let owner = call.owner
        let source = Unmanaged.passUnretained(call).toOpaque()
        let headers = owner.attemptRequestHead(call)
        let endStream = !owner.attemptRequestHasBody(call)
        let id = sessionRef.unsafelyUnwrapped._withUnsafeGuaranteedRef { session in
            headers._withUnsafeGuaranteedRef { session.submitRequest($0, source: source, endStream: endStream) }
        }
        if id <= 0 {
            call.fail(.unavailable, "upstream \(address): cannot open a stream (nghttp2 error \(id))")
            return
        }
        call.streamID = id
        call.attach(Unmanaged.passUnretained(self), session: sessionRef.unsafelyUnwrapped)
        link(call)
        if !sessionRef.unsafelyUnwrapped._withUnsafeGuaranteedRef({ $0.nextStreamIDAvailable }) {
            // Stream IDs are used up (2^30 streams): retire the connection; the pool opens another.
            link.markDraining()
        }
        scheduleFlush()
    }

    @inline(__always)
    func scheduleFlush() {
        linkRef._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    private func link(_ s: UpstreamAttempt) {
        let listed = Unmanaged.passRetained(s)  // the list's reference, released by whoever unlinks it
        s.nextOnConnection = firstStream
        firstStream?._withUnsafeGuaranteedRef { $0.prevOnConnection = listed }
        s.prevOnConnection = nil
        s.onConnectionList = true
        firstStream = listed
        streamCount += 1
        counters.add(counters.upstreamStreams, 1)
    }

    /// Takes `s` off the list; the list's reference to it is the caller's to release.
    /// Precondition: it is on the list.
    private func unlink(_ s: UpstreamAttempt) {
        s.onConnectionList = false
        let next = s.nextOnConnection, prev = s.prevOnConnection
        if let prev { prev._withUnsafeGuaranteedRef { $0.nextOnConnection = next } } else { firstStream = next }
        next?._withUnsafeGuaranteedRef { $0.prevOnConnection = prev }
        s.nextOnConnection = nil
        s.prevOnConnection = nil
        streamCount -= 1
        counters.add(counters.upstreamStreams, -1)
    }

    // MARK: the connection's life

    var hasOpenStreams: Bool { streamCount > 0 }

    func clientConnectionFailed(_ connection: HTTP2ClientConnection, reason: String) {
        sessionRef = nil  // the connection drops its session after this
        pool.cluster.counters.add(pool.cluster.counters.upstreamConnectFailures)
        if connection.tlsError != nil { pool.cluster.counters.add(pool.cluster.counters.upstreamTLSHandshakeFailures) }
        pool.connectionFailed(self, reason: reason)
    }

    /// The connection is gone: every stream on it ends with UNAVAILABLE.
    func clientConnectionClosed(_ connection: HTTP2ClientConnection, reason: String?) {
        sessionRef = nil  // the connection drops its session after this
        if counted { pool.cluster.counters.add(pool.cluster.counters.upstreamConnections, -1) }
        counted = false
        let why = reason.map { "upstream \($0)" } ?? "upstream connection to \(address) closed by the gateway"
        while let first = firstStream {
            let call = first.takeUnretainedValue()
            unlink(call)
            call.detach()
            call.fail(.unavailable, why)
            first.release()  // the list's reference
        }
        pool.connectionClosed(self)
    }

    /// Closes when idle (draining) or at shutdown.
    func close() {
        link.close(reason: "connection to \(address) closed by the gateway")
    }

    /// No new streams; in-flight ones finish. A connection still coming up is abandoned.
    func drain() {
        link.drain(reason: "gateway shutting down")
    }

    // MARK: HTTP/2 events

    @inline(__always)
    private func call(_ userData: UnsafeMutableRawPointer?) -> UpstreamAttempt? {
        guard let userData else { return nil }
        let c = Unmanaged<UpstreamAttempt>.fromOpaque(userData).takeUnretainedValue()
        return c.isDone ? nil : c
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {}

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let userData else { return }
        // The attempt is held by this connection's list while nghttp2 knows its stream.
        Unmanaged<UpstreamAttempt>.fromOpaque(userData)._withUnsafeGuaranteedRef {
            if !$0.isDone { $0.receiveField(name: name, value: value) }
        }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let userData else { return }
        // The attempt is held by this connection's list while nghttp2 knows its stream.
        Unmanaged<UpstreamAttempt>.fromOpaque(userData)._withUnsafeGuaranteedRef { c in
            if !c.isDone { c.receiveHeadersComplete(endStream: endStream) }
        }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        guard let userData else {
            session.consume(streamID: streamID, bytes.count)
            return
        }
        Unmanaged<UpstreamAttempt>.fromOpaque(userData)._withUnsafeGuaranteedRef { c in
            if c.isDone {
                session.consume(streamID: streamID, bytes.count)
                return
            }
            c.unconsumedResponse += bytes.count
            c.owner.attemptData(c, bytes)
        }
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let c = call(userData) else { return }
        c.owner.attemptEndedWithoutTrailers(c)
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        guard let userData else { return }
        let listed = Unmanaged<UpstreamAttempt>.fromOpaque(userData)
        let wasListed = listed._withUnsafeGuaranteedRef { c -> Bool in
            guard c.onConnectionList else { return false }
            unlink(c)
            // Bytes never taken still count against the connection window (docs/ARCHITECTURE.md §9).
            session.consumeConnection(c.unconsumedResponse)
            c.unconsumedResponse = 0
            c.detach()
            if !c.isDone {
                // A reset (not a plain close after the response): keep where it was, for the access log.
                if errorCode != 0 { c.closedEndpoint = addressText }
                c.isDone = true
                if errorCode != 0 { counters.add(counters.upstreamResetsReceived) }
                c.owner.attemptReset(c, errorCode: errorCode)
            }
            return true
        }
        guard wasListed else { return }
        listed.release()  // the list's reference
        poolRef._withUnsafeGuaranteedRef { $0.streamClosed(on: self) }
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {
        link.markDraining()
        pool.connectionDraining(self)
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        if link.settingsReceived() {
            counted = true
            pool.cluster.counters.add(pool.cluster.counters.upstreamConnections, 1)
            if link.handshake?.resumed == true { pool.cluster.counters.add(pool.cluster.counters.upstreamTLSResumed) }
        }
        pool.connectionReady(self)
    }

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let source else { return .bytes(0, end: .endStream) }
        return Unmanaged<UpstreamAttempt>.fromOpaque(source)._withUnsafeGuaranteedRef { c in
            guard !c.isDone else { return .bytes(0, end: .endStream) }
            guard let ready = c.owner.attemptRequestReady(c, maxLength: maxLength) else { return .deferred }
            return .bytes(ready.count, end: ready.end ? .endStream : .none)
        }
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let source else { return }
        Unmanaged<UpstreamAttempt>.fromOpaque(source)._withUnsafeGuaranteedRef { c in
            c.owner.attemptWriteRequest(c, into: into)
        }
    }
}

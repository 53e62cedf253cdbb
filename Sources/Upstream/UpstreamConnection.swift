import Channel
import HTTP2
import UVLoop

/// One multiplexed HTTP/2 (h2c, prior knowledge) connection to one endpoint, owned by its
/// endpoint pool on one worker. It owns the streams it carries (nghttp2 gets unretained
/// pointers) and fails them all with UNAVAILABLE if the connection is lost.
final class UpstreamConnection: HTTP2SessionDelegate, TCPStreamDelegate, Flushable {
    /// connecting: TCP connect in progress. handshaking: connected, prefaces exchanged until the
    /// server's first SETTINGS (`connect_timeout` covers both). ready: takes new streams.
    /// draining: GOAWAY received, stream IDs used up, or shutdown — streams in flight finish.
    enum State { case connecting, handshaking, ready, draining, closed }

    unowned(unsafe) let pool: EndpointPool
    private(set) var state = State.connecting
    var session: HTTP2Session! {
        didSet { sessionRef = session.map { Unmanaged.passUnretained($0) } }
    }
    /// `session`, unmanaged (valid while `session` holds it), for the per-call paths: loading the
    /// optional would retain and release it each time.
    private var sessionRef: Unmanaged<HTTP2Session>?
    /// The cluster's `max_streams_per_connection` (read on every call's pick).
    private let maxStreams: Int
    private var tcp: TCPStream?
    private var connectTimer: Timer?
    /// The open streams, as an intrusive list through `UpstreamAttempt.nextOnConnection`; the
    /// list owns one reference to each (`link`, `unlink`).
    private var firstStream: Unmanaged<UpstreamAttempt>?
    private(set) var streamCount = 0
    private let pump = WritePump()
    var flushScheduled = false
    let address: ResolvedAddress
    /// The worker's flush queue (held here: scheduling a flush is on every event's path).
    private let flushQueue: FlushQueue
    /// Counted in the upstream-connections gauge (from SETTINGS to close).
    private var counted = false

    init(pool: EndpointPool, address: ResolvedAddress) {
        self.pool = pool
        self.address = address
        flushQueue = pool.cluster.flushQueue
        maxStreams = pool.cluster.settings.maxStreamsPerConnection
        session = HTTP2Session(role: .client, delegate: self, settings: pool.cluster.settings.http2)
        sessionRef = Unmanaged.passUnretained(session)  // didSet does not run in init
    }

    /// Starts connecting. Separate from `init` so that the pool holds the connection before any
    /// outcome (even an immediate failure) is reported to it.
    func start() {
        let timeout = pool.cluster.settings.connectTimeoutMs
        connectTimer = Timer(loop: pool.cluster.loop) { [unowned self] in
            self.connectFailed(self.state == .handshaking
                ? "upstream \(self.address) sent no HTTP/2 SETTINGS within the connect timeout (\(timeout)ms)"
                : "connect timeout after \(timeout)ms")
        }
        connectTimer?.start(timeoutMs: timeout)
        switch TCPStream.connect(loop: pool.cluster.loop, to: address, delegate: self) {
        case let .success(stream): tcp = stream
        case let .failure(error): connectFailed("connect to \(address) failed: \(error)")
        }
    }

    /// Connections still coming up (they will take streams soon).
    var isComingUp: Bool { state == .connecting || state == .handshaking }

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
        let id = sessionRef.unsafelyUnwrapped._withUnsafeGuaranteedRef {
            $0.submitRequest(headers, source: source, endStream: endStream)
        }
        if id <= 0 {
            call.fail(.unavailable, "upstream \(address): cannot open a stream (nghttp2 error \(id))")
            return
        }
        call.streamID = id
        call.connection = self
        link(call)
        if !sessionRef.unsafelyUnwrapped._withUnsafeGuaranteedRef({ $0.nextStreamIDAvailable }) {
            // Stream IDs are used up (2^30 streams): retire the connection; the pool opens another.
            state = .draining
        }
        scheduleFlush()
    }

    func scheduleFlush() {
        flushQueue.schedule(self)
    }

    private func link(_ s: UpstreamAttempt) {
        let listed = Unmanaged.passRetained(s)  // the list's reference, released by whoever unlinks it
        s.nextOnConnection = firstStream
        firstStream?._withUnsafeGuaranteedRef { $0.prevOnConnection = listed }
        s.prevOnConnection = nil
        s.onConnectionList = true
        firstStream = listed
        streamCount += 1
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
    }

    // MARK: TCP

    func streamConnected(_ stream: TCPStream, error: UVError?) {
        guard state == .connecting else { return }
        if let error {
            connectFailed("connect to \(address) failed: \(error)")
            return
        }
        // Send our preface now; streams wait for the server's SETTINGS (http2SettingsReceived).
        state = .handshaking
        stream.startReading()
        scheduleFlush()
    }

    private func connectFailed(_ reason: String) {
        guard isComingUp else { return }
        connectTimer?.close()
        connectTimer = nil
        state = .closed
        tcp?.close()
        tcp = nil
        session = nil  // breaks the session -> delegate cycle
        pool.cluster.counters.add(pool.cluster.counters.upstreamConnectFailures)
        pool.connectionFailed(self, reason: reason)
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        if let err = session.receive(bytes) {
            lost("upstream \(address) protocol error: \(err)")
            return
        }
        scheduleFlush()
    }

    /// nghttp2 has ended the session (a protocol error it detected: it sent GOAWAY and ignores
    /// all further input) once it wants neither to read nor to write.
    private var sessionFinished: Bool { !session.wantsRead && !session.wantsWrite }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        if isComingUp {
            connectFailed("upstream \(address) closed the connection during the HTTP/2 handshake")
            return
        }
        lost(error.map { "upstream connection to \(address) lost: \($0)" }
             ?? "upstream \(address) closed the connection")
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if let error {
            lost("upstream connection to \(address) lost: \(error)")
            return
        }
        flush()
    }

    func flush() {
        guard let tcp, state != .closed, state != .connecting else { return }
        let (outcome, failure) = pump.pump(tcp, session: session)
        switch outcome {
        case .writing:
            return
        case .failed:
            lost("upstream \(address): \(failure!)")
            return
        case .drained:
            break
        }
        // Everything is written, its GOAWAY included: a session nghttp2 has ended is closed now,
        // not when the (silent) peer next sends something.
        if sessionFinished {
            lost("upstream \(address) ended the HTTP/2 session (protocol error or GOAWAY)")
        } else if state == .draining && streamCount == 0 {
            close()
        }
    }

    /// The connection is gone: every stream on it ends with UNAVAILABLE.
    private func lost(_ reason: String) {
        guard state != .closed else { return }
        if isComingUp {
            connectFailed(reason)
            return
        }
        if counted { pool.cluster.counters.add(pool.cluster.counters.upstreamConnections, -1) }
        state = .closed
        tcp?.close()
        tcp = nil
        while let first = firstStream {
            let call = first.takeUnretainedValue()
            unlink(call)
            call.connection = nil
            call.fail(.unavailable, reason)
            first.release()  // the list's reference
        }
        session = nil  // breaks the session -> delegate cycle; the streams are released above
        pool.connectionClosed(self)
    }

    /// Closes when idle (draining) or at shutdown.
    func close() {
        lost("upstream connection to \(address) closed by the gateway")
    }

    /// No new streams; in-flight ones finish. A connection still coming up is abandoned.
    func drain() {
        if isComingUp {
            connectFailed("gateway shutting down")
        } else if state == .ready {
            state = .draining
            scheduleFlush()
        }
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
            c.connection = nil
            if !c.isDone {
                c.isDone = true
                c.owner.attemptReset(c, errorCode: errorCode)
            }
            return true
        }
        guard wasListed else { return }
        listed.release()  // the list's reference
        pool.streamClosed(on: self)
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {
        if state == .ready { state = .draining }
        pool.connectionDraining(self)
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        if state == .handshaking {
            connectTimer?.close()
            connectTimer = nil
            state = .ready
            counted = true
            pool.cluster.counters.add(pool.cluster.counters.upstreamConnections, 1)
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

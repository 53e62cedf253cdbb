import Channel
import HTTP2

/// What an upstream attempt needs from the call that owns it, and the events it reports.
/// Implemented by the gateway's `Call`. Every method runs on the worker's loop thread, inside the
/// upstream connection's HTTP/2 callbacks (or the pool's decisions): submit, never re-enter.
public protocol UpstreamAttemptOwner: AnyObject {
    /// The request head to send; asked once, when the stream is being opened. Unmanaged: the
    /// owner holds the block (and gives it back to the pool once the session has sent it).
    func attemptRequestHead(_ attempt: UpstreamAttempt) -> Unmanaged<Metadata>
    /// Whether the request has a body (false: HEADERS ends the stream).
    func attemptRequestHasBody(_ attempt: UpstreamAttempt) -> Bool
    /// How many request bytes are ready (at most `maxLength`) and whether they end the request;
    /// nil: none yet (ask again after `resumeRequest`).
    func attemptRequestReady(_ attempt: UpstreamAttempt, maxLength: Int) -> (count: Int, end: Bool)?
    /// Fill `into` with exactly the bytes announced by the last `attemptRequestReady`.
    func attemptWriteRequest(_ attempt: UpstreamAttempt, into: UnsafeMutableRawBufferPointer)
    /// A header block arrived whole: the response head (`isTrailer` false; `endStream`: a
    /// trailers-only response) or the trailers, as the upstream sent them (pseudo-headers first).
    /// The owner takes the block (back to the pool when it is done with it).
    func attemptHeaders(_ attempt: UpstreamAttempt, _ fields: Metadata, isTrailer: Bool, endStream: Bool)
    /// Response DATA bytes, a view valid during the call. Give the window back with `consumeResponse`.
    func attemptData(_ attempt: UpstreamAttempt, _ bytes: UnsafeRawBufferPointer)
    /// The upstream ended its side with DATA (no trailers): a protocol error for gRPC.
    func attemptEndedWithoutTrailers(_ attempt: UpstreamAttempt)
    /// The stream closed before the response ended; `errorCode` is the RST_STREAM code (0: plain close).
    func attemptReset(_ attempt: UpstreamAttempt, errorCode: UInt32)
    /// No stream could be opened, or the connection was lost: the attempt is over.
    func attemptFailed(_ attempt: UpstreamAttempt, status: GRPCStatusCode, message: String)
}

/// One try of a call on one upstream stream (Envoy's `UpstreamRequest`). The call holds its
/// current attempt and may abandon it (`cancel`) and start another on another connection or
/// endpoint; the attempt never outlives its usefulness to the call: once cancelled or ended it
/// reports nothing more.
///
/// Lifetime: held by the call, and by the upstream connection while its stream is open (nghttp2
/// gets an unretained pointer as stream user data). It holds its owner (a `let`, so that events
/// need no reference counting): the owner drops its attempt when the call ends, and the
/// connection drops it when the stream closes, which ends the cycle. Loop-thread only.
public final class UpstreamAttempt {
    public let owner: any UpstreamAttemptOwner
    /// Where response header blocks come from: the worker's pool, unmanaged (the worker holds
    /// it, and outlives its upstream connections and their attempts).
    let poolRef: Unmanaged<MetadataPool>
    /// The header block being received (response head, then trailers); held +1 by hand so
    /// that appending to it, once per field, costs no reference counting.
    private var receiving: Unmanaged<Metadata>?
    /// The header block being received, counted (an upstream's HPACK bomb is bounded too).
    private var receivingLimit: HeaderListLimit
    /// The HTTP/2 stream on the upstream connection; 0 until attached.
    public internal(set) var streamID: Int32 = 0
    /// The connection carrying the stream, nil before `attach` and after `detach` (a connection
    /// detaches every stream it carries before it goes away).
    var connection: UpstreamConnection? { attached?.connection.takeUnretainedValue() }
    /// The connection and its session, unmanaged (valid while attached: a connection detaches
    /// its streams before it drops its session), for the per-call paths without reference counting.
    private var attached: (connection: Unmanaged<UpstreamConnection>, session: Unmanaged<HTTP2Session>)?

    /// The stream is on connection `c` (whose session is `session`).
    @inline(__always)
    func attach(_ c: Unmanaged<UpstreamConnection>, session: Unmanaged<HTTP2Session>) {
        attached = (c, session)
    }

    func detach() {
        attached = nil
    }
    /// Links in the carrying connection's list of open streams (intrusive and unmanaged: the
    /// list owns one reference to each attempt on it, taken in `link` and given back by whoever
    /// unlinks it, so that linking costs no reference counting).
    var nextOnConnection: Unmanaged<UpstreamAttempt>?
    var prevOnConnection: Unmanaged<UpstreamAttempt>?
    var onConnectionList = false
    /// Set while the attempt waits in an endpoint's queue for room on a connection.
    var waitingIn: EndpointPool?
    /// Response bytes received and not yet given back with `consumeResponse`.
    var unconsumedResponse = 0
    /// True once the attempt is over (closed, failed or cancelled): no more events.
    public internal(set) var isDone = false
    /// Response HEADERS have arrived (later header fields are trailers).
    public internal(set) var responseHeadReceived = false
    /// The endpoint it went to (`host:port`: messages, the access log), once attached.
    public var endpointName: String? { connection?.addressText ?? closedEndpoint }
    /// Where the stream was, once it closed (kept only when the owner hears of the close).
    var closedEndpoint: String?

    public init(owner: borrowing any UpstreamAttemptOwner, pool: borrowing MetadataPool,
                headerLimit: HeaderListLimit = HeaderListLimit()) {
        self.owner = copy owner
        poolRef = Unmanaged.passUnretained(pool)
        receivingLimit = headerLimit
    }

    deinit {
        if let receiving { poolRef._withUnsafeGuaranteedRef { $0.give(receiving.takeRetainedValue()) } }
    }

    /// Ends the attempt from the pool's or connection's side, reporting a failure to the owner.
    func fail(_ status: GRPCStatusCode, _ message: String) {
        guard !isDone else { return }
        isDone = true
        owner.attemptFailed(self, status: status, message: message)
    }

    /// One field of the header block being received.
    @inline(__always)
    func receiveField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard receivingLimit.admit(nameCount: name.count, valueCount: value.count) else { return }
        if receiving == nil { receiving = Unmanaged.passRetained(poolRef._withUnsafeGuaranteedRef { $0.take() }) }
        receiving.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.append(name: name, value: value) }
    }

    /// The header block is complete: the owner takes it.
    func receiveHeadersComplete(endStream: Bool) {
        if receivingLimit.isExceeded {
            let what = receivingLimit.description
            if let r = receiving { poolRef._withUnsafeGuaranteedRef { $0.give(r.takeRetainedValue()) } }
            receiving = nil
            fail(.internalError, "upstream response headers too large: \(what)")
            if let c = connection, streamID > 0 {
                c.session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel.rawValue)
                c.scheduleFlush()
            }
            return
        }
        receivingLimit.reset()
        let isTrailer = responseHeadReceived
        responseHeadReceived = true
        let fields = receiving?.takeRetainedValue() ?? poolRef._withUnsafeGuaranteedRef { $0.take() }
        receiving = nil
        owner.attemptHeaders(self, fields, isTrailer: isTrailer, endStream: endStream)
    }

    // MARK: control, called by the owner

    /// More request bytes (or the request's end) are ready.
    public func resumeRequest() {
        guard let a = attached, streamID > 0, !isDone else { return }
        a.session._withUnsafeGuaranteedRef { $0.resumeData(streamID: streamID) }
        a.connection._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    /// The client took `count` response bytes: open the upstream window for them.
    public func consumeResponse(_ count: Int) {
        unconsumedResponse -= count
        guard let a = attached, streamID > 0 else { return }
        a.session._withUnsafeGuaranteedRef { $0.consume(streamID: streamID, count) }
        a.connection._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    /// Raises the stream's receive window to `size` bytes (from the pool's initial window), once
    /// the response head is in: the call's client side decides how much its connection may hold.
    public func growResponseWindow(to size: Int32) {
        guard let a = attached, streamID > 0, !isDone else { return }
        a.session._withUnsafeGuaranteedRef { $0.setStreamWindow(streamID: streamID, size) }
        a.connection._withUnsafeGuaranteedRef { $0.scheduleFlush() }
    }

    /// Abandons the attempt: RST_STREAM(CANCEL) if its stream is open, out of the queue if it is
    /// waiting. Nothing more is reported to the owner.
    public func cancel() {
        guard !isDone else { return }
        isDone = true
        if let w = waitingIn {
            w.removeWaiting(self)
        } else if let c = connection, streamID > 0 {
            c.session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel.rawValue)
            c.counters.add(c.counters.upstreamResetsSent)
            c.scheduleFlush()
        }
    }
}

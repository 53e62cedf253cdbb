import Channel
import HTTP2

/// The upstream half of one call. The gateway's call object subclasses it and overrides the
/// `upstream…` events; the pool attaches it to a connection and stream, or fails it.
///
/// Lifetime: while attached, the connection holds it (strong) and nghttp2 holds an unretained
/// pointer as stream user data; both end when the stream closes or the connection is torn down.
/// All on the worker's loop thread.
open class UpstreamStream {
    /// The HTTP/2 stream on the upstream connection; 0 until attached.
    public internal(set) var upstreamStreamID: Int32 = 0
    /// Unowned: a connection clears this on every stream it carries before it goes away.
    unowned(unsafe) var connection: UpstreamConnection?
    /// Links in the carrying connection's list of open streams (intrusive: no table entry and
    /// no hashing per stream). The connection's list holds the strong references.
    var nextOnConnection: UpstreamStream?
    unowned(unsafe) var prevOnConnection: UpstreamStream?
    var onConnectionList = false
    /// Set while the call waits in an endpoint's queue for room on a connection.
    var waitingIn: EndpointPool?
    /// Response bytes received and not yet given back with `consumeResponse`.
    var unconsumedResponse = 0
    /// True once the upstream side is over (closed, failed or cancelled): no more events.
    public internal(set) var upstreamDone = false
    /// Response HEADERS have arrived (later header fields are trailers).
    public internal(set) var responseHeadersReceived = false

    public init() {}

    // MARK: events, overridden by the gateway

    /// The request header block to send; called once, when the stream is being opened.
    open func upstreamRequestHeaders() -> HTTP2Headers { HTTP2Headers() }
    /// Whether the request has a body (false: HEADERS ends the stream).
    open func upstreamRequestHasBody() -> Bool { true }
    /// One response header or trailer field (see `responseHeadersReceived`).
    open func upstreamHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {}
    open func upstreamHeadersComplete(kind: HTTP2HeadersKind, endStream: Bool) {}
    open func upstreamData(_ bytes: UnsafeRawBufferPointer) {}
    /// The upstream ended its side with DATA (no trailers).
    open func upstreamRemoteEnded() {}
    /// The stream closed; errorCode is the RST_STREAM code, 0 after a normal end.
    open func upstreamClosed(errorCode: UInt32) {}
    /// No stream could be opened, or the connection was lost: the upstream side is over.
    open func upstreamFailed(status: GRPCStatusCode, message: String) {}
    open func upstreamDataReady(maxLength: Int) -> HTTP2DataReady { .deferred }
    open func upstreamWriteData(into: UnsafeMutableRawBufferPointer) {}

    // MARK: control, called by the gateway

    /// More request bytes (or the request's end) are ready.
    public final func resumeRequest() {
        guard let c = connection, upstreamStreamID > 0 else { return }
        c.session.resumeData(streamID: upstreamStreamID)
        c.scheduleFlush()
    }

    /// The client took `count` response bytes: open the upstream window for them.
    public final func consumeResponse(_ count: Int) {
        unconsumedResponse -= count
        guard let c = connection, upstreamStreamID > 0 else { return }
        c.session.consume(streamID: upstreamStreamID, count)
        c.scheduleFlush()
    }

    /// Abandons the upstream side: RST_STREAM(CANCEL) if open, out of the queue if waiting.
    /// No further events are delivered.
    public final func cancelUpstream() {
        guard !upstreamDone else { return }
        upstreamDone = true
        if let w = waitingIn {
            w.removeWaiting(self)
        } else if let c = connection, upstreamStreamID > 0 {
            c.session.resetStream(streamID: upstreamStreamID, errorCode: 8 /* CANCEL */)
            c.scheduleFlush()
        }
    }
}

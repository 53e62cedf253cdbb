/// One concurrent call position on a connection (an HTTP/2 stream at a time, or the one call of
/// an HTTP/1.1 connection), reused for every call made there: a call costs no allocation.
/// Owned by its connection; loop-thread only.
final class CallSlot {
    unowned(unsafe) let connection: any LoadConnection
    let reader: ResponseReader
    unowned(unsafe) let body: RequestBody

    /// A call is in flight on this slot.
    var active = false
    /// The slot is on the worker's free list (open loop).
    var onFreeList = false
    /// Started after the warm-up: its result is recorded.
    var measured = false
    /// When the call started, in monotonic ns: in open loop the time it was meant to start.
    var startNs: UInt64 = 0
    /// HTTP/2 stream of the call in flight.
    var streamID: Int32 = 0
    /// The response header block is complete: further fields are trailers.
    var headersDone = false
    /// Request body bytes handed to the connection so far.
    var bytesSent = 0
    var bytesReceived = 0
    var messagesReceived = 0
    /// Ping-pong: when the request message now awaiting its response was released.
    var pingSentNs: UInt64 = 0

    init(connection: any LoadConnection, reader: ResponseReader, body: RequestBody) {
        self.connection = connection
        self.reader = reader
        self.body = body
    }

    /// Clears the per-call state; the worker then sets `startNs` and `measured`.
    @inline(__always)
    func reset() {
        reader.reset()
        streamID = 0
        headersDone = false
        bytesSent = 0
        bytesReceived = 0
        messagesReceived = 0
    }

    /// Request bytes that may be sent now: everything, or in ping-pong one message more than
    /// responses received.
    @inline(__always)
    var requestBytesAvailable: Int {
        let allowed = body.pingPong ? min(body.messages, messagesReceived + 1) * body.messageLength : body.totalLength
        return max(0, allowed - bytesSent)
    }

    var requestComplete: Bool { bytesSent >= body.totalLength }

    /// Response body bytes arrived (valid during the call): counted and read. True when they
    /// completed a ping-pong round trip, recorded with `worker`: the next request message may go.
    @inline(__always)
    func bodyReceived(_ bytes: UnsafeRawBufferPointer, worker: LoadWorker) -> Bool {
        bytesReceived += bytes.count
        let done = reader.body(bytes)
        guard done > 0 else { return false }
        messagesReceived += done
        guard body.pingPong else { return false }
        worker.roundTrip(self)
        return true
    }

    var messagesSent: Int { bytesSent / body.messageLength }
}

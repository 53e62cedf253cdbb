import Channel
import HTTP2
import UVLoop

/// One call on the demo service, owned by its connection's `streams` table from the request's
/// HEADERS until nghttp2 closes the stream. `Chat` relays request bytes straight back; the other
/// methods decode whole messages and answer once the request has ended, per `EchoRequest`'s
/// fields.
final class DemoStream {
    let id: Int32
    var method = DemoMethod.unknown
    /// Response bytes (gRPC-framed) waiting for the session to pull them.
    var queue = ByteQueue()
    /// The request's messages so far (not `Chat`), decoded as their DATA arrives.
    var decoder = GRPCFrameDecoder(maxMessageSize: DemoConnection.maxRequest)
    var messages: [GRPCFrameDecoder.Message] = []
    /// Request bytes received, framing included: bounded by `DemoConnection.maxRequest`.
    var requestBytes = 0
    var requestEnded = false
    /// The response's end is decided: trailers follow the queued bytes.
    var ended = false
    var trailers: Metadata?
    var timer: Timer?
    var expandLeft = 0
    var expandIndex: Int32 = 0
    var expand = DemoRequest()
    /// Expand without delay: replies are produced when the queue runs low.
    var expandOnDemand = false

    init(id: Int32) { self.id = id }
}

/// The body every call sends, framed once for the run: `messages` copies of one framed message.
/// Calls read it in place (a call's progress is an offset), so sending costs one copy into the
/// socket's output buffer and nothing else. Immutable; read by all workers.
final class RequestBody: @unchecked Sendable {
    /// One framed message (never empty: the gRPC prefix alone is 5 bytes; an empty JSON body
    /// is replaced by `{}`).
    let message: UnsafeMutableRawBufferPointer
    let messages: Int
    /// Messages are released one per response (bidi ping-pong).
    let pingPong: Bool

    init(framed: [UInt8], messages: Int, pingPong: Bool) {
        precondition(!framed.isEmpty, "a framed request message is never empty")
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: framed.count, alignment: 16)
        framed.withUnsafeBytes { storage.copyMemory(from: $0) }
        message = storage
        self.messages = messages
        self.pingPong = pingPong
    }

    deinit { message.deallocate() }

    var messageLength: Int { message.count }
    var totalLength: Int { message.count * messages }

    /// Copies `into.count` body bytes starting at `offset` of the whole body (messages back to back).
    @inline(__always)
    func copy(from offset: Int, into: UnsafeMutableRawBufferPointer) {
        let length = message.count
        var src = offset % length
        var done = 0
        while done < into.count {
            let n = min(length - src, into.count - done)
            (into.baseAddress! + done).copyMemory(from: message.baseAddress! + src, byteCount: n)
            done += n
            src = 0
        }
    }
}

/// Incremental decoder of gRPC length-prefixed messages: feed it the DATA bytes of a stream in
/// chunks of any size, and it hands back each whole message once its last byte has arrived.
///
/// Owned by one call on one thread. Memory is bounded by `maxMessageSize`: a prefix that
/// announces more fails at once, before any payload is buffered. Errors are sticky: once
/// `feed` has thrown, every later `feed` throws the same error (the call is over).
public struct GRPCFrameDecoder: Sendable {
    /// One decoded message.
    public struct Message: Sendable {
        /// The Compressed-Flag: the payload is compressed with the call's `grpc-encoding`.
        public var compressed: Bool
        /// The message bytes, without the prefix.
        public var payload: [UInt8]

        public init(compressed: Bool, payload: [UInt8]) {
            self.compressed = compressed
            self.payload = payload
        }
    }

    public enum DecodeError: Error, Equatable, Sendable {
        /// A prefix announced a message of this many bytes, more than `maxMessageSize`:
        /// the call ends with RESOURCE_EXHAUSTED.
        case messageTooLarge(Int)
        /// The Compressed-Flag byte was neither 0 nor 1: the call ends with INTERNAL.
        case invalidFlag(UInt8)
    }

    /// The largest payload accepted, in bytes.
    public let maxMessageSize: Int

    /// How many prefix bytes of the current message have arrived (0...5).
    private var headerFilled = 0
    private var compressed = false
    private var length = 0
    private var payload: [UInt8] = []
    private var failure: DecodeError?

    public init(maxMessageSize: Int) {
        precondition(maxMessageSize >= 0)
        self.maxMessageSize = maxMessageSize
    }

    /// True between a message's first byte and its last: the stream must not end here.
    public var hasPartialMessage: Bool {
        headerFilled > 0
    }

    /// Consumes `bytes`, calling `onMessage` for each message completed by them, in order.
    /// Throws at the first byte that breaks the framing; messages completed before it have
    /// been delivered.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onMessage: (Message) -> Void) throws(DecodeError) {
        if let failure { throw failure }
        var index = 0
        let count = bytes.count
        while index < count {
            if headerFilled < GRPCFrame.headerSize {
                let byte = bytes[index]
                index += 1
                if headerFilled == 0 {
                    guard byte <= 1 else { throw fail(.invalidFlag(byte)) }
                    compressed = byte == 1
                    length = 0
                } else {
                    length = length << 8 | Int(byte)
                }
                headerFilled += 1
                if headerFilled == GRPCFrame.headerSize {
                    guard length <= maxMessageSize else { throw fail(.messageTooLarge(length)) }
                    if length == 0 {
                        headerFilled = 0
                        onMessage(Message(compressed: compressed, payload: []))
                    } else {
                        // Reserve for what the peer announced only up to a point: a prefix is a
                        // claim, not bytes; larger messages grow as their bytes arrive.
                        payload.reserveCapacity(min(length, 64 * 1024))
                    }
                }
            } else {
                let take = min(length - payload.count, count - index)
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                if payload.count == length {
                    let message = Message(compressed: compressed, payload: payload)
                    payload = []
                    headerFilled = 0
                    onMessage(message)
                }
            }
        }
    }

    /// Consumes `bytes`; see `feed(_:_:)` on a buffer.
    public mutating func feed(_ bytes: [UInt8], _ onMessage: (Message) -> Void) throws(DecodeError) {
        var thrown: DecodeError?
        bytes.withUnsafeBytes { buffer in
            do throws(DecodeError) { try feed(buffer, onMessage) } catch { thrown = error }
        }
        if let thrown { throw thrown }
    }

    private mutating func fail(_ error: DecodeError) -> DecodeError {
        failure = error
        payload = []
        return error
    }
}

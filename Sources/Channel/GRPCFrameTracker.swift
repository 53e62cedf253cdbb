/// Follows the gRPC length-prefixed message boundaries of a byte stream without keeping any of
/// its bytes: how many messages each chunk completes, and whether the stream is inside a message.
/// The relay uses it to enforce response cardinality and to catch a response that ends inside a
/// message, on bytes it forwards untouched. A few instructions per message, none per byte.
public struct GRPCFrameTracker: Sendable {
    /// Prefix bytes of the current message seen (0...5).
    private var prefixFilled = 0
    private var length = 0
    /// Payload bytes of the current message still to come.
    private var remaining = 0

    public init() {}

    /// Between a message's first byte and its last.
    public var insideMessage: Bool { prefixFilled > 0 }

    /// Consumes `bytes`; returns how many messages they completed.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Int {
        var completed = 0
        var index = 0
        let count = bytes.count
        while index < count {
            if prefixFilled == 0 && count - index >= GRPCFrame.headerSize {
                // A whole prefix in this chunk (the usual case): read the length at once.
                length = Int(bytes[index + 1]) << 24 | Int(bytes[index + 2]) << 16
                    | Int(bytes[index + 3]) << 8 | Int(bytes[index + 4])
                index += GRPCFrame.headerSize
                let take = min(length, count - index)
                index += take
                if take == length {
                    completed += 1
                } else {
                    prefixFilled = GRPCFrame.headerSize
                    remaining = length - take
                }
                continue
            }
            if prefixFilled < GRPCFrame.headerSize {
                if prefixFilled == 0 { length = 0 } else { length = length << 8 | Int(bytes[index]) }
                prefixFilled += 1
                index += 1
                if prefixFilled == GRPCFrame.headerSize {
                    remaining = length
                    if remaining == 0 {
                        prefixFilled = 0
                        completed += 1
                    }
                }
            } else {
                let take = min(remaining, count - index)
                remaining -= take
                index += take
                if remaining == 0 {
                    prefixFilled = 0
                    completed += 1
                }
            }
        }
        return completed
    }
}

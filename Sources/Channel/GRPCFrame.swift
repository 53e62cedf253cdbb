/// gRPC length-prefixed message framing (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"):
/// a Compressed-Flag byte (0 or 1), a 4-byte big-endian Message-Length, then the message.
public enum GRPCFrame: Sendable {
    /// The size of the prefix: flag byte plus 32-bit length.
    public static let headerSize = 5

    /// Appends the 5-byte prefix for a message of `length` bytes to `buffer`.
    public static func writeHeader(compressed: Bool, length: UInt32, into buffer: inout [UInt8]) {
        buffer.append(compressed ? 1 : 0)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
    }

    /// Appends one whole framed message (prefix and payload) to `buffer`.
    /// `payload` must be shorter than 4 GiB.
    public static func write(compressed: Bool, payload: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        precondition(payload.count <= Int(UInt32.max), "a gRPC message is at most 4 GiB - 1")
        buffer.reserveCapacity(buffer.count + headerSize + payload.count)
        writeHeader(compressed: compressed, length: UInt32(payload.count), into: &buffer)
        buffer.append(contentsOf: payload)
    }
}

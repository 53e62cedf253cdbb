import Channel

/// The trailer frame of a gRPC-Web response body (PROTOCOL-WEB.md, "Message framing"): flag byte
/// `0x80`, a 4-byte big-endian length, then the trailers as HTTP/1.1 header lines,
/// `name:value\r\n`, names in lower case. Built in one buffer whose prefix is filled in by
/// `finish`, so the frame is written with one copy.
public struct GRPCWebTrailers {
    /// The message flag of a trailer frame (the high bit; bit 0 is still "compressed").
    public static let flag: UInt8 = 0x80

    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: [Self.flag, 0, 0, 0, 0] as [UInt8])
    }

    /// One field; the name is lower-cased (HTTP/2 names already are; HTTP/1.1 ones may not be).
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        for b in name { bytes.append(ASCII.lowercased(b)) }
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: value)
        bytes.append(contentsOf: [0x0D, 0x0A] as [UInt8])
    }

    public mutating func add(_ name: String, _ value: String) {
        var n = name, v = value
        n.withUTF8 { nb in v.withUTF8 { vb in add(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }

    /// The whole frame, its length filled in.
    public mutating func finish() -> [UInt8] {
        let length = UInt32(bytes.count - GRPCFrame.headerSize)
        bytes[1] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[3] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[4] = UInt8(truncatingIfNeeded: length)
        return bytes
    }
}

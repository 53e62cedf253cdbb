/// Protobuf wire types (protobuf `encoding.md`, "Message Structure").
public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Appends protobuf wire-format values to a byte array.
///
/// Nested messages whose length is not known in advance are written with
/// `beginLengthDelimited()` / `endLengthDelimited(_:)`: one length byte is reserved, and only a
/// body of 128 bytes or more moves (once per nesting level) to make room for a longer varint.
public struct ProtoWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always)
    public mutating func appendTag(_ number: Int32, _ wireType: WireType) {
        appendVarint(UInt64(UInt32(bitPattern: number)) << 3 | UInt64(wireType.rawValue))
    }

    public mutating func appendFixed32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func appendFixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// ZigZag encoding for `sint32` / `sint64`.
    @inline(__always)
    public mutating func appendZigZag(_ value: Int64) {
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func appendLengthDelimited(_ payload: UnsafeRawBufferPointer) {
        appendVarint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    public mutating func appendLengthDelimited(_ payload: some Collection<UInt8>) {
        appendVarint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    /// Reserves one length byte and returns the offset where the body starts.
    @inline(__always)
    public mutating func beginLengthDelimited() -> Int {
        bytes.append(0)
        return bytes.count
    }

    /// Writes the length of the body that began at `start` (from `beginLengthDelimited`).
    public mutating func endLengthDelimited(_ start: Int) {
        let length = bytes.count - start
        if length < 0x80 {
            bytes[start - 1] = UInt8(length)
            return
        }
        // Move the body right by the extra length bytes, in place (no temporary array).
        var size = 1
        var rest = length >> 7
        while rest > 0 {
            size += 1
            rest >>= 7
        }
        let extra = size - 1
        bytes.append(contentsOf: repeatElement(0, count: extra))
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            (base + start + extra).copyMemory(from: base + start, byteCount: length)  // memmove
            var v = UInt64(length)
            var i = start - 1
            while v >= 0x80 {
                raw[i] = UInt8(truncatingIfNeeded: v) | 0x80
                v >>= 7
                i += 1
            }
            raw[i] = UInt8(v)
        }
    }
}

/// Reads protobuf wire-format values from a borrowed buffer: the public face of the codec's
/// `WireCursor` (one reader in the module), for the small hand-written readers elsewhere (HTTP
/// rules in method options, google.rpc.Status details, the demo service). Errors name the byte
/// offset from the start of the buffer. The buffer must outlive the reader.
public struct ProtoReader {
    private var cursor: WireCursor

    public init(_ buffer: UnsafeRawBufferPointer) {
        let base = buffer.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? ProtoReader.empty
        cursor = WireCursor(UnsafeRawBufferPointer(start: base, count: buffer.count), base: base)
    }

    /// A valid address for an empty buffer without one.
    nonisolated(unsafe) private static let empty: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    public var isAtEnd: Bool { cursor.isAtEnd }

    public mutating func readVarint() throws(TranscodeError) -> UInt64 {
        do { return try cursor.varint() } catch { throw error.transcodeError }
    }

    /// The next field's number and wire type, or nil at the end of the buffer.
    public mutating func readTag() throws(TranscodeError) -> (number: Int32, wireType: WireType)? {
        if cursor.isAtEnd { return nil }
        do {
            let (number, wireType) = try cursor.tag()
            return (number, WireType(rawValue: wireType)!)  // tag() accepts 0...5 only
        } catch {
            throw error.transcodeError
        }
    }

    public mutating func readFixed32() throws(TranscodeError) -> UInt32 {
        do { return try cursor.fixed32() } catch { throw error.transcodeError }
    }

    public mutating func readFixed64() throws(TranscodeError) -> UInt64 {
        do { return try cursor.fixed64() } catch { throw error.transcodeError }
    }

    public mutating func readLengthDelimited() throws(TranscodeError) -> UnsafeRawBufferPointer {
        do { return try cursor.lengthDelimited() } catch { throw error.transcodeError }
    }

    /// Skips the value of a field of `wireType` (groups included, nested up to the codec's limit).
    public mutating func skip(_ wireType: WireType, number: Int32 = 0) throws(TranscodeError) {
        do { try cursor.skip(wireType.rawValue, number: number, depth: 0) } catch { throw error.transcodeError }
    }
}

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

/// Reads protobuf wire-format values from a borrowed buffer. The buffer must outlive the reader.
public struct ProtoReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.offset = 0
    }

    public var isAtEnd: Bool { offset >= buffer.count }

    public mutating func readVarint() throws(TranscodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < buffer.count {
            let byte = buffer[offset]
            offset += 1
            if shift == 63 && byte > 1 { break }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { break }
        }
        throw TranscodeError.wire("malformed varint at byte \(offset)")
    }

    /// The next field's number and wire type, or nil at the end of the buffer.
    public mutating func readTag() throws(TranscodeError) -> (number: Int32, wireType: WireType)? {
        if isAtEnd { return nil }
        let key = try readVarint()
        guard key >> 3 != 0, key >> 3 <= 536_870_911, let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw TranscodeError.wire("invalid field key \(key) at byte \(offset)")
        }
        return (Int32(key >> 3), wireType)
    }

    public mutating func readFixed32() throws(TranscodeError) -> UInt32 {
        guard buffer.count - offset >= 4 else { throw TranscodeError.wire("truncated fixed32 at byte \(offset)") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: value)
    }

    public mutating func readFixed64() throws(TranscodeError) -> UInt64 {
        guard buffer.count - offset >= 8 else { throw TranscodeError.wire("truncated fixed64 at byte \(offset)") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: value)
    }

    public mutating func readLengthDelimited() throws(TranscodeError) -> UnsafeRawBufferPointer {
        let length = try readVarint()
        guard length <= UInt64(buffer.count - offset) else {
            throw TranscodeError.wire("length \(length) at byte \(offset) runs past the end of the message")
        }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + Int(length))])
        offset += Int(length)
        return slice
    }

    /// Skips the value of a field of `wireType` (groups included, nested to any depth up to 100).
    public mutating func skip(_ wireType: WireType, number: Int32 = 0, depth: Int = 0) throws(TranscodeError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup:
            guard depth < 100 else { throw TranscodeError.wire("groups nested too deeply") }
            while let (n, w) = try readTag() {
                if w == .endGroup {
                    guard n == number else { throw TranscodeError.wire("mismatched end group at byte \(offset)") }
                    return
                }
                try skip(w, number: n, depth: depth + 1)
            }
            throw TranscodeError.wire("unterminated group \(number)")
        case .endGroup:
            throw TranscodeError.wire("unexpected end group at byte \(offset)")
        }
    }
}

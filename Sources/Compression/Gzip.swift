import CZlib

/// gRPC's `gzip` message encoding (PROTOCOL-HTTP2.md "Compression"; RFC 1952), through zlib: the
/// only module that imports it. Whole messages, as gRPC compresses them one by one; output is
/// bounded, so a small compressed message cannot inflate into unbounded memory.
public enum Gzip {
    /// Decompresses one gzip-compressed message, appending at most `limit` bytes to `output`.
    /// Returns why it could not (not gzip, truncated, corrupt, larger than `limit`), or nil.
    public static func decompress(_ input: UnsafeRawBufferPointer, limit: Int, into output: inout [UInt8]) -> String? {
        var stream = z_stream()
        guard trestle_inflate_init_gzip(&stream) == Z_OK else { return "zlib could not start inflating" }
        defer { inflateEnd(&stream) }
        guard let base = input.baseAddress, !input.isEmpty else { return "an empty gzip message" }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        let start = output.count
        return withUnsafeTemporaryAllocation(of: Bytef.self, capacity: 16 * 1024) { chunk -> String? in
            while true {
                stream.next_out = chunk.baseAddress
                stream.avail_out = uInt(chunk.count)
                let rc = inflate(&stream, Z_NO_FLUSH)
                let produced = chunk.count - Int(stream.avail_out)
                if output.count - start + produced > limit {
                    return "the message inflates to more than \(limit) bytes"
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0 ..< produced]))
                switch rc {
                case Z_STREAM_END:
                    return stream.avail_in == 0 ? nil : "bytes after the end of the gzip data"
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: the input ended inside the compressed data.
                    if stream.avail_in == 0 { return "the gzip data is truncated" }
                    continue
                default:
                    return stream.msg.map { "corrupt gzip data: \(String(cString: $0))" } ?? "corrupt gzip data (zlib error \(rc))"
                }
            }
        }
    }

    /// Compresses `input` as one gzip member, appended to `output`.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6, into output: inout [UInt8]) {
        var stream = z_stream()
        guard trestle_deflate_init_gzip(&stream, level) == Z_OK else { return }
        defer { deflateEnd(&stream) }
        stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.avail_in = uInt(input.count)
        withUnsafeTemporaryAllocation(of: Bytef.self, capacity: 16 * 1024) { chunk in
            while true {
                stream.next_out = chunk.baseAddress
                stream.avail_out = uInt(chunk.count)
                let rc = deflate(&stream, Z_FINISH)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0 ..< chunk.count - Int(stream.avail_out)]))
                if rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR) { return }
            }
        }
    }
}

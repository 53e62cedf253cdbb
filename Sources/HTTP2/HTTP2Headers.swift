import CNghttp2

/// A compact header list: every name and value in one byte array, with offsets.
/// Two allocations per block however many fields; names and values are raw bytes (HTTP/2
/// header fields are octets, RFC 9113 §8.2), never Strings on the per-request path.
public struct HTTP2Headers: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Four entries per field: name start, name length, value start, value length.
    private var offsets: [Int32] = []

    public init() {}

    public init(reservingBytes: Int, fields: Int) {
        bytes.reserveCapacity(reservingBytes)
        offsets.reserveCapacity(fields * 4)
    }

    public var count: Int { offsets.count / 4 }
    public var isEmpty: Bool { offsets.isEmpty }

    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let ns = bytes.count
        bytes.append(contentsOf: name)
        let vs = bytes.count
        bytes.append(contentsOf: value)
        offsets.append(Int32(ns)); offsets.append(Int32(name.count))
        offsets.append(Int32(vs)); offsets.append(Int32(value.count))
    }

    public mutating func append(_ name: String, _ value: String) {
        var n = name, v = value
        n.withUTF8 { nb in v.withUTF8 { vb in append(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }

    public mutating func append(_ name: StaticString, _ value: StaticString) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
               value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    public mutating func append(_ name: StaticString, value: UnsafeRawBufferPointer) {
        append(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value)
    }

    /// Calls `body` with each field's name and value, in order. The pointers are valid only during the call.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            var i = 0
            while i < offsets.count {
                let n = UnsafeRawBufferPointer(rebasing: all[Int(offsets[i]) ..< Int(offsets[i] + offsets[i + 1])])
                let v = UnsafeRawBufferPointer(rebasing: all[Int(offsets[i + 2]) ..< Int(offsets[i + 2] + offsets[i + 3])])
                body(n, v)
                i += 4
            }
        }
    }

    /// The value of the first field named `name` (exact bytes, lower case), as a String. For tests and slow paths.
    public func value(_ name: String) -> String? {
        var found: String?
        let key = Array(name.utf8)
        forEach { n, v in
            if found == nil, n.elementsEqual(key) { found = String(decoding: v, as: UTF8.self) }
        }
        return found
    }

    /// Builds the nghttp2_nv array on the stack; nghttp2 copies names and values on submit.
    func withNV<R>(_ body: (UnsafePointer<nghttp2_nv>?, Int) -> R) -> R {
        let n = count
        return bytes.withUnsafeBytes { all in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(n, 1)) { nv in
                let base = UnsafeMutablePointer(mutating: all.baseAddress?.assumingMemoryBound(to: UInt8.self))
                    ?? UnsafeMutablePointer(mutating: emptyByte)
                for f in 0 ..< n {
                    let o = f * 4
                    nv[f] = nghttp2_nv(name: base + Int(offsets[o]), value: base + Int(offsets[o + 2]),
                                       namelen: Int(offsets[o + 1]), valuelen: Int(offsets[o + 3]),
                                       flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
                }
                return body(UnsafePointer(nv.baseAddress), n)
            }
        }
    }
}

nonisolated(unsafe) private let emptyByte: UnsafeMutablePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.pointee = 0
    return p
}()

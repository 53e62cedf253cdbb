import Channel

/// Byte helpers for header names and values.
enum Bytes {
    /// True when `bytes` equals `text` exactly.
    @inline(__always)
    static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        return memcmpEqual(bytes.baseAddress, UnsafeRawPointer(text.utf8Start), n)
    }

    /// True when `bytes` equals the lower-case `text` ignoring ASCII case.
    static func equalIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let t = text.utf8Start
        for i in 0 ..< n where ASCII.lowercased(bytes[i]) != t[i] { return false }
        return true
    }

    @inline(__always)
    static func memcmpEqual(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        guard let a else { return n == 0 }
        for i in 0 ..< n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
            return false
        }
        return true
    }

    /// A decimal number of at most 9 digits, or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count > 0, bytes.count <= 9 else { return nil }
        var v = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            v = v * 10 + Int(b - 0x30)
        }
        return v
    }

    private static let codeKey: [UInt8] = Array("\"code\"".utf8)

    /// The number after the first `"code"` key in a JSON text (a google.rpc.Status body, or an
    /// NDJSON `{"error": {...}}` line), or nil.
    static func jsonCode(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let key = codeKey
        guard bytes.count >= key.count else { return nil }
        var i = 0
        while i + key.count <= bytes.count {
            var match = true
            for k in 0 ..< key.count where bytes[i + k] != key[k] { match = false; break }
            if match {
                var j = i + key.count
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { return nil }
                j += 1
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
                var v = 0, digits = 0
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39, digits < 9 {
                    v = v * 10 + Int(bytes[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? v : nil
            }
            i += 1
        }
        return nil
    }
}

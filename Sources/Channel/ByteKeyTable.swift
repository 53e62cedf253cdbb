#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash table from byte strings to `Int`, for lookups on the per-request
/// path that must not allocate.
///
/// Keys are hashed eight bytes at a time (`hash`) and kept, back to back, in one byte buffer; a
/// slot holds the full hash, the key's offset and length in that buffer, and the value. Lookup
/// hashes the probe bytes, walks slots linearly from `hash & mask` to the first empty one, and
/// compares the bytes only when the full hash matches, so a lookup touches no allocator and no
/// reference count. The table is at most half full, so probe runs stay short and an empty slot
/// always ends the walk.
///
/// A class over buffers of its own, not a struct of arrays: a lookup through a table held in a
/// `let` costs no retain of the table, where a struct's arrays were retained and released on
/// every lookup (`withUnsafeBufferPointer` on each). Built, then only read — `@unchecked
/// Sendable` for tables shared by the workers (`ServiceRouter`); `MethodTable` keeps inserting
/// into its own, on its worker's thread only.
final class ByteKeyTable: @unchecked Sendable {
    private struct Slot {
        var hash: UInt64
        var offset: Int
        var length: Int
        /// -1 marks an empty slot.
        var value: Int
    }

    private let slots: UnsafeMutablePointer<Slot>
    private let mask: Int
    private var keyBytes: UnsafeMutablePointer<UInt8>
    private var keyCapacity: Int
    private var keyCount = 0
    private(set) var count = 0

    /// A table with room for `capacity` keys.
    init(capacity: Int) {
        var size = 2
        while size < capacity * 2 + 1 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, value: -1), count: size)
        mask = size - 1
        keyCapacity = 64
        keyBytes = .allocate(capacity: keyCapacity)
    }

    deinit {
        slots.deallocate()
        keyBytes.deallocate()
    }

    /// Adds `key` → `value`. Returns false, keeping the first value, when the key is present.
    /// Must not be called more than `capacity` times.
    func insert<Key: Collection<UInt8>>(_ key: Key, value: Int) -> Bool {
        precondition(value >= 0, "values are indices")
        let bytes = Array(key)
        let found = bytes.withUnsafeBytes { lookup($0) }
        if found != nil { return false }
        precondition((count + 1) * 2 < mask + 1, "ByteKeyTable over capacity")
        let hash = bytes.withUnsafeBytes { ByteKeyTable.hash($0) }
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index].value >= 0 { index = (index + 1) & mask }
        if keyCount + bytes.count > keyCapacity {
            var c = keyCapacity * 2
            while c < keyCount + bytes.count { c *= 2 }
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            grown.update(from: keyBytes, count: keyCount)
            keyBytes.deallocate()
            keyBytes = grown
            keyCapacity = c
        }
        bytes.withUnsafeBufferPointer { (keyBytes + keyCount).update(from: $0.baseAddress!, count: $0.count) }
        slots[index] = Slot(hash: hash, offset: keyCount, length: bytes.count, value: value)
        keyCount += bytes.count
        count += 1
        return true
    }

    /// The value stored for exactly these bytes, or nil. Does not allocate.
    func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        let hash = ByteKeyTable.hash(key)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot.value < 0 { return nil }
            if slot.hash == hash && slot.length == key.count
                && (key.count == 0 || memcmp(keyBytes + slot.offset, key.baseAddress!, key.count) == 0)
            {
                return slot.value
            }
            index = (index + 1) & mask
        }
    }

    /// A 64-bit hash of `bytes`: each 8-byte word (unaligned loads; the last 1-7 bytes as one
    /// more word) folded in with a multiply, then the high bits mixed down so that the low bits
    /// the table indexes with depend on every byte. A quarter of the work of byte-wise FNV-1a on
    /// a `:path` (this runs twice per call: route and method series).
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: bytes.count)
        guard let p = bytes.baseAddress else { return h }
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        }
        h ^= h >> 32
        h &*= 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h
    }
}

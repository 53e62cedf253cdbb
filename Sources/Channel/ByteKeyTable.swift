#if canImport(Glibc)
import Glibc
#endif

/// An immutable-after-build open-addressing hash table from byte strings to `Int`, for lookups
/// on the per-request path that must not allocate.
///
/// Keys are hashed with 64-bit FNV-1a and kept, back to back, in one byte array; a slot holds
/// the full hash, the key's offset and length in that array, and the value. Lookup hashes the
/// probe bytes, walks slots linearly from `hash & mask` to the first empty one, and compares
/// the bytes only when the full hash matches, so a lookup touches no allocator and no
/// reference counts beyond the arrays' own. The table is at most half full, so probe runs stay
/// short and an empty slot always ends the walk.
struct ByteKeyTable: Sendable {
    private struct Slot: Sendable {
        var hash: UInt64
        var offset: Int
        var length: Int
        /// -1 marks an empty slot.
        var value: Int
    }

    private var slots: [Slot]
    private var mask: Int
    private var keyBytes: [UInt8] = []
    private(set) var count = 0

    /// A table with room for `capacity` keys.
    init(capacity: Int) {
        var size = 2
        while size < capacity * 2 + 1 { size <<= 1 }
        slots = Array(repeating: Slot(hash: 0, offset: 0, length: 0, value: -1), count: size)
        mask = size - 1
    }

    /// Adds `key` → `value`. Returns false, keeping the first value, when the key is present.
    /// Building only; must not be called more than `capacity` times.
    mutating func insert<Key: Collection<UInt8>>(_ key: Key, value: Int) -> Bool {
        precondition(value >= 0, "values are indices")
        let bytes = Array(key)
        let found = bytes.withUnsafeBytes { lookup($0) }
        if found != nil { return false }
        precondition((count + 1) * 2 < slots.count, "ByteKeyTable over capacity")
        let hash = bytes.withUnsafeBytes { ByteKeyTable.fnv1a($0) }
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index].value >= 0 { index = (index + 1) & mask }
        slots[index] = Slot(hash: hash, offset: keyBytes.count, length: bytes.count, value: value)
        keyBytes.append(contentsOf: bytes)
        count += 1
        return true
    }

    /// The value stored for exactly these bytes, or nil. Does not allocate.
    func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        let hash = ByteKeyTable.fnv1a(key)
        let mask = self.mask
        let start = Int(truncatingIfNeeded: hash) & mask
        // No mutable state is captured by these closures (a captured `var` would be boxed on
        // the heap in unoptimised builds).
        return keyBytes.withUnsafeBufferPointer { stored -> Int? in
            slots.withUnsafeBufferPointer { slots -> Int? in
                var index = start
                while true {
                    let slot = slots[index]
                    if slot.value < 0 { return nil }
                    if slot.hash == hash && slot.length == key.count
                        && ByteKeyTable.equal(stored, slot.offset, key)
                    {
                        return slot.value
                    }
                    index = (index + 1) & mask
                }
            }
        }
    }

    /// 64-bit FNV-1a over `bytes`.
    @inline(__always)
    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    @inline(__always)
    private static func equal(_ stored: UnsafeBufferPointer<UInt8>, _ offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        key.count == 0 || memcmp(stored.baseAddress! + offset, key.baseAddress!, key.count) == 0
    }
}

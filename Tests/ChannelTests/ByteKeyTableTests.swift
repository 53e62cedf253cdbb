@testable import Channel
import Testing

/// `ByteKeyTable` over its own buffers: keys past its first 64 bytes of key storage (which grows
/// by reallocating), keys of every length around the 8-byte hash words, the empty key, a key
/// given twice, and keys that share a prefix.
@Suite struct ByteKeyTableTests {
    private func lookup(_ t: ByteKeyTable, _ key: String) -> Int? {
        var key = key
        return key.withUTF8 { t.lookup(UnsafeRawBufferPointer($0)) }
    }

    @Test func findsEveryKeyAfterItsStorageGrew() {
        let keys = (0 ..< 200).map { "/pkg.Service\($0)/" + String(repeating: "m", count: $0 % 37) }
        let t = ByteKeyTable(capacity: keys.count)
        for (i, k) in keys.enumerated() { #expect(t.insert(k.utf8, value: i)) }
        #expect(t.count == keys.count)
        for (i, k) in keys.enumerated() { #expect(lookup(t, k) == i, "\(k)") }
        #expect(lookup(t, "/pkg.Service1") == nil)  // a prefix of a key is not the key
        #expect(lookup(t, "/pkg.Service1/mx") == nil)
    }

    @Test func emptyKeyDuplicatesAndWordBoundaries() {
        let t = ByteKeyTable(capacity: 40)
        #expect(t.insert("".utf8, value: 7))
        #expect(!t.insert("".utf8, value: 8))  // the first value stays
        #expect(lookup(t, "") == 7)
        for n in 1 ... 17 { #expect(t.insert(String(repeating: "a", count: n).utf8, value: n)) }
        for n in 1 ... 17 { #expect(lookup(t, String(repeating: "a", count: n)) == n) }
        #expect(lookup(t, String(repeating: "a", count: 18)) == nil)
        #expect(!t.insert("aaaa".utf8, value: 99))
        #expect(lookup(t, "aaaa") == 4)
    }
}

import Compression
import Testing

/// gRPC's gzip message encoding through zlib.
@Suite struct GzipTests {
    static func roundTrip(_ bytes: [UInt8]) -> [UInt8]? {
        var z: [UInt8] = []
        bytes.withUnsafeBytes { Gzip.compress($0, into: &z) }
        var out: [UInt8] = []
        let error = z.withUnsafeBytes { Gzip.decompress($0, limit: 1 << 24, into: &out) }
        return error == nil ? out : nil
    }

    @Test func roundTrips() {
        #expect(Self.roundTrip([]) == [])
        #expect(Self.roundTrip(Array("hello".utf8)) == Array("hello".utf8))
        let big = (0 ..< 300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        #expect(Self.roundTrip(big) == big)
    }

    /// What Python's gzip.compress(b"hi", mtime=0) writes (a known member from another implementation).
    @Test func decodesAnotherImplementationsMember() {
        let member: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0xc8, 0x04, 0x00,
                               0xac, 0x2a, 0x93, 0xd8, 0x02, 0x00, 0x00, 0x00]
        var out: [UInt8] = []
        #expect(member.withUnsafeBytes { Gzip.decompress($0, limit: 100, into: &out) } == nil)
        #expect(out == Array("hi".utf8))
    }

    @Test func rejectsBadInput() {
        var z: [UInt8] = []
        let text = [UInt8](repeating: 0x61, count: 10_000)
        text.withUnsafeBytes { Gzip.compress($0, into: &z) }
        var out: [UInt8] = []
        #expect(z.withUnsafeBytes { Gzip.decompress($0, limit: 1000, into: &out) } == "the message inflates to more than 1000 bytes")
        out = []
        #expect(z.dropLast(3).withUnsafeBytes { Gzip.decompress($0, limit: 1 << 20, into: &out) } == "the gzip data is truncated")
        out = []
        #expect(Array("not gzip".utf8).withUnsafeBytes { Gzip.decompress($0, limit: 100, into: &out) }?.hasPrefix("corrupt gzip data") == true)
        #expect([UInt8]().withUnsafeBytes { Gzip.decompress($0, limit: 100, into: &out) } == "an empty gzip message")
    }
}

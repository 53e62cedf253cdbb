import Testing
import Transcoding

/// The gRPC-Web text decoder and encoder (Base64Stream.swift): a text cut at any byte, or made of
/// several padded runs, decodes to the same bytes; errors name their offset in the whole text.
@Suite struct Base64StreamTests {
    /// The decoded bytes, or the offset of the error.
    enum Outcome: Equatable {
        case success([UInt8])
        case failure(Int)
    }

    static func decodeAll(_ parts: [String]) -> Outcome {
        var d = Base64StreamDecoder()
        var out: [UInt8] = []
        for part in parts {
            let bytes = Array(part.utf8)
            if let e = bytes.withUnsafeBytes({ d.decode($0, into: &out) }) { return .failure(e.offset) }
        }
        if let e = d.finish(into: &out) { return .failure(e.offset) }
        return .success(out)
    }

    static func standard(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { Base64.encode($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Every split point of every length 0...9 (all three padding cases), in two and three parts.
    @Test func splitAtEveryByte() {
        for n in 0...9 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Self.standard(bytes)
            let chars = Array(text)
            for i in 0...chars.count {
                let a = String(chars[..<i]), b = String(chars[i...])
                #expect(Self.decodeAll([a, b]) == .success(bytes), "n=\(n) split at \(i)")
                for j in i...chars.count {
                    let parts = [String(chars[..<i]), String(chars[i..<j]), String(chars[j...])]
                    #expect(Self.decodeAll(parts) == .success(bytes), "n=\(n) split at \(i), \(j)")
                }
            }
        }
    }

    /// Several padded runs one after another (one per message, per chunk), also cut anywhere.
    @Test func severalPaddedRuns() {
        let runs: [[UInt8]] = [[1], [2, 3], [4, 5, 6], [7], [0x80, 0, 0, 0, 0x0E]]
        let text = runs.map(Self.standard).joined()
        #expect(text.filter { $0 == "=" }.count == 6)  // padding inside the text, not only at its end
        let chars = Array(text)
        for i in 0...chars.count {
            #expect(Self.decodeAll([String(chars[..<i]), String(chars[i...])]) == .success(runs.flatMap { $0 }), "split at \(i)")
        }
    }

    @Test func unpaddedEndAndURLSafeDigits() {
        #expect(Self.decodeAll(["AQI"]) == .success([1, 2]))
        #expect(Self.decodeAll(["AQ"]) == .success([1]))
        #expect(Self.decodeAll(["-_8="]) == .success([0xFB, 0xFF]))
    }

    /// (text parts, offset of the error in the whole text).
    @Test(arguments: [
        (["AQ", "I*"], 3),      // not a base64 digit
        (["A=="], 1),           // padding after one digit
        (["AQ=A"], 3),          // a digit after padding within a quartet
        (["AQI=="], 4),         // a fifth character of padding
        (["AQIDB"], 4),         // one digit left at the end
        (["AQ="], 0),           // padding unfinished at the end (the group starts at 0)
        (["AQID\r\n"], 4),      // whitespace is not base64
    ] as [([String], Int)])
    func rejected(parts: [String], offset: Int) {
        #expect(Self.decodeAll(parts) == .failure(offset))
    }

    /// The encoder, fed any cuts and flushed at chosen points, gives text that decodes to the input.
    @Test func encoderCarriesAndFlushes() {
        let bytes: [UInt8] = Array(0..<23)
        for cut in 0...bytes.count {
            for flushAtCut in [false, true] {
                var e = Base64StreamEncoder()
                var out: [UInt8] = []
                bytes[..<cut].withUnsafeBytes { e.encode($0, into: &out) }
                if flushAtCut {
                    e.flush(into: &out)
                    #expect(out.count % 4 == 0)
                } else {
                    #expect(e.pending == cut % 3)
                }
                bytes[cut...].withUnsafeBytes { e.encode($0, into: &out) }
                e.flush(into: &out)
                #expect(out.count % 4 == 0)
                #expect(Self.decodeAll([String(decoding: out, as: UTF8.self)]) == .success(bytes), "cut \(cut) flush \(flushAtCut)")
                if !flushAtCut { #expect(String(decoding: out, as: UTF8.self) == Self.standard(bytes)) }
            }
        }
    }

    /// Single bytes at a time: one group waits for its third byte.
    @Test func encoderByteByByte() {
        var e = Base64StreamEncoder()
        var out: [UInt8] = []
        for b in [UInt8]([0x66, 0x6F, 0x6F, 0x62]) {
            [b].withUnsafeBytes { e.encode($0, into: &out) }
        }
        #expect(String(decoding: out, as: UTF8.self) == "Zm9v")
        e.flush(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "Zm9vYg==")
    }
}

/// The gRPC-Web trailer frame (PROTOCOL-WEB.md): flag 0x80, big-endian length, `name:value\r\n`.
@Suite struct GRPCWebTrailersTests {
    @Test func frameBytes() {
        var t = GRPCWebTrailers()
        t.add("grpc-status", "0")
        t.add("Grpc-Message", "ok%20then")
        let name = Array("x-trace-bin".utf8), value = Array("AAE=".utf8)
        name.withUnsafeBytes { n in value.withUnsafeBytes { v in t.add(name: n, value: v) } }
        let frame = t.finish()
        let body = "grpc-status:0\r\ngrpc-message:ok%20then\r\nx-trace-bin:AAE=\r\n"
        #expect(frame == [0x80, 0, 0, 0, UInt8(body.utf8.count)] + Array(body.utf8))
    }

    @Test func emptyTrailers() {
        var t = GRPCWebTrailers()
        #expect(t.finish() == [0x80, 0, 0, 0, 0])
    }

    @Test func longLengthIsBigEndian() {
        var t = GRPCWebTrailers()
        t.add("x-long", String(repeating: "v", count: 300))
        let frame = t.finish()
        let n = 300 + "x-long:\r\n".utf8.count
        #expect(Array(frame[0..<5]) == [0x80, 0, 0, UInt8(n >> 8), UInt8(n & 0xFF)])
        #expect(frame.count == 5 + n)
    }
}

import Channel
import Testing

@Suite struct GRPCFrameDecoderTests {
    /// Three messages of 0, 3 and 300 bytes, the middle one compressed.
    static let messages: [(Bool, [UInt8])] = [
        (false, []),
        (true, [1, 2, 3]),
        (false, (0..<300).map { UInt8(truncatingIfNeeded: $0) }),
    ]

    static var wire: [UInt8] {
        var bytes: [UInt8] = []
        for (compressed, payload) in messages {
            payload.withUnsafeBytes { GRPCFrame.write(compressed: compressed, payload: $0, into: &bytes) }
        }
        return bytes
    }

    @Test func writeHeader() {
        var buffer: [UInt8] = [0xAA]
        GRPCFrame.writeHeader(compressed: false, length: 0x0102_0304, into: &buffer)
        GRPCFrame.writeHeader(compressed: true, length: 5, into: &buffer)
        #expect(buffer == [0xAA, 0, 1, 2, 3, 4, 1, 0, 0, 0, 5])
        #expect(GRPCFrame.headerSize == 5)
    }

    /// Feeds `wire` cut at `splits` and returns what came out.
    static func decode(_ wire: [UInt8], chunkSizes: [Int], max: Int = 1024) throws -> [GRPCFrameDecoder.Message] {
        var decoder = GRPCFrameDecoder(maxMessageSize: max)
        var out: [GRPCFrameDecoder.Message] = []
        var start = 0
        var sizeIndex = 0
        while start < wire.count {
            let size = chunkSizes[sizeIndex % chunkSizes.count]
            sizeIndex += 1
            let end = min(start + size, wire.count)
            try decoder.feed(Array(wire[start..<end])) { out.append($0) }
            start = end
            #expect(decoder.hasPartialMessage == (start < wire.count && !isBoundary(start)))
        }
        #expect(!decoder.hasPartialMessage)
        return out
    }

    /// Offsets in `wire` where a message ends.
    static func isBoundary(_ offset: Int) -> Bool {
        var position = 0
        for (_, payload) in messages {
            position += 5 + payload.count
            if position == offset { return true }
        }
        return offset == 0
    }

    @Test(arguments: [[1], [2], [3], [4], [5], [6], [7], [64], [1000], [1, 4, 9, 2], [5, 8, 1], [310, 1]])
    func decodesAcrossChunkSplits(chunkSizes: [Int]) throws {
        let decoded = try Self.decode(Self.wire, chunkSizes: chunkSizes)
        #expect(decoded.count == 3)
        for (message, (compressed, payload)) in zip(decoded, Self.messages) {
            #expect(message.compressed == compressed)
            #expect(message.payload == payload)
        }
    }

    @Test func decodesEverySingleSplitPoint() throws {
        let wire = Self.wire
        for cut in 0...wire.count {
            var decoder = GRPCFrameDecoder(maxMessageSize: 1024)
            var payloads: [[UInt8]] = []
            try decoder.feed(Array(wire[..<cut])) { payloads.append($0.payload) }
            try decoder.feed(Array(wire[cut...])) { payloads.append($0.payload) }
            #expect(payloads == Self.messages.map(\.1), "cut at \(cut)")
        }
    }

    @Test func partialMessageAfterOneByte() throws {
        var decoder = GRPCFrameDecoder(maxMessageSize: 10)
        #expect(!decoder.hasPartialMessage)
        try decoder.feed([0]) { _ in Issue.record("no message yet") }
        #expect(decoder.hasPartialMessage)
        try decoder.feed([0, 0, 0, 1]) { _ in Issue.record("no message yet") }
        #expect(decoder.hasPartialMessage)
        var got: [[UInt8]] = []
        try decoder.feed([42]) { got.append($0.payload) }
        #expect(got == [[42]])
        #expect(!decoder.hasPartialMessage)
    }

    @Test func messageAtTheLimitIsAccepted() throws {
        var wire: [UInt8] = []
        let payload = [UInt8](repeating: 7, count: 16)
        payload.withUnsafeBytes { GRPCFrame.write(compressed: false, payload: $0, into: &wire) }
        var decoder = GRPCFrameDecoder(maxMessageSize: 16)
        var count = 0
        try decoder.feed(wire) { count += 1; #expect($0.payload == payload) }
        #expect(count == 1)
    }

    @Test func messageTooLargeFailsAtTheHeader() {
        var decoder = GRPCFrameDecoder(maxMessageSize: 16)
        var delivered = 0
        // A whole empty message, then the prefix of one of 17 bytes: the first is delivered.
        #expect(throws: GRPCFrameDecoder.DecodeError.messageTooLarge(17)) {
            try decoder.feed([0, 0, 0, 0, 0, 0, 0, 0, 0, 17]) { _ in delivered += 1 }
        }
        #expect(delivered == 1)
        // Sticky: the call is over.
        #expect(throws: GRPCFrameDecoder.DecodeError.messageTooLarge(17)) {
            try decoder.feed([0, 0, 0, 0, 0]) { _ in delivered += 1 }
        }
        #expect(delivered == 1)
    }

    @Test func hugeLengthIsReportedWhole() {
        var decoder = GRPCFrameDecoder(maxMessageSize: 4 * 1024 * 1024)
        #expect(throws: GRPCFrameDecoder.DecodeError.messageTooLarge(Int(UInt32.max))) {
            try decoder.feed([1, 0xFF, 0xFF, 0xFF, 0xFF]) { _ in }
        }
    }

    @Test(arguments: [UInt8(2), 0x80, 0xFF])
    func invalidFlag(flag: UInt8) {
        var decoder = GRPCFrameDecoder(maxMessageSize: 16)
        #expect(throws: GRPCFrameDecoder.DecodeError.invalidFlag(flag)) {
            try decoder.feed([0, 0, 0, 0, 1, 9, flag, 0, 0, 0, 0]) { _ in }
        }
        #expect(throws: GRPCFrameDecoder.DecodeError.invalidFlag(flag)) {
            try decoder.feed([]) { _ in }
        }
    }
}

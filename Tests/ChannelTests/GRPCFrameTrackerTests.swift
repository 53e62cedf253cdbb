import Channel
import Testing

/// A gRPC stream of messages with these payload lengths; every other one is flagged compressed,
/// and payload bytes look like prefixes, so that a tracker reading them as such would be caught.
private func stream(_ lengths: [Int]) -> [UInt8] {
    var out: [UInt8] = []
    for (i, n) in lengths.enumerated() {
        GRPCFrame.writeHeader(compressed: i % 2 == 1, length: UInt32(n), into: &out)
        out.append(contentsOf: (0 ..< n).map { UInt8(truncatingIfNeeded: $0 % 3 == 0 ? 0 : 0xff) })
    }
    return out
}

/// The offsets at which a message ends (0 included: the stream starts between messages).
private func boundaries(_ lengths: [Int]) -> [Int] {
    var at = 0, out = [0]
    for n in lengths {
        at += GRPCFrame.headerSize + n
        out.append(at)
    }
    return out
}

private func feed(_ tracker: inout GRPCFrameTracker, _ bytes: ArraySlice<UInt8>) -> Int {
    Array(bytes).withUnsafeBytes { tracker.feed($0) }
}

@Suite struct GRPCFrameTrackerTests {
    /// (message lengths, chunk end offsets; messages completed by each chunk, insideMessage after each).
    @Test(arguments: [
        ([3], [8], [1], [false]),
        ([0], [5], [1], [false]),
        ([0, 0, 0], [15], [3], [false]),
        ([3, 4], [17], [2], [false]),
        // The prefix split across chunks.
        ([3], [1, 8], [0, 1], [true, false]),
        ([3], [2, 8], [0, 1], [true, false]),
        ([3], [4, 8], [0, 1], [true, false]),
        ([0], [3, 5], [0, 1], [true, false]),
        ([0], [1, 2, 3, 4, 5], [0, 0, 0, 0, 1], [true, true, true, true, false]),
        // The prefix whole, the payload still to come.
        ([3], [5, 8], [0, 1], [true, false]),
        // Inside the payload.
        ([3], [6, 7, 8], [0, 0, 1], [true, true, false]),
        // Two whole messages and part of a third; then the rest.
        ([1, 2, 3], [16, 21], [2, 1], [true, false]),
        ([1, 2, 3], [13, 16, 21], [2, 0, 1], [false, true, false]),
        // A chunk that ends one message and starts the next.
        ([2, 2], [9, 14], [1, 1], [true, false]),
        // Zero-length messages around a split prefix.
        ([0, 3, 0], [7, 18], [1, 2], [true, false]),
        // 300 bytes: the length needs two bytes.
        ([300, 1], [5, 305, 311], [0, 1, 1], [true, false, false]),
    ] as [([Int], [Int], [Int], [Bool])])
    func perChunk(lengths: [Int], cuts: [Int], completed: [Int], inside: [Bool]) {
        let bytes = stream(lengths)
        #expect(cuts.last == bytes.count)
        var tracker = GRPCFrameTracker()
        var start = 0
        for (i, end) in cuts.enumerated() {
            #expect(feed(&tracker, bytes[start ..< end]) == completed[i], "chunk \(i)")
            #expect(tracker.insideMessage == inside[i], "chunk \(i)")
            start = end
        }
    }

    @Test func freshTrackerIsBetweenMessages() {
        let tracker = GRPCFrameTracker()
        #expect(!tracker.insideMessage)
    }

    @Test func emptyChunkChangesNothing() {
        var tracker = GRPCFrameTracker()
        #expect(feed(&tracker, []) == 0)
        #expect(!tracker.insideMessage)
        #expect(feed(&tracker, [0, 0, 0]) == 0)
        #expect(feed(&tracker, []) == 0)
        #expect(tracker.insideMessage)
        #expect(feed(&tracker, [0, 2, 7, 7]) == 1)
        #expect(!tracker.insideMessage)
    }

    @Test(arguments: 1 ... 4)
    func insideAfterPartialPrefix(prefixBytes: Int) {
        var tracker = GRPCFrameTracker()
        let bytes = stream([10])
        #expect(feed(&tracker, bytes[0 ..< prefixBytes]) == 0)
        #expect(tracker.insideMessage)
    }

    @Test(arguments: 5 ... 14)
    func insideAfterPartialPayload(upTo: Int) {
        var tracker = GRPCFrameTracker()
        let bytes = stream([10])
        #expect(feed(&tracker, bytes[0 ..< upTo]) == 0)
        #expect(tracker.insideMessage)
        #expect(feed(&tracker, bytes[upTo...]) == 1)
        #expect(!tracker.insideMessage)
    }

    /// The compressed flag is not part of the length.
    @Test(arguments: [UInt8(0), 1, 0xff])
    func flagByteIsIgnored(flag: UInt8) {
        var tracker = GRPCFrameTracker()
        #expect(feed(&tracker, [flag, 0, 0, 0, 1, 42, flag, 0, 0, 0, 0]) == 2)
        #expect(!tracker.insideMessage)
    }

    /// All four length bytes count, big-endian: 0x01020304 bytes, fed in 1 MiB pieces.
    @Test func fourByteLength() {
        var tracker = GRPCFrameTracker()
        #expect(feed(&tracker, [0, 0x01, 0x02, 0x03, 0x04]) == 0)
        let length = 0x0102_0304
        let piece = [UInt8](repeating: 0, count: 1 << 20)
        var left = length
        piece.withUnsafeBytes { mib in
            while left > mib.count {
                #expect(tracker.feed(mib) == 0)
                left -= mib.count
            }
        }
        #expect(feed(&tracker, piece[0 ..< left - 1]) == 0)
        #expect(tracker.insideMessage)
        #expect(feed(&tracker, [0]) == 1)
        #expect(!tracker.insideMessage)
    }

    static let streams: [[Int]] = [[2, 0, 7], [0, 0, 0], [1, 300, 5], [6]]

    /// Every split of a stream into two or three pieces: the same total, and after each piece the
    /// messages that ended within it and insideMessage exactly when the cut is not a boundary.
    @Test(arguments: streams)
    func splitEquivalence(lengths: [Int]) {
        let bytes = stream(lengths)
        let ends = boundaries(lengths)
        func endedBy(_ offset: Int) -> Int { ends.filter { $0 > 0 && $0 <= offset }.count }
        var failures = 0
        for i in 0 ... bytes.count {
            for j in i ... bytes.count {
                var tracker = GRPCFrameTracker()
                let a = feed(&tracker, bytes[0 ..< i])
                let insideA = tracker.insideMessage
                let b = feed(&tracker, bytes[i ..< j])
                let insideB = tracker.insideMessage
                let c = feed(&tracker, bytes[j...])
                let ok = a == endedBy(i) && insideA == !ends.contains(i)
                    && b == endedBy(j) - endedBy(i) && insideB == !ends.contains(j)
                    && a + b + c == lengths.count && !tracker.insideMessage
                if !ok {
                    failures += 1
                    if failures <= 5 { Issue.record("split at \(i), \(j): \(a) \(b) \(c)") }
                }
            }
        }
        #expect(failures == 0)
    }

    @Test(arguments: streams)
    func byteByByte(lengths: [Int]) {
        let bytes = stream(lengths)
        let ends = Set(boundaries(lengths))
        var tracker = GRPCFrameTracker()
        var total = 0
        for i in 0 ..< bytes.count {
            let n = feed(&tracker, bytes[i ... i])
            #expect(n == (ends.contains(i + 1) ? 1 : 0), "byte \(i)")
            #expect(tracker.insideMessage == !ends.contains(i + 1), "byte \(i)")
            total += n
        }
        #expect(total == lengths.count)
    }
}

import UVLoop
import Testing

@Suite struct ByteQueueTests {
    /// Bytes come out in order and complete, whatever the chunking and wrap-around.
    @Test(arguments: [1, 7, 1000, 5000])
    func preservesOrderAcrossWrapAndGrowth(chunk: Int) {
        var q = ByteQueue()
        var input: [UInt8] = []
        var output: [UInt8] = []
        var next: UInt8 = 0
        for round in 0 ..< 50 {
            var piece = [UInt8](repeating: 0, count: chunk + round)
            for i in piece.indices { piece[i] = next; next &+= 1 }
            input += piece
            piece.withUnsafeBytes { q.append($0) }
            let take = min(q.count, chunk / 2 + 3)
            var out = [UInt8](repeating: 0, count: take)
            out.withUnsafeMutableBytes { q.read(into: $0) }
            output += out
        }
        var rest = [UInt8](repeating: 0, count: q.count)
        rest.withUnsafeMutableBytes { q.read(into: $0) }
        output += rest
        #expect(output == input)
        let empty = q.isEmpty
        #expect(empty)
    }

    /// Bytes read with `readKeeping` come out again, in order and before the rest, after
    /// `rewind`, whatever was appended and grown meanwhile (wrap-around included); after
    /// `forgetKept` only what was never read comes out.
    @Test(arguments: [1, 7, 300, 5000])
    func keptBytesComeOutAgainAfterRewind(chunk: Int) {
        var q = ByteQueue()
        var input: [UInt8] = []
        var next: UInt8 = 0
        func append(_ n: Int) {
            var piece = [UInt8](repeating: 0, count: n)
            for i in piece.indices { piece[i] = next; next &+= 1 }
            input += piece
            piece.withUnsafeBytes { q.append($0) }
        }
        func read(_ n: Int, keeping: Bool) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: n)
            out.withUnsafeMutableBytes { keeping ? q.readKeeping(into: $0) : q.read(into: $0) }
            return out
        }
        // Move the head off zero first, so that the kept region wraps.
        append(chunk)
        let before = read(chunk / 2 + 1 > chunk ? chunk : chunk / 2 + 1, keeping: false)
        var sent: [UInt8] = []
        for round in 0 ..< 20 {
            append(chunk + round)
            sent += read(min(q.count, chunk / 3 + 1), keeping: true)
        }
        #expect(q.kept == sent.count)
        q.rewind()
        #expect(q.kept == 0)
        let again = read(q.count, keeping: false)
        #expect(before + again == input)
        #expect(Array(again.prefix(sent.count)) == sent)

        append(chunk)
        _ = read(q.count / 2, keeping: true)
        q.forgetKept()
        let rest = read(q.count, keeping: false)
        #expect(Array(input.suffix(rest.count)) == rest)
        let empty = q.isEmpty && q.kept == 0
        #expect(empty)
    }
}

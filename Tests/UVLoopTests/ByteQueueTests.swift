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
}

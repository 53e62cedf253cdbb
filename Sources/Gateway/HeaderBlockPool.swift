import Channel

/// Per-worker recycling of header blocks: every call needs three or four (request, response
/// headers, trailers), each one allocation plus its object; reusing them keeps the allocator
/// off the per-call path. Loop-thread only. Keeps at most `limit` blocks, and drops blocks a
/// large header set made big, so idle memory stays small.
final class HeaderBlockPool {
    private var free: [Metadata] = []
    private let limit: Int
    private static let maxKeptSize = 4096

    init(limit: Int = 1024) {
        self.limit = limit
        free.reserveCapacity(limit)
    }

    @inline(__always)
    func take() -> Metadata {
        free.popLast() ?? Metadata(reservingBytes: 320, fields: 12)
    }

    @inline(__always)
    func give(_ h: Metadata) {
        guard free.count < limit, h.storageSize <= HeaderBlockPool.maxKeptSize else { return }
        h.reset()
        free.append(h)
    }
}

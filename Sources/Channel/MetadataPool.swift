/// Per-worker recycling of header blocks: every call needs three or four (request, response
/// headers, trailers), each one allocation plus its object; reusing them keeps the allocator
/// off the per-call path. Loop-thread only. Keeps at most `limit` blocks, and drops blocks a
/// large header set made big, so idle memory stays small.
public final class MetadataPool {
    @usableFromInline var free: [Metadata] = []
    @usableFromInline let limit: Int
    @usableFromInline static let maxKeptSize = 4096

    public init(limit: Int = 1024) {
        self.limit = limit
        free.reserveCapacity(limit)
    }

    @inlinable @inline(__always)
    public func take() -> Metadata {
        free.popLast() ?? Metadata(reservingBytes: 320, fields: 12)
    }

    /// Consuming: a caller that owns its reference (`take()`'s, one taken out of an optional)
    /// hands it over without a retain and a release.
    @inlinable @inline(__always)
    public func give(_ h: consuming Metadata) {
        // A session still holds it (its frame is not serialized yet): it gives it back then.
        if h.holds > 0 {
            h.givenBackWhileHeld = true
            return
        }
        guard free.count < limit, h.storageSize <= MetadataPool.maxKeptSize else { return }
        h.reset()
        free.append(h)
    }
}

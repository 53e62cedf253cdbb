/// A FIFO of monotonic times (open-loop calls waiting for a free slot): a ring buffer that grows
/// by doubling and never shrinks during a run.
struct TimeQueue {
    private var storage: [UInt64] = [UInt64](repeating: 0, count: 1024)
    private var head = 0
    private(set) var count = 0

    mutating func push(_ t: UInt64) {
        if count == storage.count {
            var bigger = [UInt64](repeating: 0, count: storage.count * 2)
            for i in 0 ..< count { bigger[i] = storage[(head + i) & (storage.count - 1)] }
            storage = bigger
            head = 0
        }
        storage[(head + count) & (storage.count - 1)] = t
        count += 1
    }

    mutating func popFirst() -> UInt64? {
        guard count > 0 else { return nil }
        let t = storage[head]
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return t
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}

import UVLoop

/// One timer per worker over a binary min-heap of call deadlines (loop milliseconds), with
/// O(log n) removal when a call ends first. Replaces a uv_timer per call.
/// Holders are the calls themselves (`deadlineMs`, `deadlineIndex`, `deadlineExpired()`).
/// The heap holds them unretained, beside their deadline, so that heap moves are plain copies
/// with no reference counting: a call leaves the heap when it ends, and at the latest in its
/// `deinit`.
final class DeadlineQueue {
    private struct Entry {
        var deadlineMs: UInt64
        var call: Unmanaged<Call>
        @inline(__always) func setIndex(_ i: Int) { call._withUnsafeGuaranteedRef { $0.deadlineIndex = i } }
    }

    private var heap: [Entry] = []
    private let loop: Loop
    private var timer: Timer!
    private var armedFor: UInt64 = .max

    init(loop: Loop) {
        self.loop = loop
        timer = Timer(loop: loop) { [unowned self] in self.fire() }
        timer.unref()
    }

    func insert(_ h: Call) {
        h.deadlineIndex = heap.count
        heap.append(Entry(deadlineMs: h.deadlineMs, call: Unmanaged.passUnretained(h)))
        up(heap.count - 1)
        arm()
    }

    func remove(_ h: Call) {
        let i = h.deadlineIndex
        guard i >= 0, i < heap.count, heap[i].call.toOpaque() == Unmanaged.passUnretained(h).toOpaque() else { return }
        h.deadlineIndex = -1
        let last = heap.removeLast()
        if i < heap.count {
            heap[i] = last
            last.setIndex(i)
            down(i)
            up(i)
        }
    }

    private func arm() {
        guard let first = heap.first else { return }
        if first.deadlineMs == armedFor { return }
        armedFor = first.deadlineMs
        let now = loop.now
        timer.start(timeoutMs: first.deadlineMs > now ? first.deadlineMs - now : 0)
    }

    private func fire() {
        armedFor = .max
        loop.updateTime()
        let now = loop.now
        while let first = heap.first, first.deadlineMs <= now {
            let call = first.call.takeUnretainedValue()  // held while it ends
            remove(call)
            call.deadlineExpired()
        }
        arm()
    }

    func close() { timer.close() }

    private func up(_ i: Int) {
        var i = i
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i].deadlineMs < heap[p].deadlineMs else { break }
            heap.swapAt(i, p)
            heap[i].setIndex(i)
            heap[p].setIndex(p)
            i = p
        }
    }

    private func down(_ i: Int) {
        var i = i
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, heap[l].deadlineMs < heap[m].deadlineMs { m = l }
            if r < n, heap[r].deadlineMs < heap[m].deadlineMs { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            heap[i].setIndex(i)
            heap[m].setIndex(m)
            i = m
        }
    }
}

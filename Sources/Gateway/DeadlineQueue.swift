import UVLoop

/// One timer per worker over a binary min-heap of call deadlines (loop milliseconds), with
/// O(log n) removal when a call ends first. Replaces a uv_timer per call.
/// Holders are the calls themselves (`deadlineMs`, `deadlineIndex`, `deadlineExpired()`), a
/// concrete type so that heap moves are plain pointer moves.
final class DeadlineQueue {
    private var heap: [Call] = []
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
        heap.append(h)
        up(heap.count - 1)
        arm()
    }

    func remove(_ h: Call) {
        let i = h.deadlineIndex
        guard i >= 0, i < heap.count, heap[i] === h else { return }
        h.deadlineIndex = -1
        let last = heap.removeLast()
        if i < heap.count {
            heap[i] = last
            last.deadlineIndex = i
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
            remove(first)
            first.deadlineExpired()
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
            heap[i].deadlineIndex = i
            heap[p].deadlineIndex = p
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
            heap[i].deadlineIndex = i
            heap[m].deadlineIndex = m
            i = m
        }
    }
}

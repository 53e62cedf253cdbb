import Testing
@testable import Upstream

@Suite struct PoolPlanTests {
    @Test(arguments: [
        // waiting, live, comingUp, max, perConnection -> open
        (0, 0, 0, 4, 100, 0),      // nobody waits
        (1, 0, 0, 4, 100, 1),      // the first call opens the first connection
        (100, 0, 0, 4, 100, 1),    // one connection's worth
        (101, 0, 0, 4, 100, 2),
        (150, 1, 1, 4, 100, 1),    // one coming up covers 100 of them
        (80, 1, 1, 4, 100, 0),     // ... or all of them
        (1000, 0, 0, 4, 100, 4),   // capped by max_connections
        (1000, 3, 0, 4, 100, 1),   // three ready (full) connections: one more allowed
        (1000, 4, 0, 4, 100, 0),   // at the limit
        (1000, 5, 0, 4, 100, 0),   // above it (a lowered limit after a reload): none, never negative
        (5, 0, 0, 0, 100, 0),      // max_connections 0 opens nothing
    ] as [(Int, Int, Int, Int, Int, Int)])
    func connectionsToOpen(waiting: Int, live: Int, comingUp: Int, max: Int, per: Int, expected: Int) {
        #expect(PoolPlan.connectionsToOpen(waiting: waiting, live: live, comingUp: comingUp,
                                           maxConnections: max, streamsPerConnection: per) == expected)
    }

    @Test func backoffDoublesFromTheBaseUpToTheMaximum() {
        var wait: UInt64 = 0
        var seen: [UInt64] = []
        for _ in 0 ..< 8 {
            wait = PoolPlan.nextBackoff(currentMs: wait, baseMs: 100, maxMs: 5_000)
            seen.append(wait)
        }
        #expect(seen == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000])
        #expect(PoolPlan.nextBackoff(currentMs: .max, baseMs: 100, maxMs: 5_000) == 5_000)
        #expect(PoolPlan.nextBackoff(currentMs: 0, baseMs: 10_000, maxMs: 5_000) == 5_000)
    }

    @Test func roundRobinSkipsUnavailableAndExcludedEndpoints() {
        // Three endpoints, all up: each pick moves the turn on.
        var next = 0
        var order: [Int] = []
        for _ in 0 ..< 4 {
            let p = try! #require(PoolPlan.pick(count: 3, next: next, skip: nil) { _ in true })
            order.append(p.index)
            next = p.next
        }
        #expect(order == [0, 1, 2, 0])
        // Endpoint 1 backing off: the turn passes over it.
        #expect(PoolPlan.pick(count: 3, next: 1, skip: nil) { $0 != 1 }! == (2, 0))
        // A retry excludes the endpoint that failed, even when it is the only one available.
        #expect(PoolPlan.pick(count: 3, next: 0, skip: 0) { $0 == 0 } == nil)
        #expect(PoolPlan.pick(count: 3, next: 0, skip: 0) { _ in true }! == (1, 2))
        #expect(PoolPlan.pick(count: 0, next: 0, skip: nil) { _ in true } == nil)
    }
}

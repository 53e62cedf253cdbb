/// The upstream pools' decisions as values: what `ClusterPool` and `EndpointPool` do is decided
/// here from plain numbers, with no connection, loop or clock, so that every rule is unit-tested
/// on its own (Tests/UpstreamTests) and the pools only carry the answers out.
public enum PoolPlan {
    /// How many connections an endpoint opens now: enough that the connections coming up will
    /// have room for every waiting call (each brings `streamsPerConnection`), never more than
    /// `maxConnections` alive. `live` counts connections that are not draining (a draining one
    /// takes no new streams and is not counted against the limit); `comingUp` of them are still
    /// connecting or handshaking.
    public static func connectionsToOpen(waiting: Int, live: Int, comingUp: Int,
                                         maxConnections: Int, streamsPerConnection: Int) -> Int {
        guard waiting > 0, streamsPerConnection > 0 else { return 0 }
        let incoming = comingUp * streamsPerConnection
        guard waiting > incoming else { return 0 }
        let wanted = (waiting - incoming + streamsPerConnection - 1) / streamsPerConnection
        return max(0, min(wanted, maxConnections - live))
    }

    /// The wait before the next connect to an endpoint whose connect just failed: `baseMs` after
    /// the first failure, doubling after each further one, at most `maxMs`. `currentMs` is the
    /// wait in force (0 after a success).
    public static func nextBackoff(currentMs: UInt64, baseMs: UInt64, maxMs: UInt64) -> UInt64 {
        if currentMs == 0 { return min(baseMs, maxMs) }
        let (doubled, overflow) = currentMs.multipliedReportingOverflow(by: 2)
        return overflow ? maxMs : min(doubled, maxMs)
    }

    /// Round robin over endpoints: the first index from `next` (wrapping) whose endpoint is
    /// `available` and is not `skip`, and where the turn continues after it; nil when none is.
    public static func pick(count: Int, next: Int, skip: Int?, available: (Int) -> Bool) -> (index: Int, next: Int)? {
        guard count > 0 else { return nil }
        for i in 0 ..< count {
            let index = (next + i) % count
            if index != skip, available(index) { return (index, (index + 1) % count) }
        }
        return nil
    }
}

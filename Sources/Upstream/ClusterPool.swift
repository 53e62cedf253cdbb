import Channel
import HTTP2
import TLS
import UVLoop

/// One worker's pool for one cluster: balances calls round-robin over the endpoints that are not
/// backing off after a failed connect; each endpoint keeps its own multiplexed connections.
/// Loop-thread only; nothing here is shared between workers.
public final class ClusterPool {
    public let settings: UpstreamClusterSettings
    let loop: Loop
    let flushQueue: FlushQueue
    let counters: CallCounters
    /// The worker's buffer for decrypted bytes (TLS clusters), shared by its connections.
    let plaintextBuffer: TLSPlaintextBuffer?
    private var endpoints: [EndpointPool] = []
    private var next = 0

    public init(settings: UpstreamClusterSettings, loop: Loop, flushQueue: FlushQueue, counters: CallCounters,
                plaintextBuffer: TLSPlaintextBuffer? = nil) {
        self.settings = settings
        self.plaintextBuffer = plaintextBuffer
        self.counters = counters
        self.loop = loop
        self.flushQueue = flushQueue
        endpoints = settings.endpoints.map { EndpointPool(cluster: self, host: $0.host, port: $0.port) }
    }

    /// Starts the upstream side of a call: it is attached to a stream now, queued, or failed
    /// (`attemptFailed`) — possibly before this returns.
    public func start(_ call: UpstreamAttempt) {
        guard let e = pick(excluding: nil) else {
            fail(call, reason: nil)
            return
        }
        e.start(call)
    }

    private func pick(excluding skip: EndpointPool?) -> EndpointPool? {
        let n = endpoints.count
        for i in 0 ..< n {
            let e = endpoints[(next + i) % n]
            if e !== skip, e.isAvailable {
                next = (next + i + 1) % n
                return e
            }
        }
        return nil
    }

    /// A call whose endpoint could not be reached tries another endpoint once, else fails.
    func retry(_ call: UpstreamAttempt, after failed: EndpointPool, reason: String) {
        guard !call.isDone else { return }
        if let e = pick(excluding: failed) {
            e.start(call)
        } else {
            fail(call, reason: reason)
        }
    }

    private func fail(_ call: UpstreamAttempt, reason: String?) {
        let why = reason ?? endpoints.compactMap(\.lastError).last ?? "all endpoints are backing off"
        call.fail(.unavailable, "upstream cluster \(settings.name) unavailable: \(why)")
    }

    /// Graceful shutdown of this pool's connections.
    public func drain() {
        for e in endpoints { e.drain() }
    }
}

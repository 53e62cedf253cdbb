import Channel
import HTTP2
import TLS
import UVLoop

/// One worker's pool for one cluster: balances calls round-robin over the endpoints that are not
/// backing off after a failed connect; each endpoint keeps its own multiplexed connections.
/// An endpoint given by host name stands for every address it resolves to (ClusterPool+DNS.swift).
/// Loop-thread only; nothing here is shared between workers.
public final class ClusterPool {
    public let settings: UpstreamClusterSettings
    let loop: Loop
    let flushQueue: FlushQueue
    let counters: CallCounters
    /// The worker's buffer for decrypted bytes (TLS clusters), shared by its connections.
    let plaintextBuffer: TLSPlaintextBuffer?
    /// The worker's header blocks: the connections' sessions give request heads back there
    /// once sent (they take them without a copy).
    let headerPool: MetadataPool?
    /// The endpoints calls are balanced over: the IP literals of the settings, then the
    /// current addresses of each host name.
    var endpoints: [EndpointPool] = [] {
        didSet { mirrorEndpoints() }
    }
    /// `endpoints` unmanaged (valid while that array holds them): picking one per call costs no
    /// reference counting.
    private var endpointRefs: ContiguousArray<Unmanaged<EndpointPool>> = []

    private func mirrorEndpoints() {
        endpointRefs = ContiguousArray(endpoints.lazy.map { Unmanaged.passUnretained($0) })
    }
    private var next = 0
    /// The IP-literal endpoints (fixed).
    var literalEndpoints: [EndpointPool] = []
    /// The host-name endpoints and what they resolve to.
    var names: [ResolvedName] = []
    /// Endpoints that left the set (a reload is not needed for that: DNS changed), kept until
    /// their connections are gone.
    var departedEndpoints: [EndpointPool] = []
    /// Calls that came while no endpoint was known yet (host names not answered); bounded by
    /// `maxPendingCalls`. A cancelled one stays until the answer and is then skipped.
    var awaitingAnswer: [UpstreamAttempt] = []
    var refreshTimer: Timer?
    /// No longer in the worker's current config (a reload removed or changed the cluster): its
    /// connections close as soon as they carry no stream. Calls that started on the old config
    /// may still be sent here (a JSON unary call opens its upstream when its body is complete);
    /// a connection opened for them closes when they end.
    public private(set) var isRetired = false

    public init(settings: UpstreamClusterSettings, loop: Loop, flushQueue: FlushQueue, counters: CallCounters,
                plaintextBuffer: TLSPlaintextBuffer? = nil, headerPool: MetadataPool? = nil) {
        self.settings = settings
        self.plaintextBuffer = plaintextBuffer
        self.headerPool = headerPool
        self.counters = counters
        self.loop = loop
        self.flushQueue = flushQueue
        for e in settings.endpoints {
            if let address = ResolvedAddress(ip: e.host, port: e.port) {
                literalEndpoints.append(EndpointPool(cluster: self, host: e.host, address: address))
            } else {
                names.append(ResolvedName(host: e.host, port: e.port))
            }
        }
        endpoints = literalEndpoints
        mirrorEndpoints()  // (no didSet in init)
        startResolving()
    }

    deinit {
        refreshTimer?.close()
    }

    /// Starts the upstream side of a call: it is attached to a stream now, queued, or failed
    /// (`attemptFailed`) — possibly before this returns.
    public func start(_ call: UpstreamAttempt) {
        if endpoints.isEmpty, !names.isEmpty {
            awaitAnswer(call)
            return
        }
        guard let e = pickRef(skip: nil) else {
            fail(call, reason: nil)
            return
        }
        e._withUnsafeGuaranteedRef { $0.start(call) }
    }

    func pick(excluding skip: EndpointPool?) -> EndpointPool? {
        let skipIndex = skip.flatMap { s in endpoints.firstIndex { $0 === s } }
        return pickRef(skip: skipIndex)?.takeUnretainedValue()
    }

    /// The next endpoint in turn, unmanaged (valid while `endpoints` holds it).
    @inline(__always)
    private func pickRef(skip: Int?) -> Unmanaged<EndpointPool>? {
        guard let p = PoolPlan.pick(count: endpointRefs.count, next: next, skip: skip,
                                    available: { endpointRefs[$0]._withUnsafeGuaranteedRef { $0.isAvailable } }) else { return nil }
        next = p.next
        return endpointRefs[p.index]
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

    func fail(_ call: UpstreamAttempt, reason: String?) {
        let why = reason ?? endpoints.compactMap(\.lastError).last ?? lastResolveError ?? "all endpoints are backing off"
        call.fail(.unavailable, "upstream cluster \(settings.name) unavailable: \(why)")
    }

    /// Graceful shutdown of this pool's connections.
    public func drain() {
        refreshTimer?.close()
        for e in endpoints + departedEndpoints { e.drain() }
    }

    /// A reload has replaced this pool: idle connections close now, busy ones when their last
    /// stream ends; calls waiting for a connection are still served.
    public func retire() {
        isRetired = true
        refreshTimer?.close()
        for e in endpoints + departedEndpoints { e.retire() }
    }

    /// No connection open or coming up, no call waiting: a retired pool may be dropped.
    public var isIdle: Bool {
        (endpoints + departedEndpoints).allSatisfy(\.isIdle) && !names.contains(where: \.resolving)
            && !awaitingAnswer.contains { !$0.isDone }
    }
}

import Channel
import HTTP2
import UVLoop

/// The connections of one worker to one endpoint, and the calls waiting for room on them.
/// A call goes on an open connection with room; else it waits in a bounded queue while a new
/// connection is opened (up to `maxConnections`); a full queue is RESOURCE_EXHAUSTED.
final class EndpointPool {
    unowned(unsafe) let cluster: ClusterPool
    /// The host as the routes file names it (an IP literal, or the host name `address` is one
    /// of the addresses of).
    let host: String
    let address: ResolvedAddress
    private(set) var connections: [UpstreamConnection] = [] {
        didSet { connectionRefs = ContiguousArray(connections.lazy.map { Unmanaged.passUnretained($0) }) }
    }
    /// `connections` unmanaged (valid while that array holds them), for the per-call path:
    /// finding a connection with room costs no reference counting.
    private var connectionRefs: ContiguousArray<Unmanaged<UpstreamConnection>> = []
    /// FIFO of waiting calls; `head` is the first live index.
    private var waiting: [UpstreamAttempt?] = []
    private var head = 0
    private(set) var waitingCount = 0 {
        didSet { cluster.counters.add(cluster.counters.upstreamQueued, Int64(waitingCount - oldValue)) }
    }
    /// Backoff after a failed connect: no new connection before `retryAt` (loop ms).
    private(set) var retryAt: UInt64 = 0
    private var backoffMs: UInt64 = 0
    private(set) var lastError: String?

    init(cluster: ClusterPool, host: String, address: ResolvedAddress) {
        self.cluster = cluster
        self.host = host
        self.address = address
    }

    var port: UInt16 { address.port }

    /// `127.0.0.1:50051`, `[::1]:50051`, or `echo.internal:50051 (10.0.0.7)` for an address of a name.
    var name: String {
        ResolvedAddress(ip: host, port: address.port) != nil ? address.description : "\(host):\(address.port) (\(address.host))"
    }

    /// (`retryAt` is 0 after a connect succeeded: the clock is read only after a failure.)
    var isBackingOff: Bool { retryAt != 0 && retryAt > cluster.loop.now }

    /// Whether a new call may be sent here: not backing off, or a connection is up (a failed
    /// extra connect must not turn calls away from a healthy connection).
    var isAvailable: Bool { !isBackingOff || connections.contains { $0.state == .ready } }

    func start(_ call: UpstreamAttempt) {
        for i in 0 ..< connectionRefs.count {
            let c = connectionRefs[i]
            if c._withUnsafeGuaranteedRef({ $0.state == .ready && $0.room > 0 }) {
                c._withUnsafeGuaranteedRef { $0.open(call) }
                return
            }
        }
        if waitingCount >= cluster.settings.maxPendingCalls {
            call.fail(.resourceExhausted, "upstream cluster \(cluster.settings.name): \(waitingCount) calls already waiting for \(name)")
            return
        }
        call.waitingIn = self
        waiting.append(call)
        waitingCount += 1
        openConnectionsIfNeeded()
    }

    func removeWaiting(_ call: UpstreamAttempt) {
        call.waitingIn = nil
        for i in head ..< waiting.count where waiting[i] === call {
            waiting[i] = nil
            waitingCount -= 1
            break
        }
        compact()
    }

    private func compact() {
        while head < waiting.count, waiting[head] == nil { head += 1 }
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
    }

    private func popWaiting() -> UpstreamAttempt? {
        while head < waiting.count {
            let c = waiting[head]
            waiting[head] = nil
            head += 1
            if let c {
                waitingCount -= 1
                c.waitingIn = nil
                compact()
                return c
            }
        }
        compact()
        return nil
    }

    /// Opens connections while the waiting calls exceed the room of connections coming up.
    /// Connections draining (after a GOAWAY) do not count against `max_connections`: they take
    /// no new streams and close when their last stream ends.
    private func openConnectionsIfNeeded() {
        guard waitingCount > 0 else { return }
        guard !isBackingOff else {
            rehomeWaitingIfStuck(reason: lastError ?? "backing off after a failed connect")
            return
        }
        var comingUp = 0, live = 0
        for c in connections where c.state != .draining {
            live += 1
            if c.isComingUp { comingUp += 1 }
        }
        let open = PoolPlan.connectionsToOpen(waiting: waitingCount, live: live, comingUp: comingUp,
                                              maxConnections: cluster.settings.maxConnections,
                                              streamsPerConnection: cluster.settings.maxStreamsPerConnection)
        for _ in 0 ..< open where waitingCount > 0 {
            let c = UpstreamConnection(pool: self, address: address)
            connections.append(c)
            c.start()  // may fail at once, which removes it and moves the waiting calls
        }
    }

    /// Waiting calls that no connection of this endpoint can take, and for which none can be
    /// opened now (backing off), go to another endpoint or fail with UNAVAILABLE — they never
    /// wait for a backoff to end.
    private func rehomeWaitingIfStuck(reason: String) {
        guard waitingCount > 0,
              !connections.contains(where: { $0.isComingUp || $0.state == .ready }) else { return }
        var moved: [UpstreamAttempt] = []
        while let call = popWaiting() { moved.append(call) }
        for call in moved { cluster.retry(call, after: self, reason: reason) }
    }

    /// Moves waiting calls onto connections with room.
    private func dispatchWaiting() {
        for c in connections where c.state == .ready {
            while waitingCount > 0, c.room > 0, let call = popWaiting() {
                c.open(call)
            }
        }
        openConnectionsIfNeeded()
    }

    // MARK: connection events

    func connectionReady(_ c: UpstreamConnection) {
        backoffMs = 0
        retryAt = 0
        dispatchWaiting()
        if cluster.isRetired, c.streamCount == 0 { c.drain() }
    }

    func connectionFailed(_ c: UpstreamConnection, reason: String) {
        connections.removeAll { $0 === c }
        failAttempt(reason)
        cluster.endpointFailed(self)
    }

    private func failAttempt(_ reason: String) {
        lastError = reason
        let s = cluster.settings
        backoffMs = PoolPlan.nextBackoff(currentMs: backoffMs, baseMs: s.backoffBaseMs, maxMs: s.backoffMaxMs)
        retryAt = cluster.loop.now + backoffMs
        // Calls that were waiting for this endpoint try another one, or fail with UNAVAILABLE.
        rehomeWaitingIfStuck(reason: reason)
    }

    func connectionDraining(_ c: UpstreamConnection) {
        dispatchWaiting()
    }

    func streamClosed(on c: UpstreamConnection) {
        if waitingCount > 0 { dispatchWaiting() }
        if c.streamCount == 0 {
            if cluster.isRetired, c.state == .ready { c.drain() }
            if c.state == .draining { c.scheduleFlush() }
        }
    }

    func connectionClosed(_ c: UpstreamConnection) {
        connections.removeAll { $0 === c }
        if waitingCount > 0 { dispatchWaiting() }
    }

    /// Shutdown: no new streams; connections close once idle.
    func drain() {
        for c in connections { c.drain() }
    }

    /// Replaced by a reload: ready connections take no new streams and close once idle;
    /// connections coming up still serve the calls waiting for them (then close).
    func retire() {
        for c in connections where c.state == .ready { c.drain() }
    }

    /// The address left its name's DNS answer: as `retire`, and calls waiting here that no
    /// connection will take go to another endpoint.
    func depart() {
        retire()
        rehomeWaitingIfStuck(reason: "\(name) left the DNS answer")
    }

    var isIdle: Bool { connections.isEmpty && waitingCount == 0 }
}

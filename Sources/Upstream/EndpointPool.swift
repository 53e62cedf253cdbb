import Channel
import HTTP2
import UVLoop

/// The connections of one worker to one endpoint, and the calls waiting for room on them.
/// A call goes on an open connection with room; else it waits in a bounded queue while a new
/// connection is opened (up to `maxConnections`); a full queue is RESOURCE_EXHAUSTED.
final class EndpointPool {
    unowned(unsafe) let cluster: ClusterPool
    let host: String
    let port: UInt16
    private let literal: ResolvedAddress?
    private var resolved: ResolvedAddress?
    private var resolving = false
    private(set) var connections: [UpstreamConnection] = []
    /// FIFO of waiting calls; `head` is the first live index.
    private var waiting: [UpstreamAttempt?] = []
    private var head = 0
    private(set) var waitingCount = 0
    /// Backoff after a failed connect: no new connection before `retryAt` (loop ms).
    private(set) var retryAt: UInt64 = 0
    private var backoffMs: UInt64 = 0
    private(set) var lastError: String?

    init(cluster: ClusterPool, host: String, port: UInt16) {
        self.cluster = cluster
        self.host = host
        self.port = port
        literal = ResolvedAddress(ip: host, port: port)
    }

    var name: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    var isBackingOff: Bool { retryAt > cluster.loop.now }

    /// Whether a new call may be sent here: not backing off, or a connection is up (a failed
    /// extra connect must not turn calls away from a healthy connection).
    var isAvailable: Bool { !isBackingOff || connections.contains { $0.state == .ready } }

    func start(_ call: UpstreamAttempt) {
        // By index: a for-in over the array would retain every connection it passes.
        for i in connections.indices where connections[i].state == .ready && connections[i].room > 0 {
            connections[i].open(call)
            return
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
        var incoming = 0, live = 0
        for c in connections where c.state != .draining {
            live += 1
            if c.isComingUp { incoming += cluster.settings.maxStreamsPerConnection }
        }
        while waitingCount > incoming, live < cluster.settings.maxConnections {
            guard let address = literal ?? resolved else {
                resolve()
                return
            }
            let c = UpstreamConnection(pool: self, address: address)
            connections.append(c)
            live += 1
            incoming += cluster.settings.maxStreamsPerConnection
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

    /// Host names are resolved on demand and re-resolved after a connect failure.
    private func resolve() {
        guard !resolving else { return }
        resolving = true
        Resolver.resolve(loop: cluster.loop, host: host, port: port) { [self] result in
            resolving = false
            switch result {
            case let .success(addrs):
                resolved = addrs[0]
                openConnectionsIfNeeded()
            case let .failure(err):
                failAttempt("cannot resolve \(host): \(err)")
            }
        }
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
    }

    func connectionFailed(_ c: UpstreamConnection, reason: String) {
        connections.removeAll { $0 === c }
        if literal == nil { resolved = nil }
        failAttempt(reason)
    }

    private func failAttempt(_ reason: String) {
        lastError = reason
        let s = cluster.settings
        backoffMs = backoffMs == 0 ? s.backoffBaseMs : min(backoffMs * 2, s.backoffMaxMs)
        retryAt = cluster.loop.now + backoffMs
        // Calls that were waiting for this endpoint try another one, or fail with UNAVAILABLE.
        rehomeWaitingIfStuck(reason: reason)
    }

    func connectionDraining(_ c: UpstreamConnection) {
        dispatchWaiting()
    }

    func streamClosed(on c: UpstreamConnection) {
        if waitingCount > 0 { dispatchWaiting() }
        if c.state == .draining, c.streamCount == 0 { c.scheduleFlush() }
    }

    func connectionClosed(_ c: UpstreamConnection) {
        connections.removeAll { $0 === c }
        if waitingCount > 0 { dispatchWaiting() }
    }

    /// Shutdown: no new streams; connections close once idle.
    func drain() {
        for c in connections { c.drain() }
    }
}

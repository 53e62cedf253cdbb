import Channel
import Logging
import UVLoop

/// A cluster endpoint given by host name: every A and AAAA record of the answer is an endpoint
/// of its own (Envoy's STRICT_DNS). Resolved off the loop (uv_getaddrinfo on libuv's thread
/// pool) when the pool is made, every `dnsRefreshMs`, and at once after a failed connect to one
/// of its addresses. A lookup that fails keeps the last good set (logged once, counted in
/// `trestle_upstream_dns_failures_total`); addresses that leave the set drain.
final class ResolvedName {
    let host: String
    let port: UInt16
    /// The endpoints of the last good answer, in its order.
    var endpoints: [EndpointPool] = []
    var answered = false
    var resolving = false
    /// The last lookup failed (logged once until one succeeds again).
    var failing = false
    var lastError: String?

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    var label: String { "\(host):\(port)" }
}

extension ClusterPool {
    var lastResolveError: String? { names.compactMap(\.lastError).last }

    func startResolving() {
        guard !names.isEmpty else { return }
        for i in names.indices { resolve(i) }
        refreshTimer = Timer(loop: loop) { [weak self] in self?.refresh() }
        refreshTimer?.unref()   // never keeps the loop alive on its own
        refreshTimer?.start(timeoutMs: settings.dnsRefreshMs, repeatMs: settings.dnsRefreshMs)
    }

    private func refresh() {
        departedEndpoints.removeAll { $0.isIdle }
        for i in names.indices { resolve(i) }
    }

    /// A connect to `e` failed: if it stands for a host name, ask again now (the name may point
    /// elsewhere already, as a Kubernetes headless Service does when a pod is replaced).
    func endpointFailed(_ e: EndpointPool) {
        guard !isRetired, let i = names.firstIndex(where: { n in n.endpoints.contains { $0 === e } }) else { return }
        resolve(i)
    }

    /// A call that came before any address is known: it waits for the first answer.
    func awaitAnswer(_ call: UpstreamAttempt) {
        awaitingAnswer.removeAll { $0.isDone }
        if awaitingAnswer.count >= settings.maxPendingCalls {
            call.fail(.resourceExhausted, "upstream cluster \(settings.name): \(awaitingAnswer.count) calls already waiting for DNS")
            return
        }
        awaitingAnswer.append(call)
        for i in names.indices where !names[i].answered { resolve(i) }
    }

    private func resolve(_ i: Int) {
        let name = names[i]
        guard !name.resolving else { return }
        name.resolving = true
        Resolver.resolve(loop: loop, host: name.host, port: name.port) { [weak self] result in
            name.resolving = false
            self?.answered(name, result)
        }
    }

    private func answered(_ name: ResolvedName, _ result: Result<[ResolvedAddress], UVError>) {
        switch result {
        case .success(let addresses):
            if name.failing {
                upstreamLog.notice("cluster \(settings.name): \(name.label) resolves again")
            }
            name.failing = false
            name.lastError = nil
            name.answered = true
            update(name, addresses)
        case .failure(let error):
            let why = "cannot resolve \(name.host): \(error)"
            name.lastError = why
            counters.add(counters.upstreamDNSFailures)
            if !name.failing {
                name.failing = true
                let kept = name.answered ? "keeping the \(name.endpoints.count) addresses of the last answer" : "no address known yet"
                upstreamLog.warning("cluster \(settings.name): \(why); \(kept)")
            }
        }
        dispatchAwaiting()
    }

    /// Makes `addresses` the name's endpoints: new ones join, missing ones drain.
    private func update(_ name: ResolvedName, _ addresses: [ResolvedAddress]) {
        var seen = Set<String>()
        var fresh: [EndpointPool] = []
        for a in addresses where seen.insert(a.description).inserted {
            if let e = name.endpoints.first(where: { $0.address.description == a.description }) {
                fresh.append(e)
            } else {
                fresh.append(EndpointPool(cluster: self, host: name.host, address: a))
            }
        }
        let gone = name.endpoints.filter { e in !fresh.contains { $0 === e } }
        let changed = !gone.isEmpty || fresh.count != name.endpoints.count
        name.endpoints = fresh
        guard changed else { return }
        endpoints = literalEndpoints + names.flatMap(\.endpoints)
        for e in gone {
            departedEndpoints.append(e)
            e.depart()
        }
    }

    /// Calls that waited for an answer go to an endpoint now, or fail once no lookup is left
    /// that could give them one.
    private func dispatchAwaiting() {
        guard !awaitingAnswer.isEmpty else { return }
        if endpoints.isEmpty && names.contains(where: \.resolving) { return }
        let calls = awaitingAnswer
        awaitingAnswer.removeAll()
        for call in calls where !call.isDone {
            if let e = pick(excluding: nil) {
                e.start(call)
            } else {
                fail(call, reason: nil)
            }
        }
    }
}

/// The upstream pools' logger (DNS answers), on whatever handler the process installed.
let upstreamLog = Logger(label: "trestle")

import Channel
import HTTP2
import RouteConfig
import Upstream
import Synchronization
import TLS
import UVLoop

/// A config handed from the main thread to a worker: immutable and Sendable; the worker builds
/// its own snapshot (and pools) from it on its own loop.
struct PendingConfig: Sendable {
    let config: GatewayConfig
    let router: ServiceRouter<Int>
    let generation: Int
    /// Parallel to `config.clusters`: the TLS contexts of the TLS clusters (built from their
    /// files on the main thread), nil for h2c ones.
    let clusterTLS: [TLSContextHolder<TLSClientContext>?]
}

/// Hot reload, the worker's half (docs/ARCHITECTURE.md §5, "Config snapshots"): the main thread
/// leaves the next config in `nextConfig` and wakes the loop (uv_async); at that loop turn the
/// worker builds a new `ConfigSnapshot` and new calls start on it. Calls in flight keep theirs.
/// A cluster whose settings are unchanged keeps its pool (and its open connections); the pools
/// of clusters removed or changed are retired: they close their connections once idle.
/// The per-call path reads `snapshot`, a plain field of this loop's thread: no lock there.
extension Worker {
    /// Thread-safe: hands a validated config to this worker; it switches at its next loop turn.
    /// A later call before that replaces an earlier one (only the newest is applied).
    func adopt(_ next: PendingConfig) {
        nextConfig.withLock { $0 = next }
        reloadWakeup.send()
    }

    /// The generation of the snapshot new calls start on. Thread-safe.
    var appliedGeneration: Int { appliedGenerationValue.load(ordering: .acquiring) }

    /// On the loop: switch to the config left by `adopt`.
    func adoptNextConfig() {
        guard let next = nextConfig.withLock({ p in defer { p = nil }; return p }), !draining else { return }
        let old = snapshot!
        var kept: [ObjectIdentifier: Bool] = [:]
        let pools = next.config.clusters.enumerated().map { (index, cluster) -> ClusterPool in
            if let i = old.config.clusters.firstIndex(where: { $0.name == cluster.name }),
               Worker.samePool(old.config.clusters[i], old.config, cluster, next.config) {
                kept[ObjectIdentifier(old.pools[i])] = true
                return old.pools[i]
            }
            return makePool(cluster, config: next.config, tls: next.clusterTLS[index])
        }
        var retired: [String] = []
        for p in old.pools where kept[ObjectIdentifier(p)] == nil {
            p.retire()
            retiredPools.append(p)
            retired.append(p.settings.name)
        }
        config = next.config
        limits = next.config.limits
        headerLimit = HeaderListLimit(maxBytes: limits.maxHeaderListBytes, maxFields: limits.maxHeaderFields)
        serverSettings = Worker.serverSettings(next.config)
        snapshot = ConfigSnapshot(config: next.config, generation: next.generation, router: next.router, pools: pools)
        appliedGenerationValue.store(next.generation, ordering: .releasing)
        if !retired.isEmpty {
            log("config \(next.generation): clusters \(retired.joined(separator: ", ")) replaced (removed or changed); their connections close when idle")
        }
        pruneRetiredPools()
    }

    /// Drops retired pools that have no connection and no waiting call left; while some remain,
    /// looks again every second (unref'd: it never keeps the loop alive).
    func pruneRetiredPools() {
        retiredPools.removeAll { $0.isIdle }
        if retiredPools.isEmpty {
            retiredPoolTimer?.stop()
            return
        }
        if retiredPoolTimer == nil {
            retiredPoolTimer = Timer(loop: loop) { [unowned self] in self.pruneRetiredPools() }
            retiredPoolTimer?.unref()
            retiredPoolTimer?.start(timeoutMs: 1000, repeatMs: 1000)
        }
    }

    /// Whether a pool built for `a` (under `ac`) serves `b` (under `bc`) exactly as a new one
    /// would. Same `tls` keys: the pool keeps its context holder, whose files the reload's
    /// certificate step has reread (ConfigReloader reuses the holder for it).
    static func samePool(_ a: ClusterConfig, _ ac: GatewayConfig, _ b: ClusterConfig, _ bc: GatewayConfig) -> Bool {
        a.tls == b.tls
            && a.endpoints == b.endpoints
            && a.connectTimeoutMs == b.connectTimeoutMs
            && a.maxConnections == b.maxConnections
            && a.maxStreamsPerConnection == b.maxStreamsPerConnection
            && a.maxPendingCalls == b.maxPendingCalls
            && a.backoffBaseMs == b.backoffBaseMs
            && a.backoffMaxMs == b.backoffMaxMs
            && a.dnsRefreshMs == b.dnsRefreshMs
            && ac.streamWindowBytes == bc.streamWindowBytes
            && ac.limits.maxHeaderListBytes == bc.limits.maxHeaderListBytes
    }

    /// One cluster's pool on this worker's loop; `tls`: its context when the cluster has `tls`.
    func makePool(_ c: ClusterConfig, config: GatewayConfig, tls: TLSContextHolder<TLSClientContext>?) -> ClusterPool {
        let window = Int32(clamping: config.streamWindowBytes)
        var settings = UpstreamClusterSettings(
            name: c.name,
            endpoints: c.endpoints.map { ($0.host, $0.port) },
            connectTimeoutMs: c.connectTimeoutMs,
            maxConnections: c.maxConnections,
            maxStreamsPerConnection: c.maxStreamsPerConnection,
            maxPendingCalls: c.maxPendingCalls,
            backoffBaseMs: c.backoffBaseMs,
            backoffMaxMs: c.backoffMaxMs,
            // Upstream streams start with a small window; a response past its first 32 KiB grows
            // it to `stream_window` as far as its client connection's budget allows
            // (`Call.growResponseWindow`, `HTTP2ServerStream.grantResponseWindow`).
            http2: HTTP2LocalSettings(maxConcurrentStreams: 100, initialStreamWindow: min(window, upstreamInitialWindow),
                                      connectionWindow: Worker.connectionWindow(streams: c.maxStreamsPerConnection,
                                                                                window: window),
                                      maxHeaderListSize: UInt32(clamping: config.limits.maxHeaderListBytes)))
        settings.dnsRefreshMs = c.dnsRefreshMs
        settings.tls = tls
        settings.tlsServerName = c.tls?.serverName
        return ClusterPool(settings: settings, loop: loop, flushQueue: flushQueue, counters: counters,
                           plaintextBuffer: tlsPlaintext, headerPool: headerPool)
    }

    /// The HTTP/2 settings offered to client connections.
    static func serverSettings(_ config: GatewayConfig) -> HTTP2LocalSettings {
        let window = Int32(clamping: config.streamWindowBytes)
        // One client connection may make the gateway hold at most `connection_window` request
        // bytes (this window), whatever its stream count (README "Hardening").
        return HTTP2LocalSettings(
            maxConcurrentStreams: UInt32(clamping: config.maxConcurrentStreams),
            initialStreamWindow: window,
            connectionWindow: Int32(clamping: config.limits.connectionWindowBytes),
            maxHeaderListSize: UInt32(clamping: config.limits.maxHeaderListBytes))
    }
}

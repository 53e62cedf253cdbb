import Glibc
import Logging
import RouteConfig
import TLS
import UVLoop

/// Hot reload, the main thread's half: re-reads the routes file (and the descriptor sets it
/// names), validates and compiles it, and hands the result to every worker (`Worker.adopt`:
/// each switches at its next loop turn). An invalid file changes nothing: the errors are logged
/// as `FILE:LINE:COLUMN: message`, the failure is counted, and the old config keeps serving
/// (`/readyz` stays ready). Main-thread only; the admin endpoint reads `current` and the counts.
final class ConfigReloader {
    let path: String
    let workers: [Worker]
    /// The config the workers were last given (what `/config` shows).
    private(set) var current: GatewayConfig
    /// The TLS contexts of `current`'s clusters (parallel to its `clusters`; nil: h2c).
    private(set) var clusterTLS: [TLSContextHolder<TLSClientContext>?]
    let tls: GatewayTLS
    /// 1 for the startup config, +1 per successful reload.
    private(set) var generation = 1
    private(set) var reloads: UInt64 = 0
    private(set) var failedReloads: UInt64 = 0
    /// Unix seconds of the last config applied (startup or reload).
    private(set) var loadedAt: Int = ConfigReloader.unixTime()
    /// The first error of the last failed reload, until a reload succeeds.
    private(set) var lastError: String?
    /// Runs after every reload attempt, applied or not (`serve --watch` takes its baseline).
    var onAttempt: (() -> Void)?

    /// `--log-level` / `--access-log` were given: the file's keys do not change them.
    var logLevelFromCommandLine = false
    var accessLogFromCommandLine = false

    init(path: String, config: GatewayConfig, workers: [Worker], tls: GatewayTLS) {
        self.path = path
        current = config
        self.workers = workers
        self.tls = tls
        clusterTLS = tls.initialClusters
    }

    /// SIGHUP: every reload step, in order, each logging what it did and keeping what it had on
    /// failure. New connections use what a step installs; open ones and calls keep theirs.
    func reloadAll() {
        // Step 1, certificates: the TLS files of every listener and cluster (a bad file keeps
        // the previous certificate and the log names the file).
        for line in tls.reloadCertificates(clusters: clusterTLS, config: current) { gatewayLog.notice("reload: \(line)") }
        // Step 2, the routes file, its descriptor sets and clusters.
        reload()
    }

    /// The generation every worker has switched to (the smallest of theirs).
    var appliedGeneration: Int { workers.map(\.appliedGeneration).min() ?? generation }

    /// Loads the file again and applies it; false (and nothing changed) if it is invalid.
    @discardableResult
    func reload() -> Bool {
        defer { onAttempt?() }
        let next: GatewayConfig
        do {
            next = try ConfigLoader.load(path: path)
        } catch {
            for d in error.diagnostics { gatewayLog.error("reload: \(d)") }
            return failed(error.diagnostics.first?.description ?? "invalid routes file")
        }
        // New or changed TLS clusters read their files now; unchanged ones keep their contexts.
        let nextTLS: [TLSContextHolder<TLSClientContext>?]
        do {
            var byName: [String: TLSContextHolder<TLSClientContext>] = [:]
            for (i, c) in current.clusters.enumerated() { if let h = clusterTLS[i] { byName[c.name] = h } }
            nextTLS = try GatewayTLS.clusterContexts(next, reusing: byName, config: current)
        } catch {
            gatewayLog.error("reload: TLS: \(error.message)")
            return failed("TLS: \(error.message)")
        }
        for w in next.warnings { gatewayLog.warning("reload: \(w)") }
        // Sockets and threads are made at startup: these keys need a restart. The rest applies.
        var notApplied: [String] = []
        if next.listeners != current.listeners { notApplied.append("listeners") }
        if next.admin != current.admin { notApplied.append("admin") }
        if next.workers != current.workers { notApplied.append("workers") }
        if next.logging.accessLog != current.logging.accessLog && !accessLogFromCommandLine { notApplied.append("logging.access_log") }
        if !notApplied.isEmpty {
            gatewayLog.warning("reload: \(notApplied.joined(separator: ", ")) changed in \(path): applied at the next restart (the old values stay in effect)")
        }
        var applied = next
        applied.listeners = current.listeners
        applied.listenerTLS = current.listenerTLS
        applied.admin = current.admin
        applied.workers = current.workers
        applied.logging.accessLog = current.logging.accessLog
        if logLevelFromCommandLine {
            applied.logging.level = current.logging.level
        } else if let level = Logger.Level(rawValue: applied.logging.level) {
            TrestleLogHandler.currentLevel = level
        }
        generation += 1
        reloads += 1
        current = applied
        clusterTLS = nextTLS
        loadedAt = ConfigReloader.unixTime()
        lastError = nil
        let pending = PendingConfig(config: applied, router: applied.makeRouter(), generation: generation,
                                    clusterTLS: nextTLS)
        for w in workers { w.adopt(pending) }
        gatewayLog.notice("reloaded \(path): config \(generation), \(applied.clusters.count) clusters, \(applied.routes.count) routes")
        return true
    }

    private func failed(_ why: String) -> Bool {
        failedReloads += 1
        lastError = why
        gatewayLog.error("reload of \(path) failed: the previous config stays in effect")
        return false
    }

    static func unixTime() -> Int { Int(time(nil)) }
}

import Glibc
import Logging
import RouteConfig
import UVLoop

/// Runs the gateway: N workers, each on its own thread and loop, and the main thread waiting
/// for SIGTERM/SIGINT to drain them. Returns the process exit status.
public enum GatewayServer {
    /// `watch`: reload when the routes file or its descriptor sets change (ConfigWatcher), not
    /// only on SIGHUP.
    /// `logLevel` / `accessLog`: given on the command line (they override the file's `logging`
    /// keys, at startup and on every reload).
    public static func run(config: GatewayConfig, watch: Bool = false, logLevel: String? = nil, accessLog: String? = nil,
                           onReady: (() -> Void)? = nil) -> Int32 {
        var config = config
        if let logLevel { config.logging.level = logLevel }
        if let accessLog { config.logging.accessLog = accessLog }
        TrestleLogHandler.bootstrapOnce(level: Logger.Level(rawValue: config.logging.level) ?? .info)
        // Every certificate, key and CA file is read before anything listens: a bad one stops
        // startup with the file named.
        let tls: GatewayTLS
        do { tls = try GatewayTLS(config: config) } catch {
            gatewayLog.critical("\(config.file): TLS: \(error.message)")
            return 1
        }
        for note in tls.startupNotes { gatewayLog.notice("\(note)") }
        var accessLogWriter: AccessLogWriter?
        if let path = config.logging.accessLog {
            do { accessLogWriter = try AccessLogWriter(path: path, maxPending: config.logging.accessLogBufferBytes) } catch {
                gatewayLog.critical("\(error)")
                return 1
            }
            accessLogWriter?.start()
        }
        let router = config.makeRouter()
        var workers: [Worker] = []
        do {
            for i in 0 ..< max(1, config.workers) {
                workers.append(try Worker(index: i, config: config, router: router, tls: tls, accessLog: accessLogWriter))
            }
        } catch {
            gatewayLog.critical("\(error)")
            accessLogWriter?.stop()
            return 1
        }
        let main: Loop
        do { main = try Loop() } catch {
            gatewayLog.critical("\(error)")
            accessLogWriter?.stop()
            return 1
        }
        signal(SIGPIPE, SIG_IGN)
        let reloader = ConfigReloader(path: config.file, config: config, workers: workers, tls: tls)
        reloader.logLevelFromCommandLine = logLevel != nil
        reloader.accessLogFromCommandLine = accessLog != nil
        let systemd = SystemdNotify()
        var admin: AdminServer?
        if let a = config.admin {
            do {
                guard let addr = ResolvedAddress(ip: a.host, port: a.port) else {
                    throw StartupError("admin address \(a) is not an IP address")
                }
                admin = try AdminServer(loop: main, address: addr, workers: workers, reloader: reloader,
                                        accessLog: accessLogWriter)
            } catch {
                gatewayLog.critical("cannot listen on admin address \(a): \(error)")
                accessLogWriter?.stop()
                return 1
            }
        }
        var watcher: ConfigWatcher?
        if watch {
            watcher = ConfigWatcher(loop: main, reloader: reloader)
            reloader.onAttempt = { watcher?.remember() }
        }
        var signals: [Signal] = []
        var stopping = false
        let onSignal: (Int32) -> Void = { signum in
            stopping = true
            systemd.send("STOPPING=1")
            watcher?.close()
            gatewayLog.notice("signal \(signum): draining (grace \(reloader.current.shutdownGraceMs)ms)")
            admin?.draining = true   // /readyz answers 503 until the workers are gone
            for w in workers { w.requestDrain() }
            for s in signals { s.close() }
        }
        signals.append(Signal(loop: main, signal: SIGTERM, onSignal))
        signals.append(Signal(loop: main, signal: SIGINT, onSignal))
        // SIGHUP re-reads the files the config names, one step after the other (certificates,
        // then the routes file: `ConfigReloader.reloadAll`); each step logs and counts its own
        // failure and keeps what it had. Stays installed while draining (ignored then), so that a
        // late `systemctl reload` does not kill the process.
        let hangup = Signal(loop: main, signal: SIGHUP) { _ in
            guard !stopping else { return }
            systemd.send("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotify.monotonicMicroseconds())")
            reloader.reloadAll()
            systemd.send("READY=1\nSTATUS=config \(reloader.generation)")
        }
        // SIGUSR1: the access log is reopened (logrotate moved the file).
        let usr1 = Signal(loop: main, signal: SIGUSR1) { _ in
            guard let w = accessLogWriter else { return }
            gatewayLog.notice("SIGUSR1: reopening access log \(w.path)")
            w.requestReopen()
        }
        // Each worker signals here when its loop has ended; once all have, the main loop stops
        // and the threads are joined. The wakeup itself is closed only after the joins: a worker
        // may still be inside `send()` when the last flag is seen.
        let exitWakeup = Wakeup(loop: main) {
            guard workers.allSatisfy(\.hasExited) else { return }
            admin?.close()
            watcher?.close()
            for s in signals { s.close() }
            hangup.close()
            usr1.close()
            main.stop()
        }
        for w in workers {
            w.onExit = exitWakeup
            w.start()
        }
        let addrs = config.listeners.map(\.description).joined(separator: ",")
        let adminText = config.admin.map { " admin=\($0)" } ?? ""
        // Ready (the log line, systemd, `onReady`) once every worker's loop runs, as `/readyz`
        // says: the listeners are bound already, so a client that connects sooner waits in the
        // backlog, but a probe sees the same state as the log.
        var readyTimer: Timer?
        readyTimer = Timer(loop: main) {
            guard workers.allSatisfy(\.isRunning) else { return }
            readyTimer?.close()
            readyTimer = nil
            gatewayLog.notice("ready listeners=\(addrs)\(adminText) workers=\(workers.count)")
            if systemd.isEnabled { systemd.send("READY=1\nSTATUS=serving \(addrs), config 1") }
            onReady?()
        }
        readyTimer?.start(timeoutMs: 0, repeatMs: 1)
        main.run()
        for w in workers { w.join() }
        exitWakeup.close()
        main.closeAllHandles()
        accessLogWriter?.stop()  // after the workers' last lines
        gatewayLog.notice("stopped")
        return 0
    }
}

import Glibc
import RouteConfig
import UVLoop

/// Runs the gateway: N workers, each on its own thread and loop, and the main thread waiting
/// for SIGTERM/SIGINT to drain them. Returns the process exit status.
public enum GatewayServer {
    public static func run(config: GatewayConfig, onReady: (() -> Void)? = nil) -> Int32 {
        // Every certificate, key and CA file is read before anything listens: a bad one stops
        // startup with the file named.
        let tls: GatewayTLS
        do { tls = try GatewayTLS(config: config) } catch {
            writeStderr("trestle: \(config.file): TLS: \(error.message)\n")
            return 1
        }
        for note in tls.startupNotes { writeStderr("trestle: \(note)\n") }
        let router = config.makeRouter()
        var workers: [Worker] = []
        do {
            for i in 0 ..< max(1, config.workers) {
                workers.append(try Worker(index: i, config: config, router: router, tls: tls))
            }
        } catch {
            writeStderr("trestle: \(error)\n")
            return 1
        }
        let main: Loop
        do { main = try Loop() } catch {
            writeStderr("trestle: \(error)\n")
            return 1
        }
        signal(SIGPIPE, SIG_IGN)
        var admin: AdminServer?
        if let a = config.admin {
            do {
                guard let addr = ResolvedAddress(ip: a.host, port: a.port) else {
                    throw StartupError("admin address \(a) is not an IP address")
                }
                admin = try AdminServer(loop: main, address: addr, workers: workers)
            } catch {
                writeStderr("trestle: cannot listen on admin address \(a): \(error)\n")
                return 1
            }
        }
        var signals: [Signal] = []
        let onSignal: (Int32) -> Void = { signum in
            writeStderr("trestle: signal \(signum): draining (grace \(config.shutdownGraceMs)ms)\n")
            admin?.draining = true   // /readyz answers 503 until the workers are gone
            for w in workers { w.requestDrain() }
            for s in signals { s.close() }
        }
        signals.append(Signal(loop: main, signal: SIGTERM, onSignal))
        signals.append(Signal(loop: main, signal: SIGINT, onSignal))
        signals.append(Signal(loop: main, signal: SIGHUP) { _ in reload(tls: tls) })
        // Each worker signals here when its loop has ended; once all have, the main loop stops
        // and the threads are joined. The wakeup itself is closed only after the joins: a worker
        // may still be inside `send()` when the last flag is seen.
        let exitWakeup = Wakeup(loop: main) {
            guard workers.allSatisfy(\.hasExited) else { return }
            admin?.close()
            for s in signals { s.close() }
            main.stop()
        }
        for w in workers {
            w.onExit = exitWakeup
            w.start()
        }
        let addrs = config.listeners.map(\.description).joined(separator: ",")
        let adminText = config.admin.map { " admin=\($0)" } ?? ""
        writeStderr("trestle: ready listeners=\(addrs)\(adminText) workers=\(workers.count)\n")
        onReady?()
        main.run()
        for w in workers { w.join() }
        exitWakeup.close()
        main.closeAllHandles()
        writeStderr("trestle: stopped\n")
        return 0
    }

    /// SIGHUP, on the main thread: every reload step in order, each logging what it did. New
    /// connections use what a step installs; open connections and calls keep what they have.
    private static func reload(tls: GatewayTLS) {
        writeStderr("trestle: SIGHUP: reloading\n")
        // Step: certificates and keys (TLS listeners and clusters). A bad file keeps the old ones.
        for line in tls.reloadCertificates() { writeStderr("trestle: \(line)\n") }
        writeStderr("trestle: reload done\n")
    }
}

import Glibc
import RouteConfig
import UVLoop

/// Runs the gateway: N workers, each on its own thread and loop, and the main thread waiting
/// for SIGTERM/SIGINT to drain them. Returns the process exit status.
public enum GatewayServer {
    public static func run(config: GatewayConfig, onReady: (() -> Void)? = nil) -> Int32 {
        let router = config.makeRouter()
        var workers: [Worker] = []
        do {
            for i in 0 ..< max(1, config.workers) {
                workers.append(try Worker(index: i, config: config, router: router))
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
        var signals: [Signal] = []
        let onSignal: (Int32) -> Void = { signum in
            writeStderr("trestle: signal \(signum): draining (grace \(config.shutdownGraceMs)ms)\n")
            for w in workers { w.requestDrain() }
            for s in signals { s.close() }
        }
        signals.append(Signal(loop: main, signal: SIGTERM, onSignal))
        signals.append(Signal(loop: main, signal: SIGINT, onSignal))
        for w in workers { w.start() }
        let addrs = config.listeners.map(\.description).joined(separator: ",")
        writeStderr("trestle: ready listeners=\(addrs) workers=\(workers.count)\n")
        onReady?()
        main.run()
        for w in workers { w.join() }
        writeStderr("trestle: stopped\n")
        return 0
    }
}

// Command line only: everything else lives in the library modules (docs/ARCHITECTURE.md §9: no callbacks in
// top-level code, which is MainActor-isolated).
import ArgumentParser
import DemoService
import Gateway
import RouteConfig
import UVLoop

struct Trestle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trestle",
        abstract: "A gRPC gateway: native gRPC proxy routed by service name, on libuv and nghttp2.",
        version: BuildInfo.version,
        subcommands: [Serve.self, Check.self, DemoCommand.self, DemoUpstreamCommand.self, TranscodeCommand.self, LoadCommand.self,
                      TLSBenchCommand.self])
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the gateway.")
    @Option(name: .long, help: "The routes file (YAML). SIGHUP reloads it.") var config: String
    @Flag(name: .long, help: "Also reload when the routes file or a descriptor set it names changes.")
    var watch = false
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical (overrides logging.level).")
    var logLevel: String?
    @Option(name: .long, help: "Access log: stdout or a file path (overrides logging.access_log); SIGUSR1 reopens it.")
    var accessLog: String?

    func validate() throws {
        if let logLevel, !LoggingConfig.levels.contains(logLevel) {
            throw ValidationError("unknown --log-level \"\(logLevel)\": expected one of \(LoggingConfig.levels.joined(separator: ", "))")
        }
    }

    func run() throws {
        let cfg: GatewayConfig
        do { cfg = try ConfigLoader.load(path: config) } catch {
            printErrors(error)
            throw ExitCode(2)
        }
        let rc = GatewayServer.run(config: cfg, watch: watch, logLevel: logLevel, accessLog: accessLog)
        if rc != 0 { throw ExitCode(rc) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check",
        abstract: "Validate a routes file; prints FILE:LINE:COLUMN: message for each error.")
    @Option(name: .long, help: "The routes file (YAML).") var config: String

    func run() throws {
        let cfg: GatewayConfig
        do {
            cfg = try ConfigLoader.load(path: config)
        } catch {
            printErrors(error)
            throw ExitCode(1)
        }
        // The certificate, key and CA files the config names (and its warnings): CheckTLS.swift.
        guard CheckTLS.report(cfg) else { throw ExitCode(1) }
        print("\(config): ok (\(cfg.listeners.count) listeners, \(cfg.clusters.count) clusters, \(cfg.routes.count) routes)")
    }
}

struct DemoUpstreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo-upstream",
        abstract: "Run the demo gRPC service trestle.demo.v1.Echo alone (a fast upstream for tests and benchmarks).")
    @Option(name: .long, help: "Address to listen on, host:port.") var listen: String = "127.0.0.1:50051"
    @Option(name: .long, help: "Worker threads.") var workers: Int = 1

    func run() throws {
        guard let addr = SocketAddress(parsing: listen) else {
            throw ValidationError("invalid --listen address \"\(listen)\": expected host:port")
        }
        let rc = DemoUpstream.run(host: addr.host, port: addr.port, workers: workers)
        if rc != 0 { throw ExitCode(rc) }
    }
}

func printErrors(_ errors: ConfigErrors) {
    for d in errors.diagnostics { printStderr(d.description) }
}

Trestle.main()

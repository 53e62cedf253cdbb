// `trestle load`: the load generator's command line. Everything else lives in the LoadGen module
// (docs/ARCHITECTURE.md §9: no callbacks here).
import ArgumentParser
import TLS
import LoadGen
import Transcoding
import UVLoop

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load-test a gRPC (HTTP/2) or JSON (HTTP/1.1) endpoint and report throughput, latency and status codes.",
        discussion: """
            Closed loop by default: --connections × --streams calls in flight, each started when the last ends. \
            With --rate, open loop: calls start on a fixed schedule and latency counts from each call's intended \
            start, so a stalled target shows in the percentiles (coordinated omission corrected). \
            The run ends at --duration or after --calls recorded calls, whichever comes first; calls still in \
            flight then get --grace to finish. Calls started during --warmup are not recorded.

            Example: trestle load --target 127.0.0.1:8080 --method /trestle.demo.v1.Echo/Echo \
            --descriptor-set routes/demo.pb --data '{"message":"hi"}' -c 4 -m 16 -t 2 --duration 10s \
            --warmup 1s --json out.json --html out.html --pid 1234
            """)

    enum WireFormatName: String, ExpressibleByArgument, CaseIterable { case grpc, json }
    enum TransportName: String, ExpressibleByArgument, CaseIterable { case h2c, http1 }

    @Option(name: .long, help: "The server, host:port.") var target: String
    @Option(name: .customLong("protocol"), help: "Wire format: grpc (HTTP/2) or json (HTTP/1.1 by default).")
    var wireFormat: WireFormatName = .grpc
    @Option(name: .long, help: "Override the transport: h2c or http1 (JSON may use either; gRPC needs h2c).")
    var transport: TransportName?
    @Option(name: .long, help: "The method, /package.Service/Method.") var method: String
    @Option(name: .long, help: "JSON: the request path (default: the method's path).") var path: String?
    @Option(name: .long, help: "A FileDescriptorSet that defines the method (repeatable); needed to send --data as gRPC.")
    var descriptorSet: [String] = []
    @Option(name: .long, help: "The request message as JSON.") var data: String?
    @Option(name: .long, help: "A file holding the request message as is (protobuf bytes for gRPC, JSON for json).")
    var dataFile: String?
    @Option(name: .long, help: "unary, server-streaming, client-streaming, bidi-pingpong or bidi-bulk (default: from the method's descriptor, else unary).")
    var scenario: String?
    @Option(name: .long, help: "Request messages per call (client-streaming, bidi).") var messages: Int = 10
    @Option(name: [.short, .long], help: "Connections.") var connections: Int = 1
    @Option(name: [.customShort("m"), .long], help: "Concurrent calls per connection (HTTP/1.1: connections × streams sockets).")
    var streams: Int = 1
    @Option(name: [.short, .long], help: "Worker threads, each with its own event loop and connections.") var threads: Int = 1
    @Option(name: .long, help: "Open loop: start this many calls per second.") var rate: Double?
    @Option(name: .long, help: "Measured time after the warm-up: 10s, 500ms, 2m (default 10s; with --calls, at most 5m).")
    var duration: String?
    @Option(name: [.customShort("n"), .customLong("calls")], help: "Stop after this many recorded calls.") var calls: Int?
    @Option(name: .long, help: "Warm-up before measuring (calls not recorded).") var warmup: String = "0s"
    @Option(name: .long, help: "Time calls in flight at the end may take before they are cancelled.") var grace: String = "1s"
    @Option(name: .long, help: "Connect (and HTTP/2 handshake) timeout.") var connectTimeout: String = "5s"
    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header (metadata), 'name: value' (repeatable).")
    var headers: [String] = []
    @Option(name: .long, help: "Write the figures and the latency histogram as JSON here.") var json: String?
    @Option(name: .long, help: "Write a self-contained HTML report here.") var html: String?
    @Option(name: .long, help: "Report this process's CPU per call and peak RSS (repeatable).") var pid: [Int32] = []
    @Flag(name: .long, help: "No progress line.") var quiet = false
    @Flag(name: .long, help: "HTTP/2 over TLS (ALPN h2), the server's certificate verified against the system's roots or --cacert.")
    var tls = false
    @Option(name: .long, help: "TLS: trust these CA certificates (PEM) instead of the system's; implies --tls.") var cacert: String?
    @Option(name: .long, help: "TLS: the name sent as SNI and checked against the certificate (default: the target's host).")
    var serverName: String?
    @Flag(name: .long, help: "TLS: do not verify the server's certificate; implies --tls.") var insecure = false

    func run() throws {
        let plan: LoadPlan
        do { plan = try makePlan() } catch { throw ValidationError(error.message) }
        let report: LoadReport
        do {
            report = try LoadRunner(plan: plan).run()
        } catch {
            printStderr("trestle load: \(error.message)")
            throw ExitCode(1)
        }
        print(TextReport.render(report), terminator: "")
        if let json, let failure = FileIO.write(Array(JSONReport.render(report).utf8), to: json) {
            printStderr("trestle load: \(failure)")
            throw ExitCode(1)
        }
        if let html, let failure = FileIO.write(Array(HTMLReport.render(report).utf8), to: html) {
            printStderr("trestle load: \(failure)")
            throw ExitCode(1)
        }
    }

    private func makePlan() throws(LoadError) -> LoadPlan {
        guard let methodPath = LoadSetup.methodPath(method) else {
            throw LoadError("invalid --method \"\(method)\": expected /package.Service/Method")
        }
        let format: any WireFormat = switch wireFormat {
        case .grpc: GRPCWireFormat()
        case .json: JSONWireFormat()
        }
        let chosenTransport: LoadTransport = switch transport {
        case nil: format.transports[0]
        case .h2c: .http2
        case .http1: .http1
        }
        guard format.transports.contains(chosenTransport) else {
            throw LoadError("--protocol \(format.name) does not run over \(chosenTransport.rawValue)")
        }
        let address = try LoadSetup.resolve(target)

        var descriptor: MethodDescriptor?
        var registry: DescriptorRegistry?
        if !descriptorSet.isEmpty {
            let r = try LoadSetup.registry(descriptorSet)
            guard let m = r.method(path: methodPath) else {
                throw LoadError("\(descriptorSet.joined(separator: ", ")) does not define \(methodPath)")
            }
            registry = r
            descriptor = m
        }

        var chosenScenario = descriptor.map(LoadSetup.scenario(for:)) ?? .unary
        if let scenario {
            guard let s = LoadScenario(rawValue: scenario) else {
                throw LoadError("invalid --scenario \"\(scenario)\": expected one of "
                    + LoadScenario.allCases.map(\.rawValue).joined(separator: ", "))
            }
            chosenScenario = s
        }

        if data != nil && dataFile != nil { throw LoadError("give --data or --data-file, not both") }
        var message: [UInt8]
        if let dataFile {
            guard let bytes = FileIO.read(dataFile) else { throw LoadError("cannot read \(dataFile)") }
            message = bytes
        } else if let data {
            if let descriptor, let registry {
                let encoded = try LoadSetup.encode(json: data, method: descriptor, registry: registry)  // validates
                message = wireFormat == .grpc ? encoded : Array(data.utf8)
            } else if wireFormat == .grpc {
                throw LoadError("--data is JSON: gRPC needs --descriptor-set to encode it (or give the protobuf bytes with --data-file)")
            } else {
                message = Array(data.utf8)
            }
        } else {
            message = wireFormat == .grpc ? [] : Array("{}".utf8)
        }
        if wireFormat == .json {
            // One request message per line in a streamed body.
            while let last = message.last, last == 0x0A || last == 0x0D || last == 0x20 { message.removeLast() }
            if chosenScenario != .unary && chosenScenario != .serverStreaming && message.contains(0x0A) {
                throw LoadError("a streamed JSON request message must be on one line")
            }
        }

        var extra: [(String, String)] = []
        for h in headers {
            guard let field = LoadSetup.header(h) else { throw LoadError("invalid --header \"\(h)\": expected 'name: value'") }
            extra.append(field)
        }

        func nanos(_ text: String, _ option: String) throws(LoadError) -> UInt64 {
            guard let ns = LoadSetup.duration(text) else { throw LoadError("invalid \(option) \"\(text)\": expected e.g. 10s, 500ms") }
            return ns
        }
        var durationNs = try duration.map { (d) throws(LoadError) in try nanos(d, "--duration") }
        // Always a bound on time: 10 s by default, and with --calls alone at most 5 minutes.
        if durationNs == nil { durationNs = calls == nil ? 10_000_000_000 : 300_000_000_000 }
        if durationNs == 0 { throw LoadError("--duration must be more than 0") }
        if let calls, calls < 1 { throw LoadError("--calls must be at least 1") }
        guard connections >= 1, streams >= 1, threads >= 1 else {
            throw LoadError("--connections, --streams and --threads must be at least 1")
        }
        guard messages >= 1 else { throw LoadError("--messages must be at least 1") }
        let mode: LoadMode
        if let rate {
            guard rate > 0, rate.isFinite else { throw LoadError("--rate must be more than 0") }
            mode = .open(callsPerSecond: rate)
        } else {
            mode = .closed
        }
        let connectMs = try nanos(connectTimeout, "--connect-timeout") / 1_000_000
        var tlsContext: TLSClientContext?
        if tls || cacert != nil || insecure || serverName != nil {
            guard chosenTransport == .http2 else { throw LoadError("--tls runs over HTTP/2 only (gRPC, or --transport h2c for JSON)") }
            do {
                tlsContext = try TLSClientContext(caFile: cacert, insecureSkipVerify: insecure, alpn: [.h2])
            } catch {
                throw LoadError("TLS: \(error.message)")
            }
        }
        return LoadPlan(
            target: address, authority: target, format: format, transport: chosenTransport, scenario: chosenScenario,
            path: path ?? methodPath, method: methodPath, message: message, messagesPerCall: messages,
            extraHeaders: extra, connections: connections, streamsPerConnection: streams, threads: threads,
            mode: mode, durationNs: durationNs, calls: calls, warmupNs: try nanos(warmup, "--warmup"),
            graceNs: try nanos(grace, "--grace"), connectTimeoutMs: max(1, connectMs), pids: pid,
            showProgress: !quiet, tls: tlsContext,
            tlsServerName: serverName ?? (tlsContext == nil ? nil : LoadSetup.host(of: target)))
    }
}

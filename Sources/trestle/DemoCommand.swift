import ArgumentParser
import DemoService
import Gateway
import RouteConfig
import Transcoding

#if canImport(Glibc)
import Glibc
#endif

/// `trestle demo`: the gateway in front of the built-in demo service, ready for curl.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Run the gateway with the built-in demo service (trestle.demo.v1.Echo) behind it.",
        discussion: "Uses routes/demo.yaml when it exists (run from the repository), else the same routes built in.")
    @Option(name: .long, help: "The routes file.") var config: String = "routes/demo.yaml"

    /// routes/demo.yaml without its descriptors line: the descriptors come from the binary.
    static let builtInRoutes = """
        listeners:
          - address: 127.0.0.1:8080
        admin:
          address: 127.0.0.1:9901
        workers: 2
        clusters:
          - name: echo
            endpoints: [127.0.0.1:50051]
        routes:
          - service: trestle.demo.v1.Echo
            cluster: echo
            timeout: 30s
        """

    func run() throws {
        var cfg: GatewayConfig
        do {
            if access(config, R_OK) == 0 {
                cfg = try ConfigLoader.load(path: config)
            } else {
                cfg = try ConfigLoader.parse(yaml: Self.builtInRoutes, file: "(built-in demo routes)")
            }
        } catch {
            printErrors(error)
            throw ExitCode(2)
        }
        if cfg.registry.services["trestle.demo.v1.Echo"] == nil {
            var bytes: [UInt8] = []
            _ = Array(DemoDescriptors.base64.utf8).withUnsafeBytes { Base64.decode($0, into: &bytes) }
            cfg.registry = try DescriptorRegistry(fileDescriptorSets: [("built-in demo.pb", bytes)])
            let router = cfg.makeRouter()
            cfg.httpRoutes = try HTTPRouteTable(registry: cfg.registry, services: { router.route(service: $0) != nil })
        }
        guard let upstream = cfg.clusters.first?.endpoints.first, let listener = cfg.listeners.first else {
            throw ValidationError("the demo routes need a listener and a cluster endpoint")
        }
        try DemoUpstream.startInBackground(host: upstream.host, port: upstream.port, workers: 1)
        let base = "http://\(listener)"
        print("""
            trestle demo: the gateway on \(listener), the demo service trestle.demo.v1.Echo on \(upstream).
            Try:
              curl -s \(base)/v1/echo/hello
              curl -s -d '{"message": "hi", "count": 3}' \(base)/v1/echo:expand
              curl -s -d '{"message": "x", "status": {"code": 5, "message": "no such thing", "withDetails": true}}' \(base)/trestle.demo.v1.Echo/Echo
            Native gRPC on the same port: grpcurl -plaintext -d '{"message": "hi"}' \(listener) trestle.demo.v1.Echo/Echo
            Ctrl-C stops it.
            """)
        fflush(nil)
        let rc = GatewayServer.run(config: cfg)
        if rc != 0 { throw ExitCode(rc) }
    }
}

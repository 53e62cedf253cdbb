import Channel
import RouteConfig
import Testing

@Suite struct ConfigLoaderTests {
    static let fullFile = """
        listeners:
          - address: 127.0.0.1:8080
          - address: "[::1]:8081"
        admin:
          address: 0.0.0.0:9901
        workers: 4
        descriptors:
          - demo.pb
          - DEMO_PB_ABSOLUTE
        shutdown_grace: 1.5s
        max_concurrent_streams: 500
        stream_window: 256KiB
        connection_window: 4MiB
        max_buffered_per_worker: 64MiB
        max_connections_per_worker: 500
        max_header_list_size: 32KiB
        max_header_fields: 50
        min_rate: 512
        min_rate_window: 20s
        stream_idle_timeout: 1m
        clusters:
          - name: echo
            endpoints: [127.0.0.1:50051, "[::1]:50052", upstream.internal:50053]
            connect_timeout: 250ms
            max_connections: 2
            max_streams_per_connection: 50
            max_pending: 1
            backoff_base: 50ms
            backoff_max: 1m
            dns_refresh: 30s
          - name: billing
            endpoints:
              - 10.0.0.1:443
        routes:
          - service: trestle.demo.v1.Echo
            cluster: echo
            timeout: 30s
          - service: acme.billing.*
            cluster: billing
          - service: "*"
            cluster: echo
        """

    /// The repository's routes folder (routes/demo.pb is a real descriptor set), found from this file.
    static let routesFolder: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/RouteConfigTests/ConfigLoaderTests.swift
        return parts.joined(separator: "/") + "/routes"
    }()

    @Test func fullFileParses() throws {
        let file = "\(Self.routesFolder)/routes.yaml"
        let yaml = Self.fullFile.replacingDemoPath("\(Self.routesFolder)/demo.pb")
        let config = try ConfigLoader.parse(yaml: yaml, file: file)
        #expect(config.file == file)
        #expect(config.listeners == [SocketAddress(host: "127.0.0.1", port: 8080), SocketAddress(host: "::1", port: 8081)])
        #expect(config.admin == SocketAddress(host: "0.0.0.0", port: 9901))
        #expect(config.workers == 4)
        #expect(config.descriptors == ["\(Self.routesFolder)/demo.pb", "\(Self.routesFolder)/demo.pb"])
        // The descriptor sets are read at load: the registry and the HTTP bindings are ready.
        #expect(config.registry.services["trestle.demo.v1.Echo"]?.methods.count == 4)
        #expect(config.httpRoutes != nil)
        #expect(config.shutdownGraceMs == 1_500)
        #expect(config.maxConcurrentStreams == 500)
        #expect(config.streamWindowBytes == 262_144)
        var limits = ResourceLimits()
        limits.connectionWindowBytes = 4 << 20
        limits.maxBufferedPerWorker = 64 << 20
        limits.maxConnectionsPerWorker = 500
        limits.maxHeaderListBytes = 32 * 1024
        limits.maxHeaderFields = 50
        limits.minRateBytesPerSecond = 512
        limits.minRateWindowMs = 20_000
        limits.streamIdleTimeoutMs = 60_000
        #expect(config.limits == limits)

        #expect(config.clusters.count == 2)
        let echo = config.clusters[0]
        #expect(echo.name == "echo")
        #expect(echo.endpoints.map(\.description) == ["127.0.0.1:50051", "[::1]:50052", "upstream.internal:50053"])
        #expect(echo.connectTimeoutMs == 250)
        #expect(echo.maxConnections == 2)
        #expect(echo.maxStreamsPerConnection == 50)
        #expect(echo.maxPendingCalls == 1)
        #expect(echo.backoffBaseMs == 50)
        #expect(echo.backoffMaxMs == 60_000)
        #expect(echo.dnsRefreshMs == 30_000)

        let billing = config.clusters[1]
        #expect(billing.name == "billing")
        #expect(billing.endpoints == [SocketAddress(host: "10.0.0.1", port: 443)])
        #expect(billing.connectTimeoutMs == 2_000)
        #expect(billing.maxConnections == 8)
        #expect(billing.maxStreamsPerConnection == 100)
        #expect(billing.maxPendingCalls == 1024)
        #expect(billing.backoffBaseMs == 100)
        #expect(billing.backoffMaxMs == 10_000)
        #expect(billing.dnsRefreshMs == 5_000)

        #expect(config.routes.map(\.service) == [.exact("trestle.demo.v1.Echo"), .prefix("acme.billing"), .any])
        #expect(config.routes.map(\.cluster) == ["echo", "billing", "echo"])
        #expect(config.routes.map(\.clusterIndex) == [0, 1, 0])
        #expect(config.routes.map(\.timeoutMs) == [30_000, nil, nil])

        let router = config.makeRouter()
        #expect(router.route(service: "trestle.demo.v1.Echo") == 0)
        #expect(router.route(service: "acme.billing.Ledger") == 1)
        #expect(router.route(service: "acme.billingx.Ledger") == 2)
    }

    @Test func minimalFileGetsDefaults() throws {
        let config = try ConfigLoader.parse(
            yaml: listenerHead + """
                clusters: [{name: c, endpoints: ["localhost:1"]}]
                routes: [{service: a.B, cluster: c}]
                """, file: "routes.yaml")
        #expect(config.admin == nil)
        #expect(config.workers >= 1 && config.workers <= 256)
        #expect(config.descriptors == [])
        #expect(config.shutdownGraceMs == 10_000)
        #expect(config.maxConcurrentStreams == 100)
        #expect(config.limits == ResourceLimits())
        #expect(config.streamWindowBytes == 1_048_576)
        #expect(config.routes[0].timeoutMs == nil)
    }

    @Test(arguments: [("auto", nil), ("1", 1), ("256", 256)] as [(String, Int?)])
    func workers(text: String, expected: Int?) throws {
        let config = try ConfigLoader.parse(
            yaml: listenerHead + """
                workers: \(text)
                clusters: [{name: c, endpoints: ["localhost:1"]}]
                routes: [{service: a.B, cluster: c}]
                """, file: "r.yaml")
        if let expected {
            #expect(config.workers == expected)
        } else {
            #expect(config.workers >= 1 && config.workers <= 256)
        }
    }

    @Test(arguments: [
        ("routes.yaml", "demo.pb", "demo.pb"),
        ("conf/demo.yaml", "demo.pb", "conf/demo.pb"),
        ("/etc/trestle/routes.yaml", "pb/a.pb", "/etc/trestle/pb/a.pb"),
        ("/etc/trestle/routes.yaml", "/opt/a.pb", "/opt/a.pb"),
    ])
    func descriptorsResolveAgainstTheConfigFolder(file: String, path: String, resolved: String) throws {
        // The files do not exist: the diagnostic names the resolved path, at the entry.
        do {
            _ = try ConfigLoader.parse(
                yaml: listenerHead + """
                    descriptors: [\(path)]
                    clusters: [{name: c, endpoints: ["localhost:1"]}]
                    routes: [{service: a.B, cluster: c}]
                    """, file: file)
            Issue.record("a missing descriptor set was accepted")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["cannot read descriptor set \(resolved): No such file or directory"])
            #expect(error.diagnostics.first?.line == 3 && error.diagnostics.first?.column == 15)
        }
    }

    @Test func descriptorSetThatIsNotOneIsAnError() throws {
        do {
            _ = try ConfigLoader.parse(
                yaml: listenerHead + """
                    descriptors: [\(#filePath)]
                    clusters: [{name: c, endpoints: ["localhost:1"]}]
                    routes: [{service: a.B, cluster: c}]
                    """, file: "r.yaml")
            Issue.record("a Swift file was accepted as a descriptor set")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics.first?.message.hasPrefix("\(#filePath): not a FileDescriptorSet") == true)
        }
    }

    @Test func unreadableFile() {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: "/nonexistent/routes.yaml") }
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/routes.yaml")
        } catch {
            #expect(error.diagnostics == [
                ConfigDiagnostic(file: "/nonexistent/routes.yaml", line: 1, column: 1,
                                 message: "cannot read the file: No such file or directory")
            ])
            #expect(error.description == "/nonexistent/routes.yaml:1:1: cannot read the file: No such file or directory")
        }
    }

    @Test func directoryIsUnreadable() {
        do {
            _ = try ConfigLoader.load(path: "/")
            Issue.record("loaded a directory")
        } catch {
            #expect(error.description == "/:1:1: cannot read the file: Is a directory")
        }
    }
}

extension String {
    fileprivate func replacingDemoPath(_ path: String) -> String {
        var out = ""
        for line in split(separator: "\n", omittingEmptySubsequences: false) {
            out += line.contains("DEMO_PB_ABSOLUTE") ? "  - \(path)" : String(line)
            out += "\n"
        }
        return out
    }
}

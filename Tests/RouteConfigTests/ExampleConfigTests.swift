import Channel
import RouteConfig
import Testing

@Suite struct ExampleConfigTests {
    @Test func exampleParses() throws {
        let path = packageRoot() + "/routes/example.yaml"
        let config = try ConfigLoader.load(path: path)
        #expect(config.file == path)
        #expect(config.listeners == [SocketAddress(host: "127.0.0.1", port: 8080)])
        #expect(config.admin == SocketAddress(host: "127.0.0.1", port: 9901))
        #expect(config.workers >= 1)
        #expect(config.descriptors == [])
        #expect(config.shutdownGraceMs == 10_000)
        #expect(config.maxConcurrentStreams == 100)
        #expect(config.limits == ResourceLimits())
        #expect(config.streamWindowBytes == 1 << 20)
        #expect(config.clusters.map(\.name) == ["testing", "demo"])
        #expect(config.clusters[0].endpoints == [SocketAddress(host: "127.0.0.1", port: 50051)])
        #expect(config.clusters[1].endpoints == [SocketAddress(host: "127.0.0.1", port: 50052)])
        #expect(config.routes.map(\.service) == [.exact("grpc.testing.TestService"), .prefix("trestle.demo.v1")])
        #expect(config.routes.map(\.clusterIndex) == [0, 1])
        #expect(config.routes[0].timeoutMs == 30_000)

        let router = config.makeRouter()
        #expect(router.route(service: "grpc.testing.TestService") == 0)
        #expect(router.route(service: "trestle.demo.v1.Echo") == 1)
        #expect(router.route(service: "other.Service") == nil)
    }

    @Test func exampleSetsEveryKeyToItsDefault() throws {
        // The example documents the defaults: its first cluster spells each one out.
        let config = try ConfigLoader.load(path: packageRoot() + "/routes/example.yaml")
        let spelt = config.clusters[0]
        let defaulted = config.clusters[1]
        #expect(spelt.connectTimeoutMs == defaulted.connectTimeoutMs)
        #expect(spelt.maxConnections == defaulted.maxConnections)
        #expect(spelt.maxStreamsPerConnection == defaulted.maxStreamsPerConnection)
        #expect(spelt.maxPendingCalls == defaulted.maxPendingCalls)
        #expect(spelt.backoffBaseMs == defaulted.backoffBaseMs)
        #expect(spelt.backoffMaxMs == defaulted.backoffMaxMs)
        #expect(spelt.dnsRefreshMs == defaulted.dnsRefreshMs)
    }
}

import Channel
import RouteConfig
import Transcoding
import Upstream

/// What one worker serves calls from: the routes file's compiled tables (routes, service
/// router, descriptors, HTTP bindings, one JSON transcoder per route) and the worker's upstream
/// pools for its clusters. Immutable once built; a call keeps the snapshot it started on, so a
/// reload can give the worker a new one while calls in flight finish on theirs. Loop-thread only
/// (the pools are the worker's).
final class ConfigSnapshot {
    let config: GatewayConfig
    /// 1 for the config the process started with, +1 per successful reload.
    let generation: Int
    let routes: [RouteEntry]
    let router: RouteTable
    let registry: DescriptorRegistry
    /// The JSON frontend's bindings (nil without descriptors).
    let httpRoutes: HTTPRouteTable?
    /// One per route (its JSON output options).
    let transcoders: [JSONTranscoder]
    /// One per cluster, indexed like `config.clusters`.
    let pools: [ClusterPool]
    /// `pools` unmanaged (the snapshot holds them), for starting a call's attempt.
    let poolRefs: ContiguousArray<Unmanaged<ClusterPool>>
    /// Some CORS policy exists (top level or on a route): only then do frontends read `Origin`.
    let hasCORS: Bool

    init(config: GatewayConfig, generation: Int, router: ServiceRouter<Int>, pools: [ClusterPool]) {
        self.config = config
        self.generation = generation
        routes = config.routes
        self.router = RouteTable(router)
        registry = config.registry
        httpRoutes = config.httpRoutes
        transcoders = config.routes.map { r in
            JSONTranscoder(registry: config.registry, options: JSONOutputOptions(
                emitDefaults: r.jsonEmitDefaults, enumsAsNumbers: r.jsonEnumsAsNumbers, useProtoNames: r.jsonOriginalNames))
        }
        self.pools = pools
        poolRefs = ContiguousArray(pools.lazy.map { Unmanaged.passUnretained($0) })
        hasCORS = config.cors != nil || config.routes.contains { $0.cors != nil }
    }

    // For the per-call path: methods on the snapshot reach its tables one `let` deep, where
    // `call.snapshot.router` from outside is retained and released at every use.

    /// The route for a gRPC service name (`ServiceRouter`), or nil.
    @inline(__always)
    func route(service: UnsafeRawBufferPointer) -> Int? { router.route(service: service) }

    /// The `timeout` of route `route`, in milliseconds.
    @inline(__always)
    func timeoutMs(route: Int) -> UInt64? { routes[route].timeoutMs }

    /// The pool of the cluster route `route` goes to, unmanaged (the snapshot holds it).
    @inline(__always)
    func pool(route: Int) -> Unmanaged<ClusterPool> { poolRefs[routes[route].clusterIndex] }
}

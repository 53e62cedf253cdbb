import Channel
import Transcoding

/// A routes file, parsed and checked: an immutable snapshot that every worker reads and a
/// reload replaces whole. Build one with `ConfigLoader`.
public struct GatewayConfig: Sendable {
    public static let defaultShutdownGraceMs: UInt64 = 10_000
    public static let defaultMaxConcurrentStreams = 100
    public static let defaultStreamWindowBytes = 1 << 20
    public static let defaultPrefaceTimeoutMs: UInt64 = 10_000
    /// RFC 9113 §6.9.2: the initial window is at least the default and below 2^31.
    public static let streamWindowRange = 65_535...Int(Int32.max)

    /// The path the config was read from (as given), for messages.
    public var file: String
    /// Key `listeners: [{address: ...}]`: at least one, each an IP literal and port.
    public var listeners: [SocketAddress]
    /// Key `tls` of each listener, parallel to `listeners` (nil: cleartext). Empty for a config
    /// built in code: use `tls(forListener:)`.
    public var listenerTLS: [ListenerTLSConfig?] = []
    /// What the config loads despite (e.g. `insecure_skip_verify`): printed by `trestle check`,
    /// logged by the gateway. In file order.
    public var warnings: [ConfigDiagnostic] = []
    /// Key `admin: {address: ...}`: where /metrics, /healthz and /readyz answer; nil: nowhere.
    public var admin: SocketAddress?
    /// Key `workers`: 1...256, or `auto` (the default) for the number of online CPUs.
    public var workers: Int
    /// Key `descriptors`: FileDescriptorSet files, resolved relative to the config file's folder.
    public var descriptors: [String]
    public var clusters: [ClusterConfig]
    /// In file order; `makeRouter()` applies the precedence.
    public var routes: [RouteEntry]
    /// Key `shutdown_grace`: how long calls in flight may finish after a stop signal.
    public var shutdownGraceMs: UInt64
    /// Key `max_concurrent_streams`: SETTINGS_MAX_CONCURRENT_STREAMS sent to each client connection.
    public var maxConcurrentStreams: Int
    /// Key `stream_window`: the HTTP/2 stream window offered on both sides, in bytes.
    public var streamWindowBytes: Int
    /// Key `preface_timeout`: a client connection that has not sent a complete HTTP/2 preface
    /// (or HTTP/1.1 request start) by then is closed (slowloris).
    public var prefaceTimeoutMs: UInt64 = GatewayConfig.defaultPrefaceTimeoutMs
    /// Key `idle_timeout`: a client HTTP/2 connection with no open stream for this long gets
    /// GOAWAY and is closed (Envoy's connection `idle_timeout`; streams that move bytes keep
    /// their connection however long they live).
    public var idleTimeoutMs: UInt64 = GatewayConfig.defaultIdleTimeoutMs
    public static let defaultIdleTimeoutMs: UInt64 = 300_000
    /// Memory, connection, header and time bounds (README "Hardening").
    public var limits = ResourceLimits()
    /// The services, methods and messages of `descriptors`, read when the config loaded.
    public var registry = DescriptorRegistry()
    /// The `google.api.http` bindings (and `POST /pkg.Service/Method`) of every routed service
    /// that has a descriptor, compiled once; nil when there are no descriptors.
    public var httpRoutes: HTTPRouteTable?
    /// Key `cors` at the top level: the CORS policy of routes without their own, and of requests
    /// that no route takes (so that the gateway's own errors keep their CORS headers).
    public var cors: CORSPolicy?
    /// Key `logging`: the log level and the access log.
    public var logging = LoggingConfig()

    /// The CORS policy for a call on route `index` (nil: not routed).
    public func corsPolicy(route index: Int?) -> CORSPolicy? {
        if let index, index >= 0, let own = routes[index].cors { return own }
        return cors
    }

    public init(
        file: String,
        listeners: [SocketAddress],
        admin: SocketAddress? = nil,
        workers: Int,
        descriptors: [String] = [],
        clusters: [ClusterConfig],
        routes: [RouteEntry],
        shutdownGraceMs: UInt64 = GatewayConfig.defaultShutdownGraceMs,
        maxConcurrentStreams: Int = GatewayConfig.defaultMaxConcurrentStreams,
        streamWindowBytes: Int = GatewayConfig.defaultStreamWindowBytes
    ) {
        self.file = file
        self.listeners = listeners
        self.admin = admin
        self.workers = workers
        self.descriptors = descriptors
        self.clusters = clusters
        self.routes = routes
        self.shutdownGraceMs = shutdownGraceMs
        self.maxConcurrentStreams = maxConcurrentStreams
        self.streamWindowBytes = streamWindowBytes
    }

    /// Compiles the routes: service name -> index into `routes`. Build once per config.
    public func makeRouter() -> ServiceRouter<Int> {
        ServiceRouter(routes.enumerated().map { (pattern: $0.element.service, target: $0.offset) })
    }
}

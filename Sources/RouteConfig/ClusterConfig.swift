/// One upstream cluster: where its endpoints are and how each worker's pool treats them.
public struct ClusterConfig: Sendable {
    public static let defaultConnectTimeoutMs: UInt64 = 2_000
    public static let defaultMaxConnections = 8
    public static let defaultMaxStreamsPerConnection = 100
    public static let defaultMaxPendingCalls = 1024
    public static let defaultBackoffBaseMs: UInt64 = 100
    public static let defaultBackoffMaxMs: UInt64 = 10_000
    public static let defaultDNSRefreshMs: UInt64 = 5_000

    /// Key `name`: unique among clusters; letters, digits, `-`, `_`, `.`.
    public var name: String
    /// Key `endpoints`: at least one `host:port`; a host name is resolved (and re-resolved).
    public var endpoints: [SocketAddress]
    /// Key `connect_timeout`: how long one TCP connect plus HTTP/2 preface may take.
    public var connectTimeoutMs: UInt64
    /// Key `max_connections`: HTTP/2 connections per worker to this cluster, >= 1.
    public var maxConnections: Int
    /// Key `max_streams_per_connection`: a cap under the peer's SETTINGS_MAX_CONCURRENT_STREAMS, >= 1.
    public var maxStreamsPerConnection: Int
    /// Key `max_pending`: calls queued per worker while no connection has room, >= 1;
    /// past it a call fails at once with RESOURCE_EXHAUSTED.
    public var maxPendingCalls: Int
    /// Key `backoff_base`: the first reconnect delay after a failure; doubles up to `backoffMaxMs`.
    public var backoffBaseMs: UInt64
    /// Key `backoff_max`: the longest reconnect delay, >= `backoffBaseMs`.
    public var backoffMaxMs: UInt64
    /// Key `dns_refresh`: how often an endpoint given by host name is resolved again (also at
    /// once after a failed connect); every address of the answer is an endpoint (Envoy's
    /// STRICT_DNS, `dns_refresh_rate`).
    public var dnsRefreshMs: UInt64 = ClusterConfig.defaultDNSRefreshMs
    /// Key `tls`: connect to the endpoints over TLS (nil: cleartext h2c).
    public var tls: ClusterTLSConfig? = nil

    public init(
        name: String,
        endpoints: [SocketAddress],
        connectTimeoutMs: UInt64 = ClusterConfig.defaultConnectTimeoutMs,
        maxConnections: Int = ClusterConfig.defaultMaxConnections,
        maxStreamsPerConnection: Int = ClusterConfig.defaultMaxStreamsPerConnection,
        maxPendingCalls: Int = ClusterConfig.defaultMaxPendingCalls,
        backoffBaseMs: UInt64 = ClusterConfig.defaultBackoffBaseMs,
        backoffMaxMs: UInt64 = ClusterConfig.defaultBackoffMaxMs
    ) {
        self.name = name
        self.endpoints = endpoints
        self.connectTimeoutMs = connectTimeoutMs
        self.maxConnections = maxConnections
        self.maxStreamsPerConnection = maxStreamsPerConnection
        self.maxPendingCalls = maxPendingCalls
        self.backoffBaseMs = backoffBaseMs
        self.backoffMaxMs = backoffMaxMs
    }
}

import Channel

/// One route: the services it takes and the cluster they go to.
public struct RouteEntry: Sendable {
    /// Key `service`: a full service name, a package prefix `pkg.*`, or `*`.
    public var service: ServicePattern
    /// Key `cluster`: the name of a cluster defined under `clusters`.
    public var cluster: String
    /// The index of `cluster` in `GatewayConfig.clusters`.
    public var clusterIndex: Int
    /// Key `timeout`: the deadline of a call whose client sends no `grpc-timeout`; nil: none.
    public var timeoutMs: UInt64?

    public init(service: ServicePattern, cluster: String, clusterIndex: Int, timeoutMs: UInt64? = nil) {
        self.service = service
        self.cluster = cluster
        self.clusterIndex = clusterIndex
        self.timeoutMs = timeoutMs
    }
}

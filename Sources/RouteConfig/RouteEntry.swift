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
    /// Key `max_request_body`: the largest JSON request body (or, for client streaming, the
    /// largest single JSON value) a JSON client may send on this route; beyond it: 413.
    public var maxRequestBodyBytes: Int
    /// Keys `json_emit_defaults`, `json_enums_as_numbers`, `json_original_names`: how responses
    /// to JSON clients are written (grpc-gateway's `EmitUnpopulated`, `UseEnumNumbers`,
    /// `UseProtoNames`).
    public var jsonEmitDefaults = false
    public var jsonEnumsAsNumbers = false
    public var jsonOriginalNames = false
    /// Key `cors`: the browser origins this route answers (nil: the top-level `cors`, if any).
    public var cors: CORSPolicy?
    /// Key `upstream_json_codec`: the upstream speaks gRPC's JSON codec (`application/grpc+json`),
    /// so gRPC-Web JSON calls pass through untranslated (default false: they are transcoded).
    public var upstreamJSONCodec = false

    public static let defaultMaxRequestBodyBytes = 4 << 20

    public init(service: ServicePattern, cluster: String, clusterIndex: Int, timeoutMs: UInt64? = nil,
                maxRequestBodyBytes: Int = RouteEntry.defaultMaxRequestBodyBytes) {
        self.service = service
        self.cluster = cluster
        self.clusterIndex = clusterIndex
        self.timeoutMs = timeoutMs
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}

import Channel
import RouteConfig

/// The CORS fields of one response (README, "gRPC-Web and CORS"): the request's `Origin`, and the
/// policy that allows it — the route's own, else the top level's (`GatewayConfig.corsPolicy`).
/// Empty (no field is written) when the request has no `Origin` or its origin is not allowed.
/// Shared by the frontends browsers call (gRPC-Web, JSON).
struct CORSFields {
    private(set) var origin: String?
    private(set) var policy: CORSPolicy?

    /// Reads `Origin` from the request's fields.
    init(fields: JSONRequestFields) {
        origin = GRPCWebFrontend.field(fields, "origin")
    }

    init() {}

    /// Chooses the policy for a call on `route` (nil: not routed), keeping it only when it allows
    /// the origin.
    mutating func choose(config: GatewayConfig, route: Int?) {
        guard let origin, let p = config.corsPolicy(route: route), p.allows(origin: origin) else {
            policy = nil
            return
        }
        policy = p
    }

    var allowed: Bool { policy != nil }

    /// The fields of an actual response (not a preflight).
    func append(to h: Metadata) {
        guard let policy, let origin else { return }
        h.append("access-control-allow-origin", policy.allowOriginValue(for: origin))
        if policy.allowCredentials { h.append("access-control-allow-credentials", "true") }
        h.append("access-control-expose-headers", policy.exposeHeadersValue)
        if policy.variesByOrigin { h.append("vary", "origin") }
    }

    /// The fields of a preflight answer, allowing `methods`.
    func appendPreflight(to h: Metadata, methods: String) {
        guard let policy, let origin else { return }
        h.append("access-control-allow-origin", policy.allowOriginValue(for: origin))
        h.append("access-control-allow-methods", methods)
        h.append("access-control-allow-headers", policy.allowHeadersValue)
        if let age = policy.maxAgeValue { h.append("access-control-max-age", age) }
        if policy.allowCredentials { h.append("access-control-allow-credentials", "true") }
        if policy.variesByOrigin { h.append("vary", "origin") }
    }
}

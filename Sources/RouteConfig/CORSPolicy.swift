/// Key `cors` of a route, or at the top level for routes without their own and for requests no
/// route takes (README, "gRPC-Web and CORS"): which browser origins may call, and what the
/// gateway answers them. Compiled when the config loads: the header values are built once.
public struct CORSPolicy: Sendable, Equatable {
    /// Request headers a gRPC-Web or Connect browser client sends, always allowed.
    public static let defaultAllowedHeaders = [
        "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout",
        "x-accept-content-transfer-encoding", "x-accept-response-streaming",
        "connect-protocol-version", "connect-timeout-ms",
    ]
    /// Response headers a browser script must be able to read to know a call's status.
    public static let defaultExposedHeaders = ["grpc-status", "grpc-message", "grpc-status-details-bin"]

    /// Key `allowed_origins`: exact origins (`scheme://host[:port]`, compared as written, lower
    /// case), or `*` when the file says so.
    public var allowedOrigins: [String]
    public var allowsAnyOrigin: Bool
    /// Key `allowed_headers`: request headers beyond the defaults (lower case).
    public var allowedHeaders: [String]
    /// Key `exposed_headers`: response headers and metadata a script may read, beyond the status.
    public var exposedHeaders: [String]
    /// Key `max_age`: how long a browser may cache a preflight answer; nil: not said.
    public var maxAgeSeconds: UInt64?
    /// Key `allow_credentials`: cookies and HTTP authentication may go with the calls.
    public var allowCredentials: Bool

    /// `Access-Control-Allow-Headers`, `-Expose-Headers` and `-Max-Age` values.
    public let allowHeadersValue: String
    public let exposeHeadersValue: String
    public let maxAgeValue: String?

    public init(allowedOrigins: [String], allowedHeaders: [String] = [], exposedHeaders: [String] = [],
                maxAgeSeconds: UInt64? = nil, allowCredentials: Bool = false) {
        self.allowedOrigins = allowedOrigins.filter { $0 != "*" }
        allowsAnyOrigin = allowedOrigins.contains("*")
        self.allowedHeaders = allowedHeaders
        self.exposedHeaders = exposedHeaders
        self.maxAgeSeconds = maxAgeSeconds
        self.allowCredentials = allowCredentials
        var allow = Self.defaultAllowedHeaders
        for h in allowedHeaders where !allow.contains(h) { allow.append(h) }
        allowHeadersValue = allow.joined(separator: ", ")
        var expose = Self.defaultExposedHeaders
        for h in exposedHeaders where !expose.contains(h) { expose.append(h) }
        exposeHeadersValue = expose.joined(separator: ", ")
        maxAgeValue = maxAgeSeconds.map { String($0) }
    }

    /// Whether a request from `origin` (the `Origin` field, as sent) may be answered with CORS
    /// headers.
    public func allows(origin: String) -> Bool {
        if allowsAnyOrigin { return true }
        return allowedOrigins.contains(origin.lowercased())
    }

    /// `Access-Control-Allow-Origin` for an allowed origin: `*` only when any origin is allowed
    /// and no credentials are (browsers refuse `*` with credentials: the origin is echoed then).
    public func allowOriginValue(for origin: String) -> String {
        allowsAnyOrigin && !allowCredentials ? "*" : origin
    }

    /// Whether the answer depends on `Origin` (then caches must be told: `Vary: Origin`).
    public var variesByOrigin: Bool { !(allowsAnyOrigin && !allowCredentials) }
}

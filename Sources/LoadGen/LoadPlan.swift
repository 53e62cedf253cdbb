import TLS
import UVLoop

/// The shape of each call a run makes.
public enum LoadScenario: String, Sendable, CaseIterable {
    /// One request message, one response message.
    case unary
    /// One request message, any number of response messages (reported as messages/s and bytes/s).
    case serverStreaming = "server-streaming"
    /// `messagesPerCall` request messages, one response.
    case clientStreaming = "client-streaming"
    /// `messagesPerCall` round trips on one stream: each request message is sent when the
    /// response to the previous one has arrived; each round trip's latency is recorded.
    case bidiPingPong = "bidi-pingpong"
    /// `messagesPerCall` request messages sent as fast as flow control allows while the
    /// responses are read (throughput).
    case bidiBulk = "bidi-bulk"

    /// Whether the request carries more than one message (HTTP/1.1: a chunked body).
    var streamsRequest: Bool { self == .clientStreaming || self == .bidiPingPong || self == .bidiBulk }
    /// Whether the response may carry more than one message.
    var streamsResponse: Bool { self == .serverStreaming || self == .bidiPingPong || self == .bidiBulk }
}

/// The connection protocol a wire format runs on.
public enum LoadTransport: String, Sendable {
    /// HTTP/2 over cleartext TCP with prior knowledge (h2c, RFC 9113 §3.3): calls multiplexed.
    case http2 = "h2c"
    /// HTTP/1.1 keep-alive: one call at a time per connection.
    case http1 = "http/1.1"
}

/// Closed loop keeps a fixed number of calls in flight; open loop starts calls at a fixed rate,
/// whatever the target's latency, and measures each from the moment it was meant to start.
public enum LoadMode: Sendable, Equatable {
    case closed
    case open(callsPerSecond: Double)
}

/// Everything a run needs, decided before any thread starts. Immutable; shared by all workers.
public final class LoadPlan: Sendable {
    public let target: ResolvedAddress
    /// `host:port` as given (the `:authority` / `Host`).
    public let authority: String
    public let format: any WireFormat
    public let transport: LoadTransport
    public let scenario: LoadScenario
    /// The request path: `/pkg.Service/Method` for gRPC, or `--path` for JSON.
    public let path: String
    /// The method's display name (`/pkg.Service/Method`).
    public let method: String
    /// One request message, unframed (protobuf for gRPC, JSON text for JSON).
    public let message: [UInt8]
    /// Request messages per call (1 for unary and server streaming).
    public let messagesPerCall: Int
    /// Extra request header fields (metadata), lower-case names.
    public let extraHeaders: [(String, String)]
    public let connections: Int
    /// Concurrent calls per connection (HTTP/2); HTTP/1.1 opens connections × streams sockets.
    public let streamsPerConnection: Int
    public let threads: Int
    public let mode: LoadMode
    /// Measured time after the warm-up, in nanoseconds; nil when only `calls` bounds the run.
    public let durationNs: UInt64?
    /// Calls to record (started after the warm-up); nil when only the duration bounds the run.
    public let calls: Int?
    public let warmupNs: UInt64
    /// How long calls in flight at the end may take to finish before they are cancelled.
    public let graceNs: UInt64
    public let connectTimeoutMs: UInt64
    /// Processes whose CPU and peak RSS are reported.
    public let pids: [Int32]
    public let showProgress: Bool
    /// HTTP/2 over TLS (ALPN `h2`) with this context; nil: h2c.
    public let tls: TLSClientContext?
    /// SNI and the name the certificate is checked against; nil: the target's host.
    public let tlsServerName: String?

    public init(target: ResolvedAddress, authority: String, format: any WireFormat, transport: LoadTransport,
                scenario: LoadScenario, path: String, method: String, message: [UInt8], messagesPerCall: Int,
                extraHeaders: [(String, String)], connections: Int, streamsPerConnection: Int, threads: Int,
                mode: LoadMode, durationNs: UInt64?, calls: Int?, warmupNs: UInt64, graceNs: UInt64,
                connectTimeoutMs: UInt64 = 5000, pids: [Int32], showProgress: Bool = true,
                tls: TLSClientContext? = nil, tlsServerName: String? = nil) {
        self.tls = tls
        self.tlsServerName = tlsServerName
        self.target = target
        self.authority = authority
        self.format = format
        self.transport = transport
        self.scenario = scenario
        self.path = path
        self.method = method
        self.message = message
        self.messagesPerCall = scenario.streamsRequest ? max(1, messagesPerCall) : 1
        self.extraHeaders = extraHeaders
        self.connections = max(1, connections)
        self.streamsPerConnection = max(1, streamsPerConnection)
        self.threads = max(1, threads)
        self.mode = mode
        self.durationNs = durationNs
        self.calls = calls
        self.warmupNs = warmupNs
        self.graceNs = graceNs
        self.connectTimeoutMs = connectTimeoutMs
        self.pids = pids
        self.showProgress = showProgress
    }

    /// Sockets opened in all: HTTP/1.1 carries one call at a time, so it needs one socket per
    /// concurrent call to offer the same concurrency as HTTP/2 streams.
    public var sockets: Int {
        transport == .http2 ? connections : connections * streamsPerConnection
    }

    /// Calls per socket at once.
    var slotsPerSocket: Int { transport == .http2 ? streamsPerConnection : 1 }

    /// Sockets of worker `w` (the first workers take one more when they do not divide evenly).
    func sockets(ofWorker w: Int) -> Int {
        let n = sockets, t = workerCount
        return n / t + (w < n % t ? 1 : 0)
    }

    /// Workers actually started: never more than sockets.
    public var workerCount: Int { min(threads, sockets) }

    /// Recorded calls worker `w` makes when `calls` bounds the run.
    func callQuota(ofWorker w: Int) -> Int? {
        guard let calls else { return nil }
        let t = workerCount
        return calls / t + (w < calls % t ? 1 : 0)
    }
}

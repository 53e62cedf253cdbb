import Synchronization

/// One worker's counters: written only by that worker's thread, read by the admin endpoint on
/// another. Each is an atomic with relaxed ordering, updated by a plain load and store (single
/// writer: no read-modify-write, no lock prefix, no sharing of cache lines between workers'
/// hot paths beyond this object). Sums over workers are taken when scraped.
public final class CallCounters: Sendable {
    /// Calls by final gRPC status code (0...16); index 17 counts unknown codes.
    public let byStatus: InlineArray<18, Atomic<UInt64>>
    public let callsStarted = Atomic<UInt64>(0)
    public let callsActive = Atomic<Int64>(0)
    public let downstreamConnections = Atomic<Int64>(0)
    public let upstreamConnections = Atomic<Int64>(0)
    public let upstreamConnectFailures = Atomic<UInt64>(0)
    /// Client connections open by protocol once it is known: [0] HTTP/1.1, [1] HTTP/2; and
    /// those over TLS (either protocol).
    public let downstreamByProtocol: InlineArray<2, Atomic<Int64>>
    public let downstreamTLS = Atomic<Int64>(0)
    /// Upstream streams open (calls on upstream connections).
    public let upstreamStreams = Atomic<Int64>(0)
    /// Calls waiting in an endpoint's queue for room on an upstream connection.
    public let upstreamQueued = Atomic<Int64>(0)
    /// Upstream streams reset by the upstream (RST_STREAM received) and by the gateway (sent).
    public let upstreamResetsReceived = Atomic<UInt64>(0)
    public let upstreamResetsSent = Atomic<UInt64>(0)
    /// Calls sent again after an upstream refused their stream unprocessed (REFUSED_STREAM, GOAWAY).
    public let retries = Atomic<UInt64>(0)
    /// Request and response bytes held for this worker's client streams and exchanges, HTTP/2
    /// and HTTP/1.1 (README "Hardening").
    public let bufferedBytes = Atomic<Int64>(0)
    /// Upstream response window granted to this worker's calls beyond the pools' initial window
    /// (at most `max_buffered_per_worker`; README "Hardening").
    public let responseWindowGranted = Atomic<Int64>(0)
    /// Times each limit was hit, by `Limit`.
    public let limitHits: InlineArray<8, Atomic<UInt64>>

    /// The limits counted in `limitHits` (README "Hardening"; `/metrics` label `limit`).
    public enum Limit: Int, CaseIterable, Sendable {
        case connectionsPerWorker, bufferedPerWorker, headerList, minRateRequest, minRateResponse, streamIdle, flood

        /// The label on `/metrics`: the config key (or the abuse) it names.
        public var name: String {
            switch self {
            case .connectionsPerWorker: "max_connections_per_worker"
            case .bufferedPerWorker: "max_buffered_per_worker"
            case .headerList: "max_header_list_size"
            case .minRateRequest: "min_rate_request"
            case .minRateResponse: "min_rate_response"
            case .streamIdle: "stream_idle_timeout"
            case .flood: "flood"
            }
        }
    }
    /// Upstream connects that failed in the TLS handshake (also counted in `upstreamConnectFailures`).
    public let upstreamTLSHandshakeFailures = Atomic<UInt64>(0)
    /// Upstream TLS connections that resumed a session (an abbreviated handshake).
    public let upstreamTLSResumed = Atomic<UInt64>(0)
    /// Client TLS handshakes that failed, by `TLSError.Reason` (index into `TLSFailureReason.names`).
    public let tlsHandshakeFailures: InlineArray<16, Atomic<UInt64>>
    /// Client TLS handshakes completed.
    public let tlsHandshakes = Atomic<UInt64>(0)
    /// Failed lookups of host-name endpoints (the last good addresses stay in use).
    public let upstreamDNSFailures = Atomic<UInt64>(0)

    public init() {
        byStatus = InlineArray { _ in Atomic<UInt64>(0) }
        tlsHandshakeFailures = InlineArray { _ in Atomic<UInt64>(0) }
        limitHits = InlineArray { _ in Atomic<UInt64>(0) }
        downstreamByProtocol = InlineArray { _ in Atomic<Int64>(0) }
    }

    /// Counts one hit of `limit`.
    public func limitHit(_ limit: Limit) {
        add(limitHits[limit.rawValue])
    }

    @inline(__always)
    public func add(_ counter: borrowing Atomic<UInt64>, _ n: UInt64 = 1) {
        counter.singleWriterAdd(n)
    }

    @inline(__always)
    public func add(_ gauge: borrowing Atomic<Int64>, _ n: Int64) {
        gauge.singleWriterAdd(n)
    }

    /// Counts a finished call by its status code (255: unknown).
    @inline(__always)
    public func finished(status: UInt8) {
        byStatus[Int(min(status, 17))].singleWriterAdd(1)
        add(callsActive, -1)
    }
}

extension Atomic where Value == UInt64 {
    /// Adds `n` from the counter's one writer thread: a relaxed load and store, no
    /// read-modify-write (no lock prefix); readers on other threads see each value whole.
    @inline(__always)
    public func singleWriterAdd(_ n: UInt64) {
        store(load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

extension Atomic where Value == Int64 {
    /// `singleWriterAdd` for a gauge.
    @inline(__always)
    public func singleWriterAdd(_ n: Int64) {
        store(load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

/// The bounds a client cannot stretch (README "Hardening"): memory per connection and per
/// worker, connections per worker, header lists, and the time a stream may hold memory without
/// moving bytes. Top-level keys of the routes file; the defaults follow nghttpx and Envoy.
public struct ResourceLimits: Sendable, Equatable {
    /// Key `connection_window`: the HTTP/2 connection-level receive window offered to a client,
    /// and the response bytes the gateway accepts from upstreams for one client connection
    /// beyond each stream's first 64 KiB. Bounds what one connection can make the gateway hold
    /// in each direction, whatever its stream count.
    public var connectionWindowBytes = 16 << 20
    /// Key `max_buffered_per_worker`: when the request and response bytes held for a worker's
    /// client streams exceed this, new HTTP/2 streams get RST_STREAM(REFUSED_STREAM).
    public var maxBufferedPerWorker = 512 << 20
    /// Key `max_connections_per_worker`: client connections a worker holds; one more is closed
    /// at once.
    public var maxConnectionsPerWorker = 10_000
    /// Key `max_header_list_size`: a decoded header list (request head, response head,
    /// trailers), counted as SETTINGS_MAX_HEADER_LIST_SIZE counts (name + value + 32 per field).
    public var maxHeaderListBytes = 64 * 1024
    /// Key `max_header_fields`: fields in one header list.
    public var maxHeaderFields = 100
    /// Key `min_rate`: bytes per second a stream must move, averaged over `min_rate_window`,
    /// while a request body is under way or response bytes wait for the client; 0: off.
    public var minRateBytesPerSecond = 1024
    /// Key `min_rate_window`.
    public var minRateWindowMs: UInt64 = 10_000
    /// Key `stream_idle_timeout`: a stream that moves no byte either way for this long is
    /// reset (Envoy's `stream_idle_timeout`); a stream that moves bytes is never idle.
    public var streamIdleTimeoutMs: UInt64 = 300_000

    public static let connectionWindowRange = 65_535...Int(Int32.max)
    public static let headerListRange = 1_024...(16 << 20)
    public static let headerFieldsRange = 8...10_000

    public init() {}

    /// The request bytes a window of `min_rate` asks for.
    public var minRateWindowBytes: Int {
        Int(clamping: UInt64(minRateBytesPerSecond).multipliedReportingOverflow(by: minRateWindowMs).partialValue / 1000)
    }
}

import Yams

extension ConfigParser {
    static let limitKeys = [
        "connection_window", "max_buffered_per_worker", "max_connections_per_worker",
        "max_header_list_size", "max_header_fields", "min_rate", "min_rate_window", "stream_idle_timeout",
    ]

    /// The top-level keys of `ResourceLimits`; absent keys keep their defaults.
    mutating func parseLimits(_ top: MappingFields) -> ResourceLimits {
        var l = ResourceLimits()
        if let n = top["connection_window"], let v = size(n, key: "connection_window", range: ResourceLimits.connectionWindowRange) {
            l.connectionWindowBytes = v
        }
        if let n = top["max_buffered_per_worker"], let v = size(n, key: "max_buffered_per_worker", range: (1 << 20)...Int.max) {
            l.maxBufferedPerWorker = v
        }
        if let n = top["max_connections_per_worker"],
           let v = integer(n, key: "max_connections_per_worker", range: 1...10_000_000) {
            l.maxConnectionsPerWorker = v
        }
        if let n = top["max_header_list_size"], let v = size(n, key: "max_header_list_size", range: ResourceLimits.headerListRange) {
            l.maxHeaderListBytes = v
        }
        if let n = top["max_header_fields"], let v = integer(n, key: "max_header_fields", range: ResourceLimits.headerFieldsRange) {
            l.maxHeaderFields = v
        }
        if let n = top["min_rate"], let v = size(n, key: "min_rate", range: 0...(1 << 30)) {
            l.minRateBytesPerSecond = v
        }
        if let n = top["min_rate_window"], let v = milliseconds(n, key: "min_rate_window", allowZero: false) {
            l.minRateWindowMs = v
        }
        if let n = top["stream_idle_timeout"], let v = milliseconds(n, key: "stream_idle_timeout", allowZero: false) {
            l.streamIdleTimeoutMs = v
        }
        return l
    }
}

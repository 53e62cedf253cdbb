import Channel
import RouteConfig

/// `GET /config`: the config in effect, as JSON (durations in milliseconds, sizes in bytes):
///
///     {"file": "routes.yaml", "generation": 2, "applied_generation": 2, "loaded_at": 1764640000,
///      "reloads": 1, "failed_reloads": 0, "last_reload_error": null,
///      "listeners": ["127.0.0.1:8080"], "admin": "127.0.0.1:9901", "workers": 2, ...,
///      "limits": {"connection_window": 16777216, "min_rate": 1024, "min_rate_window_ms": 10000, ...},
///      "clusters": [{"name": "echo", "endpoints": ["127.0.0.1:50051"], ...}],
///      "routes": [{"service": "trestle.demo.v1.Echo", "cluster": "echo", "timeout_ms": 30000, ...}]}
///
/// `generation` is the config the main thread last accepted; `applied_generation` the one every
/// worker has switched to (they differ for the instant of a reload).
extension AdminServer {
    func configJSON() -> String {
        let c = reloader.current
        var o = JSONWriter()
        o.begin()
        o.field("file", c.file)
        o.field("generation", reloader.generation)
        o.field("applied_generation", reloader.appliedGeneration)
        o.field("loaded_at", reloader.loadedAt)
        o.field("reloads", Int(reloader.reloads))
        o.field("failed_reloads", Int(reloader.failedReloads))
        o.field("last_reload_error", reloader.lastError)
        o.field("listeners", c.listeners.map(\.description))
        o.field("admin", c.admin?.description)
        o.field("workers", c.workers)
        o.field("descriptors", c.descriptors)
        o.field("shutdown_grace_ms", Int(c.shutdownGraceMs))
        o.field("preface_timeout_ms", Int(c.prefaceTimeoutMs))
        o.field("idle_timeout_ms", Int(c.idleTimeoutMs))
        o.field("max_concurrent_streams", c.maxConcurrentStreams)
        o.field("stream_window", c.streamWindowBytes)
        // ResourceLimits, under the routes file's keys (README "Hardening"); min_rate in bytes/s.
        o.key("limits")
        o.begin()
        o.field("connection_window", c.limits.connectionWindowBytes)
        o.field("max_buffered_per_worker", c.limits.maxBufferedPerWorker)
        o.field("max_connections_per_worker", c.limits.maxConnectionsPerWorker)
        o.field("max_header_list_size", c.limits.maxHeaderListBytes)
        o.field("max_header_fields", c.limits.maxHeaderFields)
        o.field("min_rate", c.limits.minRateBytesPerSecond)
        o.field("min_rate_window_ms", Int(c.limits.minRateWindowMs))
        o.field("stream_idle_timeout_ms", Int(c.limits.streamIdleTimeoutMs))
        o.end()
        o.key("clusters")
        o.array(c.clusters) { o, k in
            o.begin()
            o.field("name", k.name)
            o.field("endpoints", k.endpoints.map(\.description))
            o.field("connect_timeout_ms", Int(k.connectTimeoutMs))
            o.field("max_connections", k.maxConnections)
            o.field("max_streams_per_connection", k.maxStreamsPerConnection)
            o.field("max_pending", k.maxPendingCalls)
            o.field("backoff_base_ms", Int(k.backoffBaseMs))
            o.field("backoff_max_ms", Int(k.backoffMaxMs))
            o.field("tls", k.tls != nil)
            o.end()
        }
        o.key("routes")
        o.array(c.routes) { o, r in
            o.begin()
            o.field("service", r.service.description)
            o.field("cluster", r.cluster)
            o.field("timeout_ms", r.timeoutMs.map { Int($0) })
            o.field("max_request_body", r.maxRequestBodyBytes)
            o.end()
        }
        o.end()
        return o.text + "\n"
    }
}

/// A small JSON text builder for the admin endpoint's answers (objects, arrays, strings, ints).
struct JSONWriter {
    private(set) var text = ""
    private var needsComma = false

    mutating func begin() { separate(); text += "{"; needsComma = false }
    mutating func end() { text += "}"; needsComma = true }

    mutating func key(_ k: String) {
        separate()
        Self.quote(k, into: &text)
        text += ":"
        needsComma = false
    }

    mutating func field(_ k: String, _ v: String?) {
        key(k)
        if let v { Self.quote(v, into: &text) } else { text += "null" }
        needsComma = true
    }

    mutating func field(_ k: String, _ v: Int?) {
        key(k)
        text += v.map(String.init) ?? "null"
        needsComma = true
    }

    mutating func field(_ k: String, _ v: Bool) {
        key(k)
        text += v ? "true" : "false"
        needsComma = true
    }

    mutating func field(_ k: String, _ v: [String]) {
        key(k)
        array(v) { o, s in
            o.separate()
            Self.quote(s, into: &o.text)
            o.needsComma = true
        }
    }

    mutating func array<T>(_ items: [T], _ each: (inout JSONWriter, T) -> Void) {
        text += "["
        needsComma = false
        for item in items { each(&self, item) }
        text += "]"
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { text += "," }
    }

    /// RFC 8259 §7 (`JSONString`).
    static func quote(_ s: String, into out: inout String) {
        out += JSONString.quoted(s)
    }
}

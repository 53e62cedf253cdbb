import HTTP2
import TLS

/// One cluster's pool settings, per worker (from the routes file's cluster entry).
public struct UpstreamClusterSettings: Sendable {
    public var name: String
    public var endpoints: [(host: String, port: UInt16)]
    public var connectTimeoutMs: UInt64
    /// Connections per endpoint per worker.
    public var maxConnections: Int
    /// Cap on streams per connection, below the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    public var maxStreamsPerConnection: Int
    /// Calls queued per endpoint when no connection has room.
    public var maxPendingCalls: Int
    public var backoffBaseMs: UInt64
    public var backoffMaxMs: UInt64
    public var http2: HTTP2LocalSettings
    /// TLS to the endpoints (ALPN `h2` required; verified unless the context says otherwise);
    /// nil: h2c. A holder, so that a reload's new certificates reach new connections.
    public var tls: TLSContextHolder<TLSClientContext>? = nil
    /// SNI and verification name; nil: each endpoint's host.
    public var tlsServerName: String? = nil
    /// How often host-name endpoints are resolved again (ClusterPool+DNS.swift).
    public var dnsRefreshMs: UInt64 = 5_000

    public init(name: String, endpoints: [(host: String, port: UInt16)], connectTimeoutMs: UInt64,
                maxConnections: Int, maxStreamsPerConnection: Int, maxPendingCalls: Int,
                backoffBaseMs: UInt64, backoffMaxMs: UInt64, http2: HTTP2LocalSettings) {
        self.name = name
        self.endpoints = endpoints
        self.connectTimeoutMs = connectTimeoutMs
        self.maxConnections = maxConnections
        self.maxStreamsPerConnection = maxStreamsPerConnection
        self.maxPendingCalls = maxPendingCalls
        self.backoffBaseMs = backoffBaseMs
        self.backoffMaxMs = backoffMaxMs
        self.http2 = http2
    }
}

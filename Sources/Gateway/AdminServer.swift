import Channel
import HTTP1
import UVLoop

/// The admin endpoint on the main thread's loop: `GET /healthz` (the process is up),
/// `GET /readyz` (accepting calls: 503 while draining and until every worker's loop runs),
/// `GET /metrics` (Prometheus text, the workers' counters summed when scraped) and `GET /config`
/// (the config in effect as JSON, AdminServer+Config.swift). One request per connection, read by the HTTP1
/// request parser and answered with `Connection: close`; anything else is 404/405, a malformed
/// or oversized request gets the parser's status (400, 414, 431, ...).
final class AdminServer {
    private let loop: Loop
    private var listener: TCPListener?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    let workers: [Worker]
    let reloader: ConfigReloader
    var draining = false

    init(loop: Loop, address: ResolvedAddress, workers: [Worker], reloader: ConfigReloader) throws {
        self.loop = loop
        self.workers = workers
        self.reloader = reloader
        listener = try TCPListener(loop: loop, address: address, reusePort: false) { [unowned self] l in
            guard let tcp = l.accept() else { return }
            let c = AdminConnection(server: self, tcp: tcp)
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    func closed(_ c: AdminConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
    }

    func close() {
        listener?.close()
        listener = nil
        for c in Array(connections.values) { c.close() }
    }

    /// The response to one request: status, content type and body.
    func respond(method: String, target: String) -> (status: Int, type: String, body: String) {
        guard method == "GET" || method == "HEAD" else {
            return (405, "text/plain", "only GET is served here\n")
        }
        switch target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" {
        case "/healthz":
            return (200, "text/plain", "ok\n")
        case "/readyz":
            if draining { return (503, "text/plain", "draining\n") }
            // Before the first config is in effect on every worker (their loops run), calls
            // would wait in the listen backlog: not ready yet.
            if !workers.allSatisfy(\.isRunning) { return (503, "text/plain", "starting\n") }
            return (200, "text/plain", "ready\n")
        case "/metrics":
            return (200, "text/plain; version=0.0.4", metrics())
        case "/config":
            return (200, "application/json", configJSON())
        default:
            return (404, "text/plain", "not found: the admin endpoint serves /healthz, /readyz, /metrics and /config\n")
        }
    }

    /// Prometheus text exposition of the workers' counters, summed.
    func metrics() -> String {
        var byStatus = [UInt64](repeating: 0, count: 18)
        var started: UInt64 = 0, failures: UInt64 = 0, dnsFailures: UInt64 = 0
        var active: Int64 = 0, down: Int64 = 0, up: Int64 = 0, buffered: Int64 = 0
        var limits = [UInt64](repeating: 0, count: CallCounters.Limit.allCases.count)
        var handshakes: UInt64 = 0, upstreamTLSFailures: UInt64 = 0, upstreamResumed: UInt64 = 0
        let reasons = ServerConnection.tlsFailureReasons
        var tlsFailures = [UInt64](repeating: 0, count: reasons.count)
        for w in workers {
            let c = w.counters
            buffered &+= c.bufferedBytes.load(ordering: .relaxed)
            for l in CallCounters.Limit.allCases { limits[l.rawValue] &+= c.limitHits[l.rawValue].load(ordering: .relaxed) }
            for i in 0 ..< 18 { byStatus[i] &+= c.byStatus[i].load(ordering: .relaxed) }
            started &+= c.callsStarted.load(ordering: .relaxed)
            failures &+= c.upstreamConnectFailures.load(ordering: .relaxed)
            dnsFailures &+= c.upstreamDNSFailures.load(ordering: .relaxed)
            active &+= c.callsActive.load(ordering: .relaxed)
            down &+= c.downstreamConnections.load(ordering: .relaxed)
            up &+= c.upstreamConnections.load(ordering: .relaxed)
            handshakes &+= c.tlsHandshakes.load(ordering: .relaxed)
            upstreamTLSFailures &+= c.upstreamTLSHandshakeFailures.load(ordering: .relaxed)
            upstreamResumed &+= c.upstreamTLSResumed.load(ordering: .relaxed)
            for i in reasons.indices { tlsFailures[i] &+= c.tlsHandshakeFailures[i].load(ordering: .relaxed) }
        }
        var out = """
        # HELP trestle_calls_started_total Calls accepted from clients.
        # TYPE trestle_calls_started_total counter
        trestle_calls_started_total \(started)
        # HELP trestle_calls_total Calls finished, by final gRPC status (CANCELLED includes client resets).
        # TYPE trestle_calls_total counter

        """
        for code in GRPCStatusCode.allCases {
            out += "trestle_calls_total{code=\"\(code.name)\"} \(byStatus[Int(code.rawValue)])\n"
        }
        out += "trestle_calls_total{code=\"UNKNOWN_CODE\"} \(byStatus[17])\n"
        out += """
        # HELP trestle_calls_active Calls in flight.
        # TYPE trestle_calls_active gauge
        trestle_calls_active \(active)
        # HELP trestle_downstream_connections Client connections open.
        # TYPE trestle_downstream_connections gauge
        trestle_downstream_connections \(down)
        # HELP trestle_upstream_connections Upstream HTTP/2 connections open.
        # TYPE trestle_upstream_connections gauge
        trestle_upstream_connections \(up)
        # HELP trestle_upstream_connect_failures_total Failed or timed-out upstream connects.
        # TYPE trestle_upstream_connect_failures_total counter
        trestle_upstream_connect_failures_total \(failures)
        # HELP trestle_upstream_dns_failures_total Failed lookups of host-name endpoints (each worker resolves; the last good addresses stay).
        # TYPE trestle_upstream_dns_failures_total counter
        trestle_upstream_dns_failures_total \(dnsFailures)
        # HELP trestle_upstream_tls_handshake_failures_total Upstream connects that failed in the TLS handshake.
        # TYPE trestle_upstream_tls_handshake_failures_total counter
        trestle_upstream_tls_handshake_failures_total \(upstreamTLSFailures)
        # HELP trestle_upstream_tls_resumed_total Upstream TLS connections that resumed a session.
        # TYPE trestle_upstream_tls_resumed_total counter
        trestle_upstream_tls_resumed_total \(upstreamResumed)
        # HELP trestle_tls_handshakes_total Client TLS handshakes completed.
        # TYPE trestle_tls_handshakes_total counter
        trestle_tls_handshakes_total \(handshakes)
        # HELP trestle_tls_handshake_failures_total Client TLS handshakes that failed, by reason.
        # TYPE trestle_tls_handshake_failures_total counter

        """
        for (i, reason) in reasons.enumerated() {
            out += "trestle_tls_handshake_failures_total{reason=\"\(reason)\"} \(tlsFailures[i])\n"
        }
        out += """
        # HELP trestle_buffered_bytes Request and response bytes held for client streams.
        # TYPE trestle_buffered_bytes gauge
        trestle_buffered_bytes \(buffered)
        # HELP trestle_limit_hits_total Connections, streams or calls stopped by a limit (README "Hardening").
        # TYPE trestle_limit_hits_total counter

        """
        for l in CallCounters.Limit.allCases {
            out += "trestle_limit_hits_total{limit=\"\(l.name)\"} \(limits[l.rawValue])\n"
        }
        out += """
        # HELP trestle_workers Worker threads.
        # TYPE trestle_workers gauge
        trestle_workers \(workers.count)
        # HELP trestle_config_reloads_total Reloads of the routes file that were applied.
        # TYPE trestle_config_reloads_total counter
        trestle_config_reloads_total \(reloader.reloads)
        # HELP trestle_config_reload_failures_total Reloads refused (invalid file); the previous config stayed.
        # TYPE trestle_config_reload_failures_total counter
        trestle_config_reload_failures_total \(reloader.failedReloads)
        # HELP trestle_config_generation The config in effect: 1 at startup, +1 per applied reload.
        # TYPE trestle_config_generation gauge
        trestle_config_generation \(reloader.generation)
        # HELP trestle_config_last_reload_success_timestamp_seconds When the config in effect was loaded.
        # TYPE trestle_config_last_reload_success_timestamp_seconds gauge
        trestle_config_last_reload_success_timestamp_seconds \(reloader.loadedAt)

        """
        return out
    }
}

/// One admin request on its own connection, on the main thread's loop; owned by the server's
/// table until it closes.
final class AdminConnection: TCPStreamDelegate {
    unowned(unsafe) let server: AdminServer
    private let tcp: TCPStream
    /// Admin requests are a line and a few fields: 8 KiB of head is plenty.
    private var parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: 8 * 1024))
    private let out = OutputBuffer(capacity: 4096)
    private var done = false

    init(server: AdminServer, tcp: TCPStream) {
        self.server = server
        self.tcp = tcp
        tcp.delegate = self
        tcp.startReading()
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard !done else { return }
        var head: HTTP1RequestHead?
        do {
            // The answer goes out once the head is in; a body, or a second request, is not read.
            try parser.feed(bytes, stopAfterEnd: true) { event in
                if case .head(let h) = event, head == nil { head = h }
            }
        } catch {
            var response: [UInt8] = []
            HTTP1ResponseWriter.writeError(error, into: &response)
            send(response)
            return
        }
        guard let head else { return }
        let r = server.respond(method: head.method, target: head.target)
        let body = Array(r.body.utf8)
        var response: [UInt8] = []
        do {
            try HTTP1ResponseWriter.writeHead(status: r.status, headers: ["Content-Type": r.type, "Connection": "close"],
                                              framing: .contentLength(body.count), into: &response)
        } catch {
            preconditionFailure("constant headers are valid: \(error)")
        }
        if head.method != "HEAD" { response += body }
        send(response)
    }

    private func send(_ response: [UInt8]) {
        done = true
        tcp.stopReading()
        response.withUnsafeBytes { out.append($0) }
        if tcp.write(out.bytes) { close() }  // else closed when the write completes
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) { close() }

    func close() {
        tcp.close()
        server.closed(self)
    }
}

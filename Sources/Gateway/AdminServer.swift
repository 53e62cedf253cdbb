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
    let accessLog: AccessLogWriter?
    var draining = false

    init(loop: Loop, address: ResolvedAddress, workers: [Worker], reloader: ConfigReloader,
         accessLog: AccessLogWriter? = nil) throws {
        self.loop = loop
        self.workers = workers
        self.reloader = reloader
        self.accessLog = accessLog
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
        var active: Int64 = 0, down: Int64 = 0, up: Int64 = 0, buffered: Int64 = 0, granted: Int64 = 0
        var downH1: Int64 = 0, downH2: Int64 = 0, downTLS: Int64 = 0, upStreams: Int64 = 0, upQueued: Int64 = 0
        var resetsReceived: UInt64 = 0, resetsSent: UInt64 = 0, retries: UInt64 = 0
        var limits = [UInt64](repeating: 0, count: CallCounters.Limit.allCases.count)
        var handshakes: UInt64 = 0, upstreamTLSFailures: UInt64 = 0, upstreamResumed: UInt64 = 0
        let reasons = ServerConnection.tlsFailureReasons
        var tlsFailures = [UInt64](repeating: 0, count: reasons.count)
        for w in workers {
            let c = w.counters
            buffered &+= c.bufferedBytes.load(ordering: .relaxed)
            granted &+= c.responseWindowGranted.load(ordering: .relaxed)
            for l in CallCounters.Limit.allCases { limits[l.rawValue] &+= c.limitHits[l.rawValue].load(ordering: .relaxed) }
            for i in 0 ..< 18 { byStatus[i] &+= c.byStatus[i].load(ordering: .relaxed) }
            started &+= c.callsStarted.load(ordering: .relaxed)
            failures &+= c.upstreamConnectFailures.load(ordering: .relaxed)
            dnsFailures &+= c.upstreamDNSFailures.load(ordering: .relaxed)
            active &+= c.callsActive.load(ordering: .relaxed)
            down &+= c.downstreamConnections.load(ordering: .relaxed)
            up &+= c.upstreamConnections.load(ordering: .relaxed)
            downH1 &+= c.downstreamByProtocol[0].load(ordering: .relaxed)
            downH2 &+= c.downstreamByProtocol[1].load(ordering: .relaxed)
            downTLS &+= c.downstreamTLS.load(ordering: .relaxed)
            upStreams &+= c.upstreamStreams.load(ordering: .relaxed)
            upQueued &+= c.upstreamQueued.load(ordering: .relaxed)
            resetsReceived &+= c.upstreamResetsReceived.load(ordering: .relaxed)
            resetsSent &+= c.upstreamResetsSent.load(ordering: .relaxed)
            retries &+= c.retries.load(ordering: .relaxed)
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
        # HELP trestle_downstream_connections_by_protocol Client connections open, by the protocol they speak (once known).
        # TYPE trestle_downstream_connections_by_protocol gauge
        trestle_downstream_connections_by_protocol{protocol="http1"} \(downH1)
        trestle_downstream_connections_by_protocol{protocol="http2"} \(downH2)
        # HELP trestle_downstream_tls_connections Client connections open over TLS.
        # TYPE trestle_downstream_tls_connections gauge
        trestle_downstream_tls_connections \(downTLS)
        # HELP trestle_upstream_connections Upstream HTTP/2 connections open.
        # TYPE trestle_upstream_connections gauge
        trestle_upstream_connections \(up)
        # HELP trestle_upstream_streams Upstream streams open (streams per connection: divide by trestle_upstream_connections).
        # TYPE trestle_upstream_streams gauge
        trestle_upstream_streams \(upStreams)
        # HELP trestle_upstream_pending_calls Calls waiting in a pool queue for room on an upstream connection.
        # TYPE trestle_upstream_pending_calls gauge
        trestle_upstream_pending_calls \(upQueued)
        # HELP trestle_upstream_resets_received_total Upstream streams reset by the upstream (RST_STREAM received).
        # TYPE trestle_upstream_resets_received_total counter
        trestle_upstream_resets_received_total \(resetsReceived)
        # HELP trestle_upstream_resets_sent_total Upstream streams reset by the gateway (client gone, deadline, limit).
        # TYPE trestle_upstream_resets_sent_total counter
        trestle_upstream_resets_sent_total \(resetsSent)
        # HELP trestle_upstream_retries_total Calls sent again after an upstream refused their stream unprocessed (REFUSED_STREAM, above a GOAWAY's last stream).
        # TYPE trestle_upstream_retries_total counter
        trestle_upstream_retries_total \(retries)
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
        # HELP trestle_buffered_bytes Request and response bytes held for client streams and HTTP/1.1 exchanges.
        # TYPE trestle_buffered_bytes gauge
        trestle_buffered_bytes \(buffered)
        # HELP trestle_response_window_granted_bytes Upstream response window granted beyond the initial 64 KiB per stream (at most max_buffered_per_worker per worker).
        # TYPE trestle_response_window_granted_bytes gauge
        trestle_response_window_granted_bytes \(granted)
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
        # HELP trestle_build_info The running build.
        # TYPE trestle_build_info gauge
        trestle_build_info{version="\(BuildInfo.version)"} 1

        """
        if let accessLog {
            out += """
            # HELP trestle_access_log_lines_total Access log lines handed to the writer.
            # TYPE trestle_access_log_lines_total counter
            trestle_access_log_lines_total \(accessLog.written.load(ordering: .relaxed))
            # HELP trestle_access_log_dropped_total Access log lines dropped because the writer was behind.
            # TYPE trestle_access_log_dropped_total counter
            trestle_access_log_dropped_total \(accessLog.dropped.load(ordering: .relaxed))

            """
        }
        methodMetrics(into: &out)
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

// MARK: per-method series

extension AdminServer {
    /// One (service, method)'s counters summed over the workers.
    private struct MethodSum {
        var calls = [UInt64](repeating: 0, count: 90)
        var latency = [UInt64](repeating: 0, count: 21)
        var sumNs: UInt64 = 0
        var requestBytes: UInt64 = 0, responseBytes: UInt64 = 0, requestMessages: UInt64 = 0, responseMessages: UInt64 = 0
    }

    /// `trestle_method_*`: calls by service, method, protocol and code; latency histograms and
    /// bytes and messages by service and method (README "Metrics": the series are bounded).
    func methodMetrics(into out: inout String) {
        var sums: [String: (service: String, method: String, sum: MethodSum)] = [:]
        var order: [String] = []
        for w in workers {
            for s in w.methods.allSeries {
                let key = s.service + "/" + s.method
                var entry = sums[key] ?? (s.service, s.method, MethodSum())
                if sums[key] == nil { order.append(key) }
                for i in 0 ..< 90 { entry.sum.calls[i] &+= s.calls[i].load(ordering: .relaxed) }
                for i in 0 ..< 21 { entry.sum.latency[i] &+= s.latency[i].load(ordering: .relaxed) }
                entry.sum.sumNs &+= s.latencySumNs.load(ordering: .relaxed)
                entry.sum.requestBytes &+= s.requestBytes.load(ordering: .relaxed)
                entry.sum.responseBytes &+= s.responseBytes.load(ordering: .relaxed)
                entry.sum.requestMessages &+= s.requestMessages.load(ordering: .relaxed)
                entry.sum.responseMessages &+= s.responseMessages.load(ordering: .relaxed)
                sums[key] = entry
            }
        }
        order.sort()
        let rows = order.map { sums[$0]! }
        let codes = GRPCStatusCode.allCases.map(\.name) + ["UNKNOWN_CODE"]
        out += """
        # HELP trestle_method_calls_total Calls finished, by service, method, client protocol and final gRPC status.
        # TYPE trestle_method_calls_total counter

        """
        for r in rows {
            let labels = "service=\"\(Self.escape(r.service))\",method=\"\(Self.escape(r.method))\""
            for p in CallProtocol.allCases {
                for (c, name) in codes.enumerated() {
                    let n = r.sum.calls[p.rawValue * 18 + c]
                    if n > 0 { out += "trestle_method_calls_total{\(labels),protocol=\"\(p.name)\",code=\"\(name)\"} \(n)\n" }
                }
            }
        }
        out += """
        # HELP trestle_method_duration_seconds Call duration from the request head to the final status, by service and method.
        # TYPE trestle_method_duration_seconds histogram

        """
        for r in rows {
            let labels = "service=\"\(Self.escape(r.service))\",method=\"\(Self.escape(r.method))\""
            var cumulative: UInt64 = 0
            for (i, le) in LatencyBuckets.seconds.enumerated() {
                cumulative &+= r.sum.latency[i]
                out += "trestle_method_duration_seconds_bucket{\(labels),le=\"\(le)\"} \(cumulative)\n"
            }
            cumulative &+= r.sum.latency[20]
            out += "trestle_method_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
            out += "trestle_method_duration_seconds_sum{\(labels)} \(Self.seconds(r.sum.sumNs))\n"
            out += "trestle_method_duration_seconds_count{\(labels)} \(cumulative)\n"
        }
        let moved: [(String, String, KeyPath<MethodSum, UInt64>)] = [
            ("trestle_method_request_bytes_total", "gRPC-framed request bytes sent upstream", \.requestBytes),
            ("trestle_method_response_bytes_total", "gRPC-framed response bytes received from the upstream", \.responseBytes),
            ("trestle_method_request_messages_total", "Request messages sent upstream", \.requestMessages),
            ("trestle_method_response_messages_total", "Response messages received from the upstream", \.responseMessages),
        ]
        for (name, help, path) in moved {
            out += "# HELP \(name) \(help), by service and method.\n# TYPE \(name) counter\n"
            for r in rows {
                out += "\(name){service=\"\(Self.escape(r.service))\",method=\"\(Self.escape(r.method))\"} \(r.sum[keyPath: path])\n"
            }
        }
    }

    /// A label value in the text format: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Nanoseconds as seconds with nine decimals.
    static func seconds(_ ns: UInt64) -> String {
        let frac = String(ns % 1_000_000_000)
        return "\(ns / 1_000_000_000)." + String(repeating: "0", count: 9 - frac.count) + frac
    }
}

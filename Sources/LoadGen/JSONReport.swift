/// The `--json` file: the table's figures, machine-readable, and the latency histogram.
///
/// Latencies are integers in µs. `histogram.buckets` lists the non-empty buckets of the
/// log-linear histogram as `[lowest_us, highest_us, count]`; `histogram.percentiles` is its
/// percentile distribution (HdrHistogram style), for plotting or comparing runs.
public enum JSONReport {
    public static func render(_ r: LoadReport) -> String {
        let s = r.stats
        var o = JSONObject()
        o.add("target", r.target)
        o.add("protocol", r.protocolName)
        o.add("transport", r.transport)
        o.add("scenario", r.scenario)
        o.add("method", r.method)
        o.add("path", r.path)
        switch r.mode {
        case .closed:
            o.add("mode", "closed")
        case let .open(rate):
            o.add("mode", "open")
            o.addRaw("rate", Format.number(rate))
        }
        o.addRaw("connections", "\(r.connections)")
        o.addRaw("streams", "\(r.streams)")
        o.addRaw("sockets", "\(r.sockets)")
        o.addRaw("threads", "\(r.threads)")
        o.addRaw("messages_per_call", "\(r.messagesPerCall)")
        o.addRaw("request_message_bytes", "\(r.requestMessageBytes)")
        o.addRaw("warmup_s", Format.fixed(r.warmupSeconds, 3))
        o.addRaw("duration_s", Format.fixed(r.seconds, 6))
        o.addRaw("interrupted", r.interrupted ? "true" : "false")
        o.addRaw("calls", "\(s.calls)")
        o.addRaw("ok", "\(s.codes[0])")
        o.addRaw("errors", "\(s.errors)")
        o.addRaw("calls_per_s", Format.fixed(r.callsPerSecond, 3))
        o.addRaw("latency_us", latency(s.latency))
        if s.messageLatency.totalCount > 0 { o.addRaw("round_trip_latency_us", latency(s.messageLatency)) }

        var status = JSONObject()
        for c in r.statusCounts { status.addRaw(c.name, "\(c.count)") }
        o.addRaw("status", status.text)
        var grpc = JSONObject()
        for c in r.statusCounts { grpc.addRaw(String(c.code), "\(c.count)") }
        o.addRaw("grpc_status", grpc.text)
        var http = JSONObject()
        for c in r.httpCounts { http.addRaw(c.status == 0 ? "none" : String(c.status), "\(c.count)") }
        o.addRaw("http_status", http.text)
        var transport = JSONObject()
        transport.addRaw("missing_status", "\(s.missingStatus)")
        transport.addRaw("stream_resets", "\(s.streamResets)")
        transport.addRaw("connection_lost", "\(s.connectionLost)")
        transport.addRaw("connect_failures", "\(s.connectFailures)")
        transport.addRaw("unfinished", "\(s.unfinished)")
        transport.addRaw("not_started", "\(s.notStarted)")
        o.addRaw("transport_errors", transport.text)

        o.addRaw("bytes_sent", "\(s.bytesSent)")
        o.addRaw("bytes_received", "\(s.bytesReceived)")
        o.addRaw("bytes_sent_per_s", Format.fixed(r.bytesSentPerSecond, 1))
        o.addRaw("bytes_received_per_s", Format.fixed(r.bytesReceivedPerSecond, 1))
        o.addRaw("messages_sent", "\(s.messagesSent)")
        o.addRaw("messages_received", "\(s.messagesReceived)")
        o.addRaw("messages_sent_per_s", Format.fixed(r.messagesSentPerSecond, 3))
        o.addRaw("messages_received_per_s", Format.fixed(r.messagesReceivedPerSecond, 3))

        var cpu = JSONObject()
        cpu.addRaw("cpu_us", "\(r.generatorCPUMicros)")
        cpu.addRaw("cpu_us_per_call", r.cpuMicrosPerCall(r.generatorCPUMicros).map { Format.fixed($0, 3) } ?? "null")
        o.addRaw("generator", cpu.text)
        var procs: [String] = []
        for p in r.processes {
            var po = JSONObject()
            po.addRaw("pid", "\(p.pid)")
            po.addRaw("cpu_us", p.cpuMicros.map { "\($0)" } ?? "null")
            po.addRaw("cpu_us_per_call", r.cpuMicrosPerCall(p.cpuMicros).map { Format.fixed($0, 3) } ?? "null")
            po.addRaw("peak_rss_kib", p.peakRSSKiB.map { "\($0)" } ?? "null")
            po.addRaw("peak_rss_reset", p.peakReset ? "true" : "false")
            procs.append(po.text)
        }
        o.addRaw("processes", "[" + procs.joined(separator: ", ") + "]")
        let series = r.throughputSeries
        o.addRaw("throughput", "[" + series.map {
            "{\"second\": \($0.second), \"calls_per_s\": \(Format.fixed($0.calls, 1)), \"errors_per_s\": \(Format.fixed($0.errors, 1))}"
        }.joined(separator: ", ") + "]")
        o.addRaw("histogram", histogram(s.latency))
        return o.text + "\n"
    }

    static func latency(_ h: LatencyHistogram) -> String {
        var l = JSONObject()
        l.addRaw("count", "\(h.totalCount)")
        l.addRaw("min", "\(h.totalCount > 0 ? h.min : 0)")
        l.addRaw("mean", Format.fixed(h.mean, 1))
        for (label, p) in LoadReport.percentiles { l.addRaw(label, "\(h.value(atPercentile: p))") }
        l.addRaw("p99.99", "\(h.value(atPercentile: 99.99))")
        l.addRaw("max", "\(h.max)")
        return l.text
    }

    static func histogram(_ h: LatencyHistogram) -> String {
        var o = JSONObject()
        o.add("unit", "us")
        o.addRaw("significant_digits", "2")
        o.addRaw("sub_buckets", "\(LatencyHistogram.subBucketHalf)")
        o.addRaw("count", "\(h.totalCount)")
        o.addRaw("buckets", "[" + h.buckets.map { "[\($0.low), \($0.high), \($0.count)]" }.joined(separator: ", ") + "]")
        o.addRaw("percentiles", "[" + h.percentileSpectrum.map {
            "[\(Format.fixed($0.percentile, 6)), \($0.micros)]"
        }.joined(separator: ", ") + "]")
        return o.text
    }
}

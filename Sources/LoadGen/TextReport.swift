/// The table printed at the end of a run.
public enum TextReport {
    public static func render(_ r: LoadReport) -> String {
        var lines: [String] = []
        let shape = r.transport == LoadTransport.http1.rawValue
            ? "\(plural(r.sockets, "connection")) (\(r.connections) × \(r.streams), one call at a time each)"
            : "\(plural(r.connections, "connection")) × \(plural(r.streams, "stream"))"
        lines.append("trestle load: \(r.protocolName) \(r.scenario) \(r.method) → \(r.target) (\(r.transport))")
        var setup = "  \(r.modeDescription), \(shape), \(plural(r.threads, "thread"))"
        if r.scenario != LoadScenario.unary.rawValue && r.scenario != LoadScenario.serverStreaming.rawValue {
            setup += ", \(r.messagesPerCall) messages per call"
        }
        lines.append(setup)
        var window = "  \(Format.fixed(r.seconds, 2)) s measured"
        if r.warmupSeconds > 0 { window += " after \(Format.fixed(r.warmupSeconds, 1)) s of warm-up" }
        if r.interrupted { window += " (interrupted)" }
        lines.append(window)
        lines.append("")

        let s = r.stats
        func row(_ label: String, _ value: String) { lines.append("  " + pad(label, 12) + value) }
        row("calls", "\(s.calls) (\(Format.number(r.callsPerSecond))/s)   ok \(s.codes[0])   errors \(s.errors)")
        var header = "", values = ""
        for (label, _) in [("min", 0.0)] + LoadReport.percentiles + [("max", 100), ("mean", -1)] {
            header += pad(label, 10)
        }
        values += pad(Format.latency(s.latency.totalCount > 0 ? s.latency.min : 0), 10)
        for (_, p) in LoadReport.percentiles { values += pad(Format.latency(s.latency.value(atPercentile: p)), 10) }
        values += pad(Format.latency(s.latency.max), 10)
        values += pad(Format.latency(UInt64(s.latency.mean.rounded())), 10)
        row("latency", header)
        row("", values)
        if s.messageLatency.totalCount > 0 {
            var v = ""
            v += pad(Format.latency(s.messageLatency.min), 10)
            for (_, p) in LoadReport.percentiles { v += pad(Format.latency(s.messageLatency.value(atPercentile: p)), 10) }
            v += pad(Format.latency(s.messageLatency.max), 10)
            v += pad(Format.latency(UInt64(s.messageLatency.mean.rounded())), 10)
            row("round trip", v + "(\(s.messageLatency.totalCount) messages)")
        }
        row("status", r.statusCounts.map { "\($0.name) \($0.count)" }.joined(separator: "   "))
        row("http", r.httpCounts.map { "\($0.status == 0 ? "none" : String($0.status)) \($0.count)" }.joined(separator: "   "))
        row("bytes/s", "sent \(Format.bytes(r.bytesSentPerSecond))/s   received \(Format.bytes(r.bytesReceivedPerSecond))/s"
            + "   (\(Format.bytes(Double(s.bytesSent))) / \(Format.bytes(Double(s.bytesReceived))))")
        row("messages/s", "sent \(Format.number(r.messagesSentPerSecond))/s   received \(Format.number(r.messagesReceivedPerSecond))/s"
            + "   (\(s.messagesSent) / \(s.messagesReceived))")
        var problems: [String] = []
        if s.missingStatus > 0 { problems.append("no status \(s.missingStatus)") }
        if s.streamResets > 0 { problems.append("stream resets \(s.streamResets)") }
        if s.connectionLost > 0 { problems.append("connection lost \(s.connectionLost)") }
        if s.connectFailures > 0 { problems.append("connect failures \(s.connectFailures)") }
        if s.unfinished > 0 { problems.append("unfinished at the end \(s.unfinished)") }
        if s.notStarted > 0 { problems.append("not started (target saturated) \(s.notStarted)") }
        if !problems.isEmpty { row("transport", problems.joined(separator: "   ")) }
        if let g = r.cpuMicrosPerCall(r.generatorCPUMicros) {
            row("cpu", "generator \(Format.fixed(g, 2)) µs/call")
        }
        for p in r.processes {
            var text = "pid \(p.pid): "
            if let c = r.cpuMicrosPerCall(p.cpuMicros) {
                text += "\(Format.fixed(c, 2)) µs/call (\(Format.fixed(Double(p.cpuMicros ?? 0) / 1e6, 2)) s CPU)"
            } else {
                text += "CPU unknown"
            }
            if let k = p.peakRSSKiB {
                text += ", peak RSS \(Format.fixed(Double(k) / 1024, 1)) MiB" + (p.peakReset ? "" : " (lifetime peak)")
            }
            row("", text)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func pad(_ s: String, _ width: Int) -> String {
        let n = s.unicodeScalars.count
        return n >= width ? s + " " : s + String(repeating: " ", count: width - n)
    }
}

import Glibc

/// The `--html` file: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)
/// with the summary table, the latency-by-percentile plot and the throughput-over-time plot.
public enum HTMLReport {
    public static func render(_ r: LoadReport) -> String {
        let s = r.stats
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>trestle load: \(esc(r.method)) → \(esc(r.target))</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
        h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
        table { border-collapse: collapse; } td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
        th { color: #555; font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .muted { color: #666; } svg { background: #fff; border: 1px solid #ddd; }
        svg text { font: 11px system-ui, sans-serif; fill: #444; }
        </style></head><body>
        <h1>trestle load: \(esc(r.protocolName)) \(esc(r.scenario)) <code>\(esc(r.method))</code> → \(esc(r.target))</h1>
        <p class="muted">\(esc(r.modeDescription)); \(r.connections) connections × \(r.streams) streams\
        \(r.transport == LoadTransport.http1.rawValue ? " (\(r.sockets) HTTP/1.1 sockets)" : " over \(esc(r.transport))"); \
        \(r.threads) threads; \(Format.fixed(r.seconds, 2)) s measured\
        \(r.warmupSeconds > 0 ? " after \(Format.fixed(r.warmupSeconds, 1)) s of warm-up" : "")\
        \(r.interrupted ? " (interrupted)" : "").</p>

        """
        h += "<h2>Summary</h2>\n<table>\n"
        func row(_ k: String, _ v: String) { h += "<tr><th>\(esc(k))</th><td>\(v)</td></tr>\n" }
        row("calls", "\(s.calls) — \(Format.number(r.callsPerSecond)) calls/s; ok \(s.codes[0]), errors \(s.errors)")
        var lat = ""
        lat += "min \(Format.latency(s.latency.totalCount > 0 ? s.latency.min : 0))"
        for (label, p) in LoadReport.percentiles { lat += " · \(label) \(Format.latency(s.latency.value(atPercentile: p)))" }
        lat += " · max \(Format.latency(s.latency.max)) · mean \(Format.latency(UInt64(s.latency.mean.rounded())))"
        row("latency", esc(lat))
        if s.messageLatency.totalCount > 0 {
            var rt = ""
            for (label, p) in LoadReport.percentiles { rt += "\(label) \(Format.latency(s.messageLatency.value(atPercentile: p))) · " }
            rt += "max \(Format.latency(s.messageLatency.max)) (\(s.messageLatency.totalCount) messages)"
            row("round trip", esc(rt))
        }
        row("status", esc(r.statusCounts.map { "\($0.name) \($0.count)" }.joined(separator: ", ")))
        row("HTTP status", esc(r.httpCounts.map { "\($0.status == 0 ? "none" : String($0.status)) \($0.count)" }.joined(separator: ", ")))
        row("bytes/s", esc("sent \(Format.bytes(r.bytesSentPerSecond))/s, received \(Format.bytes(r.bytesReceivedPerSecond))/s"))
        row("messages/s", esc("sent \(Format.number(r.messagesSentPerSecond))/s, received \(Format.number(r.messagesReceivedPerSecond))/s"))
        let t = s
        row("transport", esc("missing status \(t.missingStatus), stream resets \(t.streamResets), connection lost \(t.connectionLost), "
            + "connect failures \(t.connectFailures), unfinished \(t.unfinished), not started \(t.notStarted)"))
        if let g = r.cpuMicrosPerCall(r.generatorCPUMicros) { row("generator CPU", esc("\(Format.fixed(g, 2)) µs/call")) }
        for p in r.processes {
            var text = r.cpuMicrosPerCall(p.cpuMicros).map { "\(Format.fixed($0, 2)) µs CPU/call" } ?? "CPU unknown"
            if let k = p.peakRSSKiB { text += ", peak RSS \(Format.fixed(Double(k) / 1024, 1)) MiB" }
            row("pid \(p.pid)", esc(text))
        }
        h += "</table>\n"

        h += "<h2>Latency by percentile</h2>\n"
        var series: [(String, String, [(Double, Double)])] = [("call latency", "#1f6feb", spectrumPoints(s.latency))]
        if s.messageLatency.totalCount > 0 {
            series.append(("round trip per message", "#d97706", spectrumPoints(s.messageLatency)))
        }
        h += percentilePlot(series)
        h += "<h2>Throughput over time</h2>\n"
        h += throughputPlot(r.throughputSeries)
        h += "\n<p class=\"muted\">Latencies are measured from each call's start"
        if case .open = r.mode { h += " — its intended start on the open-loop schedule, so stalls are not hidden" }
        h += ". Histogram: log-linear, 1 µs resolution, 2 significant digits.</p>\n</body></html>\n"
        return h
    }

    /// (x, latency ms) with x = log10(1 / (1 − p)); the maximum is placed at p = 1 − 1/count.
    static func spectrumPoints(_ h: LatencyHistogram) -> [(Double, Double)] {
        guard h.totalCount > 0 else { return [] }
        let count = Double(h.totalCount)
        return h.percentileSpectrum.map { point in
            let p = point.percentile >= 100 ? 1 - 1 / max(count, 2) : point.percentile / 100
            return (log10(1 / (1 - p)), Double(point.micros) / 1000)
        }
    }

    static func percentilePlot(_ series: [(String, String, [(Double, Double)])]) -> String {
        let w = 900.0, ht = 340.0, left = 64.0, right = 44.0, top = 16.0, bottom = 44.0
        let maxX = max(2, (series.flatMap { $0.2.map { $0.0 } }.max() ?? 2).rounded(.up))
        let maxY = niceCeiling(series.flatMap { $0.2.map { $0.1 } }.max() ?? 1)
        func px(_ x: Double) -> Double { left + x / maxX * (w - left - right) }
        func py(_ y: Double) -> Double { top + (1 - y / maxY) * (ht - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(ht))\" viewBox=\"0 0 \(Int(w)) \(Int(ht))\">\n"
        svg += axes(left: left, top: top, right: w - right, bottom: ht - bottom)
        for i in 0 ... 4 {
            let y = maxY * Double(i) / 4
            svg += gridY(py(y), left: left, right: w - right, label: Format.number(y) + " ms")
        }
        let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"]
        for k in 0 ... Int(maxX) {
            svg += "<line x1=\"\(f(px(Double(k))))\" y1=\"\(f(top))\" x2=\"\(f(px(Double(k))))\" y2=\"\(f(ht - bottom))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(f(px(Double(k))))\" y=\"\(f(ht - bottom + 16))\" text-anchor=\"middle\">\(k < labels.count ? labels[k] : "")</text>\n"
        }
        svg += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(ht - 6))\" text-anchor=\"middle\">percentile</text>\n"
        var legendY = top + 14
        for (name, color, points) in series where !points.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
            svg += points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            svg += "\"/>\n"
            svg += "<text x=\"\(f(left + 12))\" y=\"\(f(legendY))\" style=\"fill:\(color)\">\(esc(name))</text>\n"
            legendY += 15
        }
        return svg + "</svg>\n"
    }

    static func throughputPlot(_ points: [(second: Int, calls: Double, errors: Double)]) -> String {
        let w = 900.0, ht = 300.0, left = 72.0, right = 20.0, top = 16.0, bottom = 44.0
        let maxX = Double(max(points.last?.second ?? 1, 1))
        let maxY = niceCeiling(points.map { $0.calls }.max() ?? 1)
        func px(_ x: Double) -> Double { left + (maxX <= 1 ? 0.5 : (x - 1) / (maxX - 1)) * (w - left - right) }
        func py(_ y: Double) -> Double { top + (1 - y / maxY) * (ht - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(ht))\" viewBox=\"0 0 \(Int(w)) \(Int(ht))\">\n"
        svg += axes(left: left, top: top, right: w - right, bottom: ht - bottom)
        for i in 0 ... 4 {
            let y = maxY * Double(i) / 4
            svg += gridY(py(y), left: left, right: w - right, label: Format.number(y) + "/s")
        }
        let step = max(1, Int(maxX) / 10)
        var sec = 1
        while sec <= Int(maxX) {
            svg += "<text x=\"\(f(px(Double(sec))))\" y=\"\(f(ht - bottom + 16))\" text-anchor=\"middle\">\(sec)s</text>\n"
            sec += step
        }
        svg += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(ht - 6))\" text-anchor=\"middle\">second of the measured window</text>\n"
        if !points.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\""
            svg += points.map { "\(f(px(Double($0.second)))),\(f(py($0.calls)))" }.joined(separator: " ") + "\"/>\n"
            for p in points {
                svg += "<circle cx=\"\(f(px(Double(p.second))))\" cy=\"\(f(py(p.calls)))\" r=\"2.5\" fill=\"#1f6feb\"><title>\(p.second)s: \(Format.number(p.calls)) calls/s, \(Format.number(p.errors)) errors/s</title></circle>\n"
            }
            if points.contains(where: { $0.errors > 0 }) {
                svg += "<polyline fill=\"none\" stroke=\"#cf222e\" stroke-width=\"1.5\" points=\""
                svg += points.map { "\(f(px(Double($0.second)))),\(f(py($0.errors)))" }.joined(separator: " ") + "\"/>\n"
                svg += "<text x=\"\(f(left + 12))\" y=\"\(f(top + 29))\" style=\"fill:#cf222e\">errors/s</text>\n"
            }
            svg += "<text x=\"\(f(left + 12))\" y=\"\(f(top + 14))\" style=\"fill:#1f6feb\">calls/s</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func axes(left: Double, top: Double, right: Double, bottom: Double) -> String {
        "<polyline fill=\"none\" stroke=\"#888\" points=\"\(f(left)),\(f(top)) \(f(left)),\(f(bottom)) \(f(right)),\(f(bottom))\"/>\n"
    }

    static func gridY(_ y: Double, left: Double, right: Double, label: String) -> String {
        "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\" stroke=\"#eee\"/>\n"
            + "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(esc(label))</text>\n"
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ v (v > 0).
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        var base = 1.0
        while base * 10 < v { base *= 10 }
        while base > v { base /= 10 }
        for m in [1.0, 2, 2.5, 5, 10] where base * m >= v { return base * m }
        return base * 10
    }

    static func f(_ x: Double) -> String { Format.fixed(x, 1) }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

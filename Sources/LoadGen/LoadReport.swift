import Channel

/// CPU and memory of one process over the measured window (`--pid`).
public struct ProcessFigures: Sendable {
    public let pid: Int32
    /// CPU time used during the window, µs; nil if /proc could not be read.
    public let cpuMicros: UInt64?
    /// VmHWM at the end (reset at the start of the window when allowed), KiB.
    public let peakRSSKiB: Int?
    /// Whether the peak was reset at the window's start (else it is the process's lifetime peak).
    public let peakReset: Bool
}

/// A finished run: the plan's description and the merged figures. Everything the table, the
/// JSON file and the HTML report show is computed here, once.
public struct LoadReport: Sendable {
    public let target: String
    public let protocolName: String
    public let transport: String
    public let scenario: String
    public let method: String
    public let path: String
    public let connections: Int
    public let streams: Int
    public let sockets: Int
    public let threads: Int
    public let mode: LoadMode
    public let warmupSeconds: Double
    public let requestMessageBytes: Int
    public let messagesPerCall: Int
    public let stats: LoadStats
    /// The measured window: from the end of the warm-up to the last recorded call's end, in s.
    public let seconds: Double
    /// The generator's own CPU over the window, µs.
    public let generatorCPUMicros: UInt64
    public let processes: [ProcessFigures]
    /// Calls were cut short by a stop request (SIGINT/SIGTERM).
    public let interrupted: Bool

    public var callsPerSecond: Double { seconds > 0 ? Double(stats.calls) / seconds : 0 }
    public var bytesSentPerSecond: Double { seconds > 0 ? Double(stats.bytesSent) / seconds : 0 }
    public var bytesReceivedPerSecond: Double { seconds > 0 ? Double(stats.bytesReceived) / seconds : 0 }
    public var messagesSentPerSecond: Double { seconds > 0 ? Double(stats.messagesSent) / seconds : 0 }
    public var messagesReceivedPerSecond: Double { seconds > 0 ? Double(stats.messagesReceived) / seconds : 0 }

    public func cpuMicrosPerCall(_ micros: UInt64?) -> Double? {
        guard let micros, stats.calls > 0 else { return nil }
        return Double(micros) / Double(stats.calls)
    }

    /// Percentiles shown everywhere, in this order.
    public static let percentiles: [(label: String, value: Double)] = [
        ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9),
    ]

    /// Calls by status, non-zero only, OK first: ("OK", 0, n), ("UNAVAILABLE", 14, n) …
    public var statusCounts: [(name: String, code: Int, count: Int)] {
        var out: [(name: String, code: Int, count: Int)] = []
        for (i, n) in stats.codes.enumerated() where n > 0 {
            let code = GRPCStatusCode(rawValue: UInt8(i))!
            out.append((code.name, i, n))
        }
        return out
    }

    /// Calls by HTTP status, non-zero only; 0 stands for "no HTTP status received".
    public var httpCounts: [(status: Int, count: Int)] {
        var out: [(status: Int, count: Int)] = []
        for (i, n) in stats.httpStatuses.enumerated() where n > 0 { out.append((i, n)) }
        return out
    }

    /// Calls/s and errors/s for each second of the window; the last, partial second is scaled
    /// by its length (and dropped when shorter than a tenth of a second).
    public var throughputSeries: [(second: Int, calls: Double, errors: Double)] {
        var out: [(second: Int, calls: Double, errors: Double)] = []
        let whole = Int(seconds)
        let fraction = seconds - Double(whole)
        for i in 0 ..< stats.perSecondCalls.count {
            let span: Double
            if i < whole { span = 1 } else if i == whole && fraction >= 0.1 { span = fraction } else { break }
            out.append((i + 1, Double(stats.perSecondCalls[i]) / span, Double(stats.perSecondErrors[i]) / span))
        }
        return out
    }

    public var modeDescription: String {
        switch mode {
        case .closed: "closed loop"
        case let .open(rate): "open loop at \(Format.number(rate)) calls/s"
        }
    }
}

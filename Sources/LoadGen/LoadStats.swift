import Channel

/// The figures of recorded calls (those started after the warm-up). Each worker keeps its own,
/// written only on its loop thread with no lock; the runner merges them after the workers end.
public struct LoadStats: Sendable {
    /// Call latency in µs, from each call's start (its intended start in open loop) to its end.
    public var latency = LatencyHistogram()
    /// Bidi ping-pong: round-trip latency of each message, in µs.
    public var messageLatency = LatencyHistogram()
    /// Calls by the gRPC status they ended with, indexed by code.
    public var codes = [Int](repeating: 0, count: 17)
    /// Calls by HTTP status; index 0 counts calls that got none.
    public var httpStatuses = [Int](repeating: 0, count: 600)
    public var calls = 0
    /// Calls whose response had no status of its own (their code was inferred).
    public var missingStatus = 0
    /// Calls ended by RST_STREAM from the server.
    public var streamResets = 0
    /// Calls failed because their connection was lost.
    public var connectionLost = 0
    /// Calls cancelled because the run's time was up.
    public var unfinished = 0
    /// Open loop: calls due that never started before the run ended (the target was saturated).
    public var notStarted = 0
    /// Connection attempts that failed (refused, timed out, no HTTP/2 SETTINGS).
    public var connectFailures = 0
    /// Body bytes of recorded calls (gRPC: prefixes included).
    public var bytesSent = 0
    public var bytesReceived = 0
    public var messagesSent = 0
    public var messagesReceived = 0
    /// Recorded calls and failed calls by the second of the measured window they ended in.
    public var perSecondCalls: [Int] = []
    public var perSecondErrors: [Int] = []
    /// The last recorded call's end, monotonic ns (0: none).
    public var lastEndNs: UInt64 = 0

    public init() {}

    public var errors: Int { calls - codes[0] }

    @inline(__always)
    mutating func record(code: GRPCStatusCode, httpStatus: Int, latencyNs: UInt64, second: Int, endNs: UInt64) {
        calls += 1
        codes[Int(code.rawValue)] += 1
        httpStatuses[httpStatus > 0 && httpStatus < 600 ? httpStatus : 0] += 1
        latency.record(latencyNs / 1000)
        if second >= perSecondCalls.count { growSeconds(second) }
        perSecondCalls[second] += 1
        if code != .ok { perSecondErrors[second] += 1 }
        if endNs > lastEndNs { lastEndNs = endNs }
    }

    private mutating func growSeconds(_ second: Int) {
        let n = max(second + 1, perSecondCalls.count * 2, 16)
        perSecondCalls += [Int](repeating: 0, count: n - perSecondCalls.count)
        perSecondErrors += [Int](repeating: 0, count: n - perSecondErrors.count)
    }

    public mutating func merge(_ o: LoadStats) {
        latency.merge(o.latency)
        messageLatency.merge(o.messageLatency)
        for i in 0 ..< codes.count { codes[i] += o.codes[i] }
        for i in 0 ..< httpStatuses.count where o.httpStatuses[i] != 0 { httpStatuses[i] += o.httpStatuses[i] }
        calls += o.calls
        missingStatus += o.missingStatus
        streamResets += o.streamResets
        connectionLost += o.connectionLost
        unfinished += o.unfinished
        notStarted += o.notStarted
        connectFailures += o.connectFailures
        bytesSent += o.bytesSent
        bytesReceived += o.bytesReceived
        messagesSent += o.messagesSent
        messagesReceived += o.messagesReceived
        if o.perSecondCalls.count > perSecondCalls.count {
            perSecondCalls += [Int](repeating: 0, count: o.perSecondCalls.count - perSecondCalls.count)
            perSecondErrors += [Int](repeating: 0, count: o.perSecondErrors.count - perSecondErrors.count)
        }
        for i in 0 ..< o.perSecondCalls.count {
            perSecondCalls[i] += o.perSecondCalls[i]
            perSecondErrors[i] += o.perSecondErrors[i]
        }
        lastEndNs = max(lastEndNs, o.lastEndNs)
    }
}

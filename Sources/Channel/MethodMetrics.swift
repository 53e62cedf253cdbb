import Synchronization

/// The client wire format a call came in: the `protocol` label on `/metrics` and the
/// `protocol` field of the access log (README "Metrics").
public enum CallProtocol: Int, CaseIterable, Sendable {
    case grpc, grpcWeb, grpcWebText, grpcHTTP1, json

    public var name: StaticString {
        switch self {
        case .grpc: "grpc"
        case .grpcWeb: "grpc-web"
        case .grpcWebText: "grpc-web-text"
        case .grpcHTTP1: "grpc-http1"
        case .json: "json"
        }
    }
}

/// One (service, method)'s counters on one worker: calls by protocol and final code, a latency
/// histogram, request and response bytes and messages. Written by that worker's thread only
/// (relaxed load + store, no read-modify-write), read by the admin endpoint when scraped.
public final class MethodSeries: Sendable {
    /// The label values (`_unknown` for calls no route took, `_other` past the series bound).
    public let service: String
    public let method: String
    /// [protocol × 18 + code]; code 17 counts codes gRPC does not know.
    public let calls: InlineArray<90, Atomic<UInt64>>
    /// Per bucket of `LatencyBuckets` (not cumulative), the last one past its largest bound.
    public let latency: InlineArray<21, Atomic<UInt64>>
    public let latencySumNs = Atomic<UInt64>(0)
    public let requestBytes = Atomic<UInt64>(0)
    public let responseBytes = Atomic<UInt64>(0)
    public let requestMessages = Atomic<UInt64>(0)
    public let responseMessages = Atomic<UInt64>(0)
    /// `,"service":"…","method":"…"` as the access log writes it (escaped once, here); null
    /// names for `_unknown` and `_other`.
    public let logFields: [UInt8]

    public init(service: String, method: String) {
        self.service = service
        self.method = method
        if service.hasPrefix("_") {
            logFields = Array(#","service":null,"method":null"#.utf8)
        } else {
            logFields = Array(#","service":"#.utf8) + Self.jsonString(service) + Array(#","method":"#.utf8) + Self.jsonString(method)
        }
        calls = InlineArray { _ in Atomic<UInt64>(0) }
        latency = InlineArray { _ in Atomic<UInt64>(0) }
    }

    /// Counts one finished call (single writer: the series' worker).
    @inline(__always)
    public func record(protocol p: CallProtocol, status: UInt8, durationNs: UInt64,
                       requestBytes rb: Int, responseBytes sb: Int, requestMessages rm: Int, responseMessages sm: Int) {
        calls[p.rawValue &* 18 &+ Int(min(status, 17))].singleWriterAdd(1)
        latency[LatencyBuckets.index(durationNs)].singleWriterAdd(1)
        latencySumNs.singleWriterAdd(durationNs)
        if rb != 0 { requestBytes.singleWriterAdd(UInt64(rb)) }
        if sb != 0 { responseBytes.singleWriterAdd(UInt64(sb)) }
        if rm != 0 { requestMessages.singleWriterAdd(UInt64(rm)) }
        if sm != 0 { responseMessages.singleWriterAdd(UInt64(sm)) }
    }

    /// `text` as a JSON string, quoted and escaped.
    public static func jsonString(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        JSONString.appendQuoted(text, to: &out)
        return out
    }

}

/// The latency histogram's bucket bounds: from 100 µs (a unary call through the gateway on
/// loopback) to 30 minutes (a long stream), roughly 1-2.5-5 per decade.
public enum LatencyBuckets {
    /// Upper bounds in seconds, as `/metrics` prints them (`le`); `+Inf` follows.
    public static let seconds: [String] = [
        "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
        "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "1800",
    ]

    /// The bucket of a duration: the first bound it does not exceed (20: past all of them).
    /// Comparisons against constants, shortest first: a fast call takes two or three.
    @inline(__always)
    public static func index(_ ns: UInt64) -> Int {
        if ns <= 1_000_000 {  // ≤ 1 ms
            if ns <= 100_000 { return 0 }
            if ns <= 250_000 { return 1 }
            return ns <= 500_000 ? 2 : 3
        }
        if ns <= 100_000_000 {  // ≤ 100 ms
            if ns <= 2_500_000 { return 4 }
            if ns <= 5_000_000 { return 5 }
            if ns <= 10_000_000 { return 6 }
            if ns <= 25_000_000 { return 7 }
            return ns <= 50_000_000 ? 8 : 9
        }
        let bounds: [UInt64] = [250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000,
                                10_000_000_000, 30_000_000_000, 60_000_000_000, 300_000_000_000, 1_800_000_000_000]
        for (i, b) in bounds.enumerated() where ns <= b { return 10 + i }
        return 20
    }
}

/// One worker's table of `MethodSeries`, keyed by gRPC path (`/package.Service/Method`), with a
/// bound on how many series garbage can make (README "Metrics"): a method a descriptor set
/// declares always gets its own series (up to `capacity`); one that none declares (a native
/// route without descriptors) gets one while fewer than `maxUndeclared` such series exist on
/// this worker, after which it counts under `_other`. Calls that no route took count under
/// `_unknown`. A series, once made, lives as long as the worker (counters never reset).
///
/// The lookup is loop-thread only and takes no lock (a hash table of the path bytes); making a
/// series — once per method per worker — takes the lock that scrapes take to list them.
public final class MethodTable: @unchecked Sendable {
    public static let capacity = 4096
    public static let maxUndeclared = 512

    /// Calls that no route took (unknown service, malformed path, refused before routing).
    public let unrouted = MethodSeries(service: "_unknown", method: "_unknown")
    /// Routed calls past the bound on undeclared methods.
    public let overflow = MethodSeries(service: "_other", method: "_other")
    // Loop thread only.
    private let keys = ByteKeyTable(capacity: MethodTable.capacity)
    private var local: [Unmanaged<MethodSeries>] = []
    private var undeclared = 0
    /// Every series made, for scrapes (owns them).
    private let published = Mutex<[MethodSeries]>([])

    public init() {
        published.withLock { $0 = [unrouted, overflow] }
    }

    /// The series of `path` (a well-formed gRPC path whose service and method are `service` and
    /// `method`), made on first sight; `isDeclared` (called only then) says whether a
    /// descriptor set names the method. Unretained: the table owns every series for good.
    @inline(__always)
    public func series(path: UnsafeRawBufferPointer, service: Range<Int>, method: Range<Int>,
                       isDeclared: (String) -> Bool) -> Unmanaged<MethodSeries> {
        if let i = keys.lookup(path) { return local[i] }
        return admit(path: path, service: service, method: method, isDeclared: isDeclared)
    }

    private func admit(path: UnsafeRawBufferPointer, service: Range<Int>, method: Range<Int>,
                       isDeclared: (String) -> Bool) -> Unmanaged<MethodSeries> {
        guard local.count < Self.capacity - 2 else { return Unmanaged.passUnretained(overflow) }
        let pathText = String(decoding: path, as: UTF8.self)
        let declared = isDeclared(pathText)
        if !declared {
            guard undeclared < Self.maxUndeclared else { return Unmanaged.passUnretained(overflow) }
            undeclared += 1
        }
        let s = MethodSeries(service: String(decoding: UnsafeRawBufferPointer(rebasing: path[service]), as: UTF8.self),
                             method: String(decoding: UnsafeRawBufferPointer(rebasing: path[method]), as: UTF8.self))
        published.withLock { $0.append(s) }
        let ref = Unmanaged.passUnretained(s)
        _ = keys.insert(UnsafeRawBufferPointer(path), value: local.count)
        local.append(ref)
        return ref
    }

    /// Thread-safe: every series of this worker (for a scrape).
    public var allSeries: [MethodSeries] { published.withLock { $0 } }
}

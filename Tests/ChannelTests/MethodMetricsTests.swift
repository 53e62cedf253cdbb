import Channel
import Synchronization
import Testing

@Suite struct MethodMetricsTests {
    @Test(arguments: [
        (UInt64(0), 0), (100_000, 0), (100_001, 1), (250_000, 1), (500_000, 2), (999_999, 3), (1_000_000, 3),
        (2_500_000, 4), (5_000_000, 5), (10_000_000, 6), (25_000_000, 7), (50_000_000, 8), (100_000_000, 9),
        (250_000_000, 10), (1_000_000_000, 12), (60_000_000_000, 17), (1_800_000_000_000, 19), (1_800_000_000_001, 20),
    ])
    func bucketIsTheFirstBoundNotExceeded(ns: UInt64, bucket: Int) {
        #expect(LatencyBuckets.index(ns) == bucket)
        #expect(LatencyBuckets.seconds.count == 20)
    }

    private func series(_ table: MethodTable, _ path: String, declared: Bool) -> MethodSeries {
        let bytes = Array(path.utf8)
        return bytes.withUnsafeBytes { raw in
            let parts = GRPCPath.split(raw)!
            return table.series(path: raw, service: parts.service, method: parts.method) { _ in declared }.takeUnretainedValue()
        }
    }

    @Test func sameSeriesForTheSamePathAndNamesFromIt() {
        let table = MethodTable()
        let a = series(table, "/pkg.S/M", declared: true)
        #expect(a === series(table, "/pkg.S/M", declared: true))
        #expect(a.service == "pkg.S" && a.method == "M")
        #expect(a !== series(table, "/pkg.S/N", declared: true))
        #expect(table.allSeries.count == 2 + 2)  // _unknown, _other and the two methods
    }

    @Test func undeclaredMethodsAreBoundedDeclaredOnesAreNot() {
        let table = MethodTable()
        for i in 0 ..< MethodTable.maxUndeclared + 100 { _ = series(table, "/junk.S/M\(i)", declared: false) }
        #expect(table.allSeries.count == 2 + MethodTable.maxUndeclared)
        #expect(series(table, "/junk.S/Another", declared: false) === table.overflow)
        #expect(series(table, "/junk.S/M0", declared: false) !== table.overflow)  // admitted before the bound
        let declared = series(table, "/real.S/Get", declared: true)
        #expect(declared !== table.overflow && declared.method == "Get")
    }

    @Test func recordCountsByProtocolAndCode() {
        let s = MethodSeries(service: "a.B", method: "C")
        s.record(protocol: .json, status: 5, durationNs: 300_000, requestBytes: 9, responseBytes: 0,
                 requestMessages: 1, responseMessages: 0)
        s.record(protocol: .json, status: 200, durationNs: 2_000_000_000_000, requestBytes: 0, responseBytes: 0,
                 requestMessages: 0, responseMessages: 0)
        #expect(s.calls[CallProtocol.json.rawValue * 18 + 5].load(ordering: .relaxed) == 1)
        #expect(s.calls[CallProtocol.json.rawValue * 18 + 17].load(ordering: .relaxed) == 1)  // unknown code
        #expect(s.latency[2].load(ordering: .relaxed) == 1 && s.latency[20].load(ordering: .relaxed) == 1)
        #expect(s.requestBytes.load(ordering: .relaxed) == 9 && s.requestMessages.load(ordering: .relaxed) == 1)
        #expect(s.latencySumNs.load(ordering: .relaxed) == 2_000_000_300_000)
    }
}

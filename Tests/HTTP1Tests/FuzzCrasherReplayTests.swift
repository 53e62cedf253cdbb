// The properties that the FuzzHTTP1 fuzz target checks on every input, and the test that replays
// under `swift test` every input kept for it: Fuzz/crashers/FuzzHTTP1/ (inputs that once crashed
// the parser or broke a property) and the seed corpus Fuzz/corpus/FuzzHTTP1/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzHTTP1/HTTP1FuzzProperties.swift is
// a symlink to it) with FUZZING defined; only the test suite at the bottom is left out there.
// It feeds the parser with `parse(_:pieces:)` of TestSupport.swift, symlinked there too.
import HTTP1

/// The request parser on arbitrary bytes: it never crashes; how the input is cut into reads never
/// changes what comes out (events, body bytes, or the error); an error is one of the statuses the
/// parser documents, with a one-line message; a Content-Length body delivers exactly that many bytes.
enum HTTP1FuzzProperties {
    /// Broken properties, in words; empty when all held.
    static func check(_ input: [UInt8]) -> [String] {
        var failures: [String] = []
        let whole = parse(input, pieces: [])
        var splits: [[Int]] = [[1], [2, 3], [7]]
        var seed = input.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        splits.append((0 ..< 8).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 59) + 1
        })
        for sizes in splits {
            let cut = parse(input, pieces: sizes)
            if cut != whole {
                failures.append("fed in pieces of \(sizes) the outcome differs: \(describe(cut)) vs whole \(describe(whole))")
            }
        }
        if let error = whole.error {
            if ![400, 413, 414, 431, 501, 505].contains(error.status) {
                failures.append("unexpected status \(error.status) for \(error)")
            }
            if error.message.isEmpty || error.message.contains(where: { $0.isNewline }) {
                failures.append("error message is empty or spans lines: \(error.message.debugDescription)")
            }
        }
        // A head announcing Content-Length n followed by its end carries exactly n body bytes.
        var expected: Int?
        var received = 0
        for event in whole.events {
            switch event {
            case .head(let head):
                if case .contentLength(let n) = head.body { expected = n } else { expected = nil }
                received = 0
                if head.method.isEmpty { failures.append("a head with an empty method") }
                if head.target.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
                    failures.append("a request target with whitespace, control or non-ASCII bytes: \(head.target.debugDescription)")
                }
            case .body(let bytes):
                received += bytes.count
            case .trailers:
                break
            case .informational:
                failures.append("a request parser reported an informational head")
            case .end:
                if let n = expected, n != received {
                    failures.append("Content-Length \(n) but \(received) body bytes")
                }
            }
        }
        return failures
    }

    static func describe(_ outcome: Outcome) -> String {
        "\(outcome.events.count) events" + (outcome.error.map { ", error \($0)" } ?? "")
    }
}

#if !FUZZING
import Testing

@Suite struct HTTP1FuzzReplayTests {
    @Test func seedsKeepEveryProperty() {
        let seeds = FuzzReplay.files("corpus", "FuzzHTTP1")
        #expect(seeds.count >= 5, "the seed corpus Fuzz/corpus/FuzzHTTP1 is missing")
        for (name, bytes) in seeds {
            let failures = HTTP1FuzzProperties.check(bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/FuzzHTTP1/\(name):\n\(failures.joined(separator: "\n"))")
        }
    }

    @Test func crashersNoLongerBreakAProperty() async {
        for (name, bytes) in FuzzReplay.files("crashers", "FuzzHTTP1") {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/FuzzHTTP1/\(name)"
            ) { [bytes = bytes as [UInt8]] in
                FuzzReplay.report(HTTP1FuzzProperties.check(bytes))
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/FuzzHTTP1/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }
}
#endif

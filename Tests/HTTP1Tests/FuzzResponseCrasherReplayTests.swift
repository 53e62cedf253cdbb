// The properties that the FuzzHTTP1Response fuzz target checks on every input, and the test that
// replays under `swift test` every input kept for it: Fuzz/crashers/FuzzHTTP1Response/ (inputs
// that once crashed the parser or broke a property) and the seed corpus
// Fuzz/corpus/FuzzHTTP1Response/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzHTTP1Response/
// HTTP1ResponseFuzzProperties.swift is a symlink to it) with FUZZING defined; only the test suite
// at the bottom is left out there. It feeds the parser with `parseResponse` of TestSupport.swift,
// symlinked there too.
import HTTP1

/// The response parser on arbitrary bytes, as a client meets them: it never crashes; how the
/// input is cut into reads, and whether `feed` stops after each response, never changes what
/// comes out; an error is a 502 with a one-line message; events come in the documented order;
/// a Content-Length body delivers exactly that many bytes; a chunked one never more than came in.
enum HTTP1ResponseFuzzProperties {
    /// Broken properties, in words; empty when all held.
    static func check(_ input: [UInt8]) -> [String] {
        var failures: [String] = []
        // The first byte picks whether every response answers a HEAD; the rest is the stream.
        let toHEAD = input.first.map { $0 & 1 == 1 } ?? false
        let stream = Array(input.dropFirst())
        let whole = parseResponse(stream, closed: true, toHEAD: toHEAD)
        var splits: [[Int]] = [[1], [2, 3], [7]]
        var seed = input.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        splits.append((0 ..< 8).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 59) + 1
        })
        for sizes in splits {
            let cut = parseResponse(stream, pieces: sizes, closed: true, toHEAD: toHEAD)
            if cut != whole {
                failures.append("fed in pieces of \(sizes) the outcome differs: \(describe(cut)) vs whole \(describe(whole))")
            }
        }
        if !toHEAD {
            let unstopped = parseWithoutStopping(stream)
            if unstopped != whole {
                failures.append("fed without stopAfterEnd the outcome differs: \(describe(unstopped)) vs \(describe(whole))")
            }
        }
        if let error = whole.error {
            if error.status != 502 { failures.append("status \(error.status) for \(error)") }
            if error.message.isEmpty || error.message.contains(where: { $0.isNewline }) {
                failures.append("error message is empty or spans lines: \(error.message.debugDescription)")
            }
        }
        failures += checkOrder(whole.events)
        return failures
    }

    /// informational* head (body* trailers?)? end, repeated; bodies as the head announced.
    static func checkOrder(_ events: [RecordedResponse]) -> [String] {
        var failures: [String] = []
        var current: HTTP1ResponseHead?
        var received = 0
        var trailersSeen = false
        for event in events {
            switch event {
            case .informational(let head):
                if current != nil { failures.append("an informational head inside a response") }
                if !(100...199).contains(head.status) || head.status == 101 {
                    failures.append("informational head with status \(head.status)")
                }
            case .head(let head):
                if current != nil { failures.append("a second head before the end") }
                if !(101...599).contains(head.status) || (102...199).contains(head.status) {
                    failures.append("final head with status \(head.status)")
                }
                current = head
                received = 0
                trailersSeen = false
            case .body(let bytes):
                guard let head = current, !trailersSeen else {
                    failures.append("body bytes outside a response's body")
                    break
                }
                received += bytes.count
                if head.body == .none { failures.append("body bytes for a response without a body") }
            case .trailers:
                if current?.body != .chunked || trailersSeen { failures.append("trailers outside a chunked body") }
                trailersSeen = true
            case .end:
                guard let head = current else {
                    failures.append("an end without a head")
                    break
                }
                if case .contentLength(let n) = head.body, n != received {
                    failures.append("Content-Length \(n) but \(received) body bytes")
                }
                current = nil
            }
        }
        return failures
    }

    /// The stream fed whole to a parser that is never asked to stop, then closed.
    static func parseWithoutStopping(_ stream: [UInt8]) -> ResponseOutcome {
        var parser = HTTP1ResponseParser()
        var outcome = ResponseOutcome()
        do {
            var rest = stream[...]
            while !rest.isEmpty {
                // Only a response that ends the connection's HTTP/1.1 stops it; the parser then
                // discards the rest.
                let consumed = try parser.feed(Array(rest)) { outcome.record($0) }
                rest = rest.dropFirst(consumed)
            }
            try parser.connectionClosed { outcome.record($0) }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    static func describe(_ outcome: ResponseOutcome) -> String {
        "\(outcome.events.count) events" + (outcome.error.map { ", error \($0)" } ?? "")
    }
}

#if !FUZZING
import Testing

@Suite struct HTTP1ResponseFuzzReplayTests {
    @Test func seedsKeepEveryProperty() {
        let seeds = FuzzReplay.files("corpus", "FuzzHTTP1Response")
        #expect(seeds.count >= 5, "the seed corpus Fuzz/corpus/FuzzHTTP1Response is missing")
        for (name, bytes) in seeds {
            let failures = HTTP1ResponseFuzzProperties.check(bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/FuzzHTTP1Response/\(name):\n\(failures.joined(separator: "\n"))")
        }
    }

    @Test func crashersNoLongerBreakAProperty() async {
        for (name, bytes) in FuzzReplay.files("crashers", "FuzzHTTP1Response") {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/FuzzHTTP1Response/\(name)"
            ) { [bytes = bytes as [UInt8]] in
                FuzzReplay.report(HTTP1ResponseFuzzProperties.check(bytes))
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/FuzzHTTP1Response/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }
}
#endif

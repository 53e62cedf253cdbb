// The properties that the FuzzHTTP1 fuzz target checks on every input, and the test that replays
// under `swift test` every input kept for it: Fuzz/crashers/FuzzHTTP1/ (inputs that once crashed
// the parser or broke a property) and the seed corpus Fuzz/corpus/FuzzHTTP1/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzHTTP1/HTTP1FuzzProperties.swift is
// a symlink to it) with FUZZING defined; only the test suite at the bottom is left out there.
import HTTP1

/// The request parser on arbitrary bytes: it never crashes; how the input is cut into reads never
/// changes what comes out (events, body bytes, or the error); an error is one of the statuses the
/// parser documents, with a one-line message; a Content-Length body delivers exactly that many bytes.
enum HTTP1FuzzProperties {
    enum Event: Equatable {
        case head(HTTP1RequestHead), body([UInt8]), trailers(HTTP1Fields), end
    }

    struct Outcome: Equatable {
        var events: [Event] = []
        var error: HTTP1ParseError?
    }

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
            case .end:
                if let n = expected, n != received {
                    failures.append("Content-Length \(n) but \(received) body bytes")
                }
            }
        }
        return failures
    }

    /// Feeds `input` cut into pieces of `sizes` (cycled; empty: whole), re-feeding what a call did
    /// not consume; consecutive body pieces are joined.
    static func parse(_ input: [UInt8], pieces sizes: [Int]) -> Outcome {
        var parser = HTTP1RequestParser()
        var outcome = Outcome()
        var start = 0, turn = 0
        while start < input.count {
            let size = sizes.isEmpty ? input.count : sizes[turn % sizes.count]
            turn += 1
            var piece = Array(input[start ..< min(start + size, input.count)])
            start += piece.count
            while !piece.isEmpty {
                do {
                    let consumed = try parser.feed(piece) { event in
                        switch event {
                        case .head(let head): outcome.events.append(.head(head))
                        case .body(let bytes):
                            if case .body(let earlier)? = outcome.events.last {
                                outcome.events[outcome.events.count - 1] = .body(earlier + Array(bytes))
                            } else {
                                outcome.events.append(.body(Array(bytes)))
                            }
                        case .trailers(let fields): outcome.events.append(.trailers(fields))
                        case .end: outcome.events.append(.end)
                        }
                    }
                    if consumed == 0 { return outcome }  // nothing more will be read (connection over)
                    piece.removeFirst(consumed)
                } catch {
                    outcome.error = error
                    return outcome
                }
            }
        }
        return outcome
    }

    static func describe(_ outcome: Outcome) -> String {
        "\(outcome.events.count) events" + (outcome.error.map { ", error \($0)" } ?? "")
    }
}

#if !FUZZING
import Testing

@Suite struct HTTP1FuzzReplayTests {
    /// Fuzz/<folder>/FuzzHTTP1, found from this file's path.
    static func inputs(_ folder: String) -> [(name: String, bytes: [UInt8])] {
        var path = #filePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        path.removeLast(3)  // Tests/HTTP1Tests/<this file>
        let dir = (path + ["Fuzz", folder, "FuzzHTTP1"]).joined(separator: "/")
        return listFiles(dir).compactMap { name in
            guard !name.hasPrefix(".") else { return nil }
            return readFile(dir + "/" + name).map { (name, $0) }
        }
    }

    @Test func seedsAndCrashersKeepEveryProperty() {
        let seeds = Self.inputs("corpus")
        #expect(seeds.count >= 5, "the seed corpus Fuzz/corpus/FuzzHTTP1 is missing")
        for input in seeds + Self.inputs("crashers") {
            let failures = HTTP1FuzzProperties.check(input.bytes)
            #expect(failures.isEmpty, "\(input.name): \(failures.joined(separator: "; "))")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

private func listFiles(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let entry = readdir(d) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

private func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        out += buffer[0 ..< n]
    }
    return out
}
#endif

// The properties that the FuzzGzip fuzz target checks on every input, and the test that replays
// under `swift test` every input kept for it: Fuzz/crashers/FuzzGzip/ and the seed corpus
// Fuzz/corpus/FuzzGzip/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzGzip/GzipFuzzProperties.swift is a
// symlink to it) with FUZZING defined; only the test suite at the bottom is left out there.
import Compression

/// `Gzip.decompress` and its size limit on arbitrary bytes. The first byte picks what is tested:
///
/// - `D` (or an even byte): the second byte picks the limit (`0`, or 2^(b % 22) - b / 22, so
///   every size from 0 to 4 MiB in steps around the powers of two); the rest is a gzip member as a
///   client may send it. Decompressed with that limit after 3 bytes already in the output: those
///   3 bytes are left alone; at most `limit` bytes are appended; the outcome agrees with the
///   same input decompressed with an 8 MiB limit (which 4 KiB of deflate cannot exceed): success
///   there and at most `limit` bytes ⇔ success here with the same bytes; more than `limit`
///   there ⇔ `the message inflates to more than LIMIT bytes` here; any other error is the same
///   error. Every error is one line in lower case without a final period.
/// - `C` (or an odd byte): the rest, compressed at a level from the second byte and decompressed
///   with a limit of exactly its size, comes back byte for byte; with a limit one less (when it is
///   not empty) it is refused as too large.
enum GzipFuzzProperties {
    static let outputPrefix: [UInt8] = [7, 8, 9]
    static let bigLimit = 8 << 20

    /// Broken properties, in words; empty when all held.
    static func check(_ input: [UInt8]) -> [String] {
        guard let mode = input.first else { return [] }
        let compress = mode == UInt8(ascii: "C") || (mode != UInt8(ascii: "D") && mode & 1 == 1)
        return compress ? checkRoundTrip(input) : checkDecompress(input)
    }

    static func limit(_ selector: UInt8) -> Int {
        selector == 0 ? 0 : max(0, (1 << Int(selector % 22)) - Int(selector / 22))
    }

    static func decompress(_ bytes: [UInt8], limit: Int) -> (error: String?, output: [UInt8]) {
        var output = outputPrefix
        let error = bytes.withUnsafeBytes { Gzip.decompress($0, limit: limit, into: &output) }
        return (error, output)
    }

    static func checkDecompress(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let limit = limit(input.count > 1 ? input[1] : 0)
        let member = Array(input.dropFirst(2))
        let (error, output) = decompress(member, limit: limit)
        let (fullError, fullOutput) = decompress(member, limit: bigLimit)
        let show = "\(fuzzShow(member)) with limit \(limit)"
        failures.expect(output.starts(with: outputPrefix), "\(show): the bytes already in the output were changed")
        failures.expect(output.count - outputPrefix.count <= limit, "\(show): \(output.count - outputPrefix.count) bytes appended")
        for message in [error, fullError].compactMap({ $0 }) {
            failures.expect(!message.isEmpty && !message.contains("\n") && !message.contains("\r")
                            && !message.hasSuffix(".") && message.first.map { !$0.isUppercase } == true,
                            "\(show): error is not one lower-case line without a period: \(message.debugDescription)")
        }
        let fullCount = fullOutput.count - outputPrefix.count
        switch (fullError, error) {
        case (nil, nil):
            failures.expect(fullCount <= limit, "\(show): \(fullCount) bytes accepted")
            failures.expect(output == fullOutput, "\(show): not the bytes the large limit gives")
        case (nil, let error?):
            failures.expect(fullCount > limit, "\(show): refused (\(error)) although it inflates to \(fullCount) bytes")
            if fullCount > limit {
                failures.expect(error == "the message inflates to more than \(limit) bytes", "\(show): \(error)")
            }
        case (let fullError?, nil):
            failures.fail("\(show): accepted, but with an 8 MiB limit: \(fullError)")
        case (let fullError?, let error?):
            // Inflated past the limit before the corruption was reached, or the same error.
            failures.expect(error == fullError || (error == "the message inflates to more than \(limit) bytes" && fullCount > limit),
                            "\(show): \(error), but with an 8 MiB limit: \(fullError)")
        }
        return failures.messages
    }

    static func checkRoundTrip(_ input: [UInt8]) -> [String] {
        var failures = FuzzFailures()
        let level = Int32(input.count > 1 ? input[1] % 10 : 6)
        let plain = Array(input.dropFirst(2))
        var member: [UInt8] = []
        plain.withUnsafeBytes { Gzip.compress($0, level: level, into: &member) }
        let (error, output) = decompress(member, limit: plain.count)
        failures.expect(error == nil && Array(output.dropFirst(outputPrefix.count)) == plain,
                        "\(fuzzShow(plain)) at level \(level) does not come back: \(error ?? fuzzShow(output))")
        if !plain.isEmpty {
            let (short, _) = decompress(member, limit: plain.count - 1)
            failures.expect(short == "the message inflates to more than \(plain.count - 1) bytes",
                            "\(fuzzShow(plain)) with a limit one byte short: \(short ?? "accepted")")
        }
        return failures.messages
    }
}

#if !FUZZING
import Testing

@Suite struct GzipFuzzReplayTests {
    @Test func seedsKeepEveryProperty() {
        let seeds = FuzzReplay.files("corpus", "FuzzGzip")
        #expect(seeds.count >= 4, "the seed corpus Fuzz/corpus/FuzzGzip is missing")
        for (name, bytes) in seeds {
            let failures = GzipFuzzProperties.check(bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/FuzzGzip/\(name):\n\(failures.joined(separator: "\n"))")
        }
    }

    @Test func crashersNoLongerBreakAProperty() async {
        for (name, bytes) in FuzzReplay.files("crashers", "FuzzGzip") {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/FuzzGzip/\(name)"
            ) { [bytes = bytes as [UInt8]] in
                FuzzReplay.report(GzipFuzzProperties.check(bytes))
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/FuzzGzip/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }
}
#endif

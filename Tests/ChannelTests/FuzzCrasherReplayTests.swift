// The properties that the FuzzChannel fuzz target checks on every input, and the test that
// replays under `swift test` every input kept for it: Fuzz/crashers/FuzzChannel/ (inputs that
// once crashed a parser or broke a property) and the seed corpus Fuzz/corpus/FuzzChannel/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzChannel/ChannelFuzzProperties.swift
// is a symlink to it) with FUZZING defined, so the fuzzer and the replay check exactly the same
// things; only the test suite at the bottom is left out of that build.
import Channel

/// The small parsers of the Channel module, one per input: the first byte picks the parser and
/// the rest is its input. Each parser's result is compared with a slow reference written
/// straight from its doc comment, and round trips are checked where the type has an encoder.
enum ChannelFuzzProperties {
    enum Parser: CaseIterable {
        case timeout, path, frames, statusMessage, servicePattern
    }

    /// Seed files start with a letter (`T100m` is the grpc-timeout `100m`); any other first byte
    /// picks a parser by its value, so that every mutated input goes somewhere.
    static func parser(for byte: UInt8) -> Parser {
        switch byte {
        case UInt8(ascii: "T"): .timeout
        case UInt8(ascii: "P"): .path
        case UInt8(ascii: "F"): .frames
        case UInt8(ascii: "M"): .statusMessage
        case UInt8(ascii: "S"): .servicePattern
        default: Parser.allCases[Int(byte) % Parser.allCases.count]
        }
    }

    /// Runs the parser `input` selects and returns every property it broke.
    static func check(_ input: [UInt8]) -> [String] {
        guard let first = input.first else { return [] }
        let body = Array(input.dropFirst())
        var failures = FuzzFailures()
        switch parser(for: first) {
        case .timeout: checkTimeout(body, &failures)
        case .path: checkPath(body, &failures)
        case .frames: checkFrames(body, &failures)
        case .statusMessage: checkStatusMessage(body, &failures)
        case .servicePattern: checkServicePattern(body, &failures)
        }
        return failures.messages
    }

    // MARK: grpc-timeout

    static let timeoutUnits: [UInt8: UInt64] = [
        UInt8(ascii: "n"): 1,
        UInt8(ascii: "u"): 1_000,
        UInt8(ascii: "m"): 1_000_000,
        UInt8(ascii: "S"): 1_000_000_000,
        UInt8(ascii: "M"): 60_000_000_000,
        UInt8(ascii: "H"): 3_600_000_000_000,
    ]

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `TimeoutValue TimeoutUnit`: 1-8 digits and a unit letter, in nanoseconds, saturating.
    static func referenceTimeout(_ bytes: [UInt8]) -> UInt64? {
        guard (2...9).contains(bytes.count), let unit = timeoutUnits[bytes[bytes.count - 1]],
            bytes.dropLast().allSatisfy(isDigit)
        else { return nil }
        let amount = UInt128(String(decoding: bytes.dropLast(), as: UTF8.self))!
        let nanoseconds = amount * UInt128(unit)
        return nanoseconds > UInt128(UInt64.max) ? UInt64.max : UInt64(nanoseconds)
    }

    static func checkTimeout(_ body: [UInt8], _ failures: inout FuzzFailures) {
        let parsed = body.withUnsafeBytes { GRPCTimeout.parse($0) }
        let expected = referenceTimeout(body)
        failures.expect(
            parsed == expected,
            "GRPCTimeout.parse(\(fuzzShow(body))) = \(String(describing: parsed)), expected \(String(describing: expected))")
        if let text = String(validating: body, as: UTF8.self) {
            let fromString = GRPCTimeout.parse(text)
            failures.expect(
                fromString == parsed,
                "GRPCTimeout.parse(String \(fuzzShow(body))) = \(String(describing: fromString)), bytes gave \(String(describing: parsed))")
        }
        if let parsed { checkTimeoutEncode(parsed, &failures) }
        // Any 8 bytes are also a deadline to encode, not only the ones a header can carry.
        if body.count >= 8 {
            var nanoseconds: UInt64 = 0
            for byte in body.prefix(8) { nanoseconds = nanoseconds << 8 | UInt64(byte) }
            checkTimeoutEncode(nanoseconds, &failures)
        }
    }

    /// `encode` gives a valid header value that never grants less time than `nanoseconds`, in the
    /// finest unit whose amount fits in 8 digits, rounded up by less than one unit.
    static func checkTimeoutEncode(_ nanoseconds: UInt64, _ failures: inout FuzzFailures) {
        let text = GRPCTimeout.encode(nanoseconds: nanoseconds)
        let bytes = Array(text.utf8)
        let what = "GRPCTimeout.encode(nanoseconds: \(nanoseconds)) = \(fuzzShow(bytes))"
        guard (2...9).contains(bytes.count), let unit = timeoutUnits[bytes[bytes.count - 1]],
            bytes.dropLast().allSatisfy(isDigit), bytes[0] != UInt8(ascii: "0")
        else {
            failures.fail("\(what): not 1-8 digits without a leading zero and a unit")
            return
        }
        guard let back = GRPCTimeout.parse(text) else {
            failures.fail("\(what): does not parse back")
            return
        }
        failures.expect(back >= nanoseconds, "\(what): parses back to \(back), less than was encoded")
        if nanoseconds == 0 {
            failures.expect(text == "1n", "\(what): 0 must encode as \"1n\"")
            return
        }
        let sent = UInt128(String(decoding: bytes.dropLast(), as: UTF8.self))! * UInt128(unit)
        failures.expect(
            sent >= UInt128(nanoseconds) && sent - UInt128(nanoseconds) < UInt128(unit),
            "\(what): rounded up by a unit or more")
        for finer in timeoutUnits.values where finer < unit {
            let amount = (UInt128(nanoseconds) + UInt128(finer) - 1) / UInt128(finer)
            failures.expect(amount > UInt128(GRPCTimeout.maxValue), "\(what): fits in the finer unit of \(finer) ns")
        }
    }

    // MARK: :path

    /// `/` Service `/` Method: both non-empty, no third `/`, no `?`, no byte <= 0x20 nor 0x7F.
    static func referencePath(_ bytes: [UInt8]) -> (service: Range<Int>, method: Range<Int>)? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let rest = bytes.dropFirst()
        guard !rest.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "?") }) else { return nil }
        let parts = rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0].startIndex..<parts[0].endIndex, parts[1].startIndex..<parts[1].endIndex)
    }

    static func checkPath(_ body: [UInt8], _ failures: inout FuzzFailures) {
        let split = body.withUnsafeBytes { GRPCPath.split($0) }
        let expected = referencePath(body)
        failures.expect(
            split?.service == expected?.service && split?.method == expected?.method,
            "GRPCPath.split(\(fuzzShow(body))) = \(String(describing: split)), expected \(String(describing: expected))")
        if let text = String(validating: body, as: UTF8.self) {
            let strings = GRPCPath.split(text)
            let expectedStrings = expected.map {
                (String(decoding: body[$0.service], as: UTF8.self), String(decoding: body[$0.method], as: UTF8.self))
            }
            failures.expect(
                strings?.service == expectedStrings?.0 && strings?.method == expectedStrings?.1,
                "GRPCPath.split(String \(fuzzShow(body))) = \(String(describing: strings)), expected \(String(describing: expectedStrings))")
        }
    }

    // MARK: Length-Prefixed-Message decoder

    /// The limits a frames input may pick with its first byte.
    static let maxMessageSizes = [0, 1, 2, 5, 16, 255, 256, 1000, 1024, 65_535, 65_536, 1 << 24, Int(UInt32.max)]

    struct Message: Equatable, CustomStringConvertible {
        var compressed: Bool
        var payload: [UInt8]

        var description: String { "(\(compressed ? 1 : 0), \(payload.count) bytes)" }
    }

    /// What a decoder made of a whole stream.
    struct Outcome: Equatable, CustomStringConvertible {
        var messages: [Message] = []
        var error: GRPCFrameDecoder.DecodeError?

        var description: String { "\(messages) error: \(error.map { "\($0)" } ?? "none")" }
    }

    /// The stream read in one pass, as the spec describes it: the outcome, the offsets where no
    /// message is under way (0 and each message's end, up to the error), and whether the stream
    /// ends inside a message.
    static func referenceFrames(_ wire: [UInt8], maxMessageSize: Int) -> (Outcome, boundaries: Set<Int>, partial: Bool) {
        var outcome = Outcome()
        var boundaries: Set<Int> = [0]
        var offset = 0
        while offset < wire.count {
            let flag = wire[offset]
            guard flag <= 1 else {
                outcome.error = .invalidFlag(flag)
                return (outcome, boundaries, false)
            }
            guard wire.count - offset >= 5 else { break }
            let length = wire[(offset + 1)..<(offset + 5)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= maxMessageSize else {
                outcome.error = .messageTooLarge(length)
                return (outcome, boundaries, false)
            }
            guard wire.count - offset - 5 >= length else { break }
            outcome.messages.append(Message(compressed: flag == 1, payload: Array(wire[(offset + 5)..<(offset + 5 + length)])))
            offset += 5 + length
            boundaries.insert(offset)
        }
        return (outcome, boundaries, offset < wire.count)
    }

    /// SplitMix64: chunk sizes that are the same on every run of the same input.
    struct SplitMix64 {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Input: a byte picking `maxMessageSize`, a byte seeding the chunk sizes, then the stream.
    /// Fed whole, as one array, byte by byte and in random chunks (empty ones included), the
    /// decoder must deliver what the reference reads, stop with the same error, report a partial
    /// message exactly between boundaries, and throw the same error again once failed.
    static func checkFrames(_ body: [UInt8], _ failures: inout FuzzFailures) {
        guard body.count >= 2 else { return }
        let maxMessageSize = maxMessageSizes[Int(body[0]) % maxMessageSizes.count]
        let wire = Array(body.dropFirst(2))
        let (expected, boundaries, partial) = referenceFrames(wire, maxMessageSize: maxMessageSize)

        var random = SplitMix64(state: UInt64(body[1]))
        var chunks: [Range<Int>] = []
        var start = 0
        while start < wire.count {
            let roll = random.next()
            let size = roll % 4 == 0 ? Int((roll >> 8) % UInt64(wire.count + 1)) : Int((roll >> 8) % 8)
            let end = min(start + size, wire.count)
            chunks.append(start..<end)
            start = end
        }
        let ways: [(String, [Range<Int>])] = [
            ("whole", [0..<wire.count]),
            ("byte by byte", wire.indices.map { $0..<($0 + 1) }),
            ("in random chunks (seed \(body[1]))", chunks),
        ]
        func context() -> String { "GRPCFrameDecoder(maxMessageSize: \(maxMessageSize)) fed \(fuzzShow(wire))" }
        for (way, chunks) in ways {
            var decoder = GRPCFrameDecoder(maxMessageSize: maxMessageSize)
            var outcome = Outcome()
            for chunk in chunks {
                var thrown: GRPCFrameDecoder.DecodeError?
                wire[chunk].withUnsafeBytes { bytes in
                    do throws(GRPCFrameDecoder.DecodeError) {
                        try decoder.feed(bytes) { outcome.messages.append(Message(compressed: $0.compressed, payload: $0.payload)) }
                    } catch {
                        thrown = error
                    }
                }
                if let thrown {
                    outcome.error = thrown
                    break
                }
                failures.expect(
                    decoder.hasPartialMessage == !boundaries.contains(chunk.upperBound),
                    "\(context()) \(way): hasPartialMessage is \(decoder.hasPartialMessage) at offset \(chunk.upperBound)")
            }
            failures.expect(outcome == expected, "\(context()) \(way): got \(outcome), expected \(expected)")
            if let failure = outcome.error {
                var delivered = 0
                do throws(GRPCFrameDecoder.DecodeError) {
                    try decoder.feed([0, 0, 0, 0, 0]) { _ in delivered += 1 }
                    failures.fail("\(context()) \(way): feed after \(failure) did not throw")
                } catch {
                    failures.expect(error == failure, "\(context()) \(way): feed after \(failure) threw \(error)")
                }
                failures.expect(delivered == 0, "\(context()) \(way): delivered \(delivered) messages after \(failure)")
            } else {
                failures.expect(
                    decoder.hasPartialMessage == partial,
                    "\(context()) \(way): hasPartialMessage is \(decoder.hasPartialMessage) at the end, expected \(partial)")
            }
        }

        // The array overload, in one call.
        var decoder = GRPCFrameDecoder(maxMessageSize: maxMessageSize)
        var outcome = Outcome()
        do throws(GRPCFrameDecoder.DecodeError) {
            try decoder.feed(wire) { outcome.messages.append(Message(compressed: $0.compressed, payload: $0.payload)) }
        } catch {
            outcome.error = error
        }
        failures.expect(outcome == expected, "\(context()) as one [UInt8]: got \(outcome), expected \(expected)")
    }

    // MARK: grpc-message

    static func isUnreserved(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%")
    }

    /// `%` and two hex digits (either case) is a byte; anything else stays as it is.
    static func referencePercentDecode(_ bytes: [UInt8]) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            UInt8(String(decoding: [byte], as: UTF8.self), radix: 16)
        }
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2])
            {
                out.append(high * 16 + low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    static func checkStatusMessage(_ body: [UInt8], _ failures: inout FuzzFailures) {
        let text = String(decoding: body, as: UTF8.self)
        let encoded = GRPCStatusMessage.encode(text)
        let what = "GRPCStatusMessage.encode(\(fuzzShow(text.utf8))) = \(fuzzShow(encoded.utf8))"
        failures.expect(
            encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "\(what): not printable ASCII")
        if text.utf8.allSatisfy(isUnreserved) {
            failures.expect(Array(encoded.utf8) == Array(text.utf8), "\(what): changed a message that needs no encoding")
        }
        let roundTrip = GRPCStatusMessage.decode(encoded)
        failures.expect(
            Array(roundTrip.utf8) == Array(text.utf8), "\(what): decodes back to \(fuzzShow(roundTrip.utf8))")

        let decoded = GRPCStatusMessage.decode(text)
        let expected = String(decoding: referencePercentDecode(Array(text.utf8)), as: UTF8.self)
        failures.expect(
            Array(decoded.utf8) == Array(expected.utf8),
            "GRPCStatusMessage.decode(\(fuzzShow(text.utf8))) = \(fuzzShow(decoded.utf8)), expected \(fuzzShow(expected.utf8))")
    }

    // MARK: Service patterns

    /// `*`, or dot-separated segments of `[A-Za-z0-9_]+` with an optional final `.*`.
    static func referencePattern(_ bytes: [UInt8]) -> ServicePattern? {
        if bytes == [UInt8(ascii: "*")] { return .any }
        let isPrefix = bytes.count >= 2 && bytes.suffix(2).elementsEqual(".*".utf8)
        let name = isPrefix ? Array(bytes.dropLast(2)) : bytes
        let segments = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let valid = segments.allSatisfy { segment in
            !segment.isEmpty
                && segment.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                        true
                    default:
                        false
                    }
                }
        }
        guard valid else { return nil }
        let text = String(decoding: name, as: UTF8.self)
        return isPrefix ? .prefix(text) : .exact(text)
    }

    static func checkServicePattern(_ body: [UInt8], _ failures: inout FuzzFailures) {
        let text = String(decoding: body, as: UTF8.self)
        let parsed = ServicePattern(parsing: text)
        let expected = referencePattern(Array(text.utf8))
        let what = "ServicePattern(parsing: \(fuzzShow(text.utf8))) = \(parsed.map { "\($0)" } ?? "nil")"
        failures.expect(parsed == expected, "\(what), expected \(expected.map { "\($0)" } ?? "nil")")
        switch ServicePattern.parse(text) {
        case .success(let pattern):
            failures.expect(pattern == parsed, "\(what), but parse(_:) gave \(pattern)")
        case .failure(let error):
            failures.expect(parsed == nil, "\(what), but parse(_:) failed: \(error)")
            failures.expect(!error.description.isEmpty, "\(what): empty error description")
        }
        guard let parsed else { return }
        failures.expect(
            Array(parsed.description.utf8) == Array(text.utf8), "\(what): description is \(fuzzShow(parsed.description.utf8))")
        switch parsed {
        case .exact(let name):
            failures.expect(parsed.matches(name), "\(what): does not match its own name")
            failures.expect(!parsed.matches(name + ".X"), "\(what): matches a service below its name")
        case .prefix(let name):
            failures.expect(parsed.matches(name + ".X"), "\(what): does not match \(name).X")
            failures.expect(!parsed.matches(name), "\(what): matches the package name itself")
            failures.expect(!parsed.matches(name + "X.Y"), "\(what): matches \(name)X.Y, outside the package")
        case .any:
            failures.expect(parsed.matches("x.Y"), "\(what): does not match x.Y")
        }
    }
}

#if !FUZZING
import Testing

@Suite struct FuzzCrasherReplayTests {
    @Test func crashersNoLongerBreakAProperty() async {
        for (name, bytes) in FuzzReplay.files("crashers", "FuzzChannel") {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/FuzzChannel/\(name)"
            ) { [bytes = bytes as [UInt8]] in
                let failures = ChannelFuzzProperties.check(bytes)
                FuzzReplay.report(failures)
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/FuzzChannel/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }

    @Test func seedCorpusKeepsEveryProperty() {
        let seeds = FuzzReplay.files("corpus", "FuzzChannel")
        #expect(seeds.count >= 10, "the seed corpus is missing")
        var parsers = Set<String>()
        for (name, bytes) in seeds {
            parsers.insert("\(ChannelFuzzProperties.parser(for: bytes.first ?? 0))")
            let failures = ChannelFuzzProperties.check(bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/FuzzChannel/\(name):\n\(failures.joined(separator: "\n"))")
        }
        #expect(parsers.count == ChannelFuzzProperties.Parser.allCases.count, "seeds reach only \(parsers.sorted())")
    }
}
#endif

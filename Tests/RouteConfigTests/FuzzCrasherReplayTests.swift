// The properties that the FuzzConfig and FuzzConfigValues fuzz targets check on every input,
// and the tests that replay under `swift test` every input kept for them: Fuzz/crashers/<target>/
// (inputs that once crashed the parser or broke a property) and the seed corpus
// Fuzz/corpus/<target>/.
//
// The fuzz package compiles this same file (Fuzz/Sources/FuzzConfig/ConfigFuzzProperties.swift
// and Fuzz/Sources/FuzzConfigValues/ConfigFuzzProperties.swift are symlinks to it) with FUZZING
// defined, so the fuzzers and the replay check exactly the same things; only the test suite at
// the bottom is left out of that build.
import Channel
import RouteConfig

/// A whole routes file: `ConfigLoader.parse` either returns a config that keeps every rule the
/// file format states, or throws diagnostics that each read `FILE:LINE:COLUMN: message` on one
/// line, point inside the file, and come sorted.
enum ConfigFuzzProperties {
    /// Inside a folder, so that descriptor paths are resolved against it.
    static let file = "fuzz/routes.yaml"

    static func check(_ input: [UInt8]) -> [String] {
        let yaml = String(decoding: input, as: UTF8.self)
        var failures = FuzzFailures()
        do {
            let config = try ConfigLoader.parse(yaml: yaml, file: file)
            checkConfig(config, &failures)
        } catch {
            checkDiagnostics(error, yaml: yaml, &failures)
        }
        return failures.messages
    }

    /// The line breaks YAML knows (libyaml: LF, CR, CR LF, NEL, LS, PS), CR LF counted once.
    static func lineBreakCount(_ text: String) -> Int {
        var count = 0
        var afterCR = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": if !afterCR { count += 1 }
            case "\r", "\u{85}", "\u{2028}", "\u{2029}": count += 1
            default: break
            }
            afterCR = scalar == "\r"
        }
        return count
    }

    /// Characters that end a line on a terminal or in an editor.
    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }

    /// True when `line` is `FILE:LINE:COLUMN: message` (`^FILE:\d+:\d+: .+$`, `.` not matching a
    /// line break), with LINE and COLUMN the given numbers.
    static func isDiagnosticLine(_ line: String, line number: Int, column: Int) -> Bool {
        let head = "\(file):\(number):\(column): "
        guard line.utf8.starts(with: head.utf8) else { return false }
        let message = line.unicodeScalars.dropFirst(head.unicodeScalars.count)
        return !message.isEmpty && !message.contains(where: isLineBreak)
    }

    static func checkDiagnostics(_ errors: ConfigErrors, yaml: String, _ failures: inout FuzzFailures) {
        let diagnostics = errors.diagnostics
        guard !diagnostics.isEmpty else {
            failures.fail("threw ConfigErrors without a diagnostic")
            return
        }
        let lastLine = lineBreakCount(yaml) + 1
        for diagnostic in diagnostics {
            let text = diagnostic.description
            failures.expect(diagnostic.file == file, "\(fuzzShow(text.utf8)): names file \(fuzzShow(diagnostic.file.utf8))")
            failures.expect(
                diagnostic.line >= 1 && diagnostic.column >= 1, "\(fuzzShow(text.utf8)): line and column must be >= 1")
            // libyaml puts the end of a stream that does not end in a line break at the start of
            // the line after it (`yaml_parser_fetch_stream_end`): errors there say LAST+1:1.
            let endsInBreak = yaml.unicodeScalars.last.map(isLineBreak) ?? true
            failures.expect(
                diagnostic.line <= lastLine || (diagnostic.line == lastLine + 1 && diagnostic.column == 1 && !endsInBreak),
                "\(fuzzShow(text.utf8)): line \(diagnostic.line) is past the end (\(lastLine))")
            failures.expect(
                isDiagnosticLine(text, line: diagnostic.line, column: diagnostic.column),
                "\(fuzzShow(text.utf8)): not one line of FILE:LINE:COLUMN: message")
            if let first = diagnostic.message.unicodeScalars.first {
                failures.expect(
                    !first.properties.isUppercase, "\(fuzzShow(text.utf8)): a message starts in lower case")
            }
            failures.expect(!diagnostic.message.hasSuffix("."), "\(fuzzShow(text.utf8)): a message ends without a period")
        }
        let positions = diagnostics.map { [$0.line, $0.column] }
        failures.expect(
            positions.elementsEqual(positions.sorted { $0.lexicographicallyPrecedes($1) }),
            "diagnostics not sorted by line and column: \(positions)")
        failures.expect(
            errors.description == diagnostics.map(\.description).joined(separator: "\n"),
            "ConfigErrors.description is not the diagnostics one per line")
    }

    /// What the file format promises of a config that loaded (GatewayConfig, ClusterConfig,
    /// RouteEntry doc comments).
    static func checkConfig(_ config: GatewayConfig, _ failures: inout FuzzFailures) {
        failures.expect(config.file == file, "config.file is \(config.file)")
        failures.expect(!config.listeners.isEmpty, "no listeners")
        failures.expect(Set(config.listeners).count == config.listeners.count, "a listener twice: \(config.listeners)")
        for listener in config.listeners {
            failures.expect(listener.isIPLiteral && listener.port >= 1, "listener \(listener) is not IP:PORT")
        }
        if let admin = config.admin {
            failures.expect(admin.isIPLiteral && admin.port >= 1, "admin \(admin) is not IP:PORT")
            failures.expect(!config.listeners.contains(admin), "admin \(admin) is also a listener")
        }
        failures.expect((1...256).contains(config.workers), "workers \(config.workers)")
        for path in config.descriptors {
            failures.expect(
                path.hasPrefix("/") || (path.hasPrefix("fuzz/") && path.utf8.count > 5),
                "descriptor \(fuzzShow(path.utf8)) not resolved against the config's folder")
        }
        failures.expect(config.maxConcurrentStreams >= 1 && config.maxConcurrentStreams <= Int(Int32.max), "max_concurrent_streams \(config.maxConcurrentStreams)")
        failures.expect(
            GatewayConfig.streamWindowRange.contains(config.streamWindowBytes), "stream_window \(config.streamWindowBytes)")
        failures.expect(config.prefaceTimeoutMs > 0, "preface_timeout 0")

        failures.expect(!config.clusters.isEmpty, "no clusters")
        var names = Set<[UInt8]>()
        for cluster in config.clusters {
            let name = Array(cluster.name.utf8)
            failures.expect(names.insert(name).inserted, "cluster \(fuzzShow(name)) twice")
            failures.expect(
                !name.isEmpty
                    && name.allSatisfy { byte in
                        switch byte {
                        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                            true
                        default:
                            false
                        }
                    },
                "cluster name \(fuzzShow(name))")
            failures.expect(!cluster.endpoints.isEmpty, "cluster \(fuzzShow(name)) has no endpoints")
            failures.expect(Set(cluster.endpoints).count == cluster.endpoints.count, "cluster \(fuzzShow(name)): an endpoint twice")
            failures.expect(cluster.connectTimeoutMs > 0, "cluster \(fuzzShow(name)): connect_timeout 0")
            failures.expect(cluster.maxConnections >= 1, "cluster \(fuzzShow(name)): max_connections \(cluster.maxConnections)")
            failures.expect(
                cluster.maxStreamsPerConnection >= 1 && cluster.maxStreamsPerConnection <= Int(Int32.max),
                "cluster \(fuzzShow(name)): max_streams_per_connection \(cluster.maxStreamsPerConnection)")
            failures.expect(cluster.maxPendingCalls >= 0, "cluster \(fuzzShow(name)): max_pending \(cluster.maxPendingCalls)")
            failures.expect(
                cluster.backoffBaseMs > 0 && cluster.backoffBaseMs <= cluster.backoffMaxMs,
                "cluster \(fuzzShow(name)): backoff \(cluster.backoffBaseMs)ms...\(cluster.backoffMaxMs)ms")
        }

        failures.expect(!config.routes.isEmpty, "no routes")
        failures.expect(
            Set(config.routes.map(\.service)).count == config.routes.count, "a service pattern twice: \(config.routes.map(\.service))")
        let router = config.makeRouter()
        for (index, route) in config.routes.enumerated() {
            if config.clusters.indices.contains(route.clusterIndex) {
                failures.expect(
                    Array(config.clusters[route.clusterIndex].name.utf8) == Array(route.cluster.utf8),
                    "route \(index + 1) names cluster \(fuzzShow(route.cluster.utf8)) but points at \(fuzzShow(config.clusters[route.clusterIndex].name.utf8))")
            } else {
                failures.fail("route \(index + 1): cluster index \(route.clusterIndex) out of range")
            }
            if let timeout = route.timeoutMs { failures.expect(timeout > 0, "route \(index + 1): timeout 0") }
            if case .exact(let name) = route.service {
                failures.expect(router.route(service: name) == index, "route \(index + 1): \(name) routes elsewhere")
            }
        }
    }
}

/// The value parsers of the routes file, one per input: the first byte picks the parser and the
/// rest (as UTF-8, invalid bytes replaced) is its text. Durations and sizes are compared with a
/// slow exact reference written from their doc comments; addresses must come out printable and
/// parse back from their description.
enum ConfigValueFuzzProperties {
    enum Parser: CaseIterable {
        case address, duration, size
    }

    /// Seed files start with a letter (`D1.5s` is the duration `1.5s`); any other first byte
    /// picks a parser by its value.
    static func parser(for byte: UInt8) -> Parser {
        switch byte {
        case UInt8(ascii: "A"): .address
        case UInt8(ascii: "D"): .duration
        case UInt8(ascii: "B"): .size
        default: Parser.allCases[Int(byte) % Parser.allCases.count]
        }
    }

    static func check(_ input: [UInt8]) -> [String] {
        guard let first = input.first else { return [] }
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        var failures = FuzzFailures()
        switch parser(for: first) {
        case .address: checkAddress(text, &failures)
        case .duration: checkDuration(text, &failures)
        case .size: checkSize(text, &failures)
        }
        return failures.messages
    }

    static func checkError(_ error: ValueParseError, kind: String, text: String, _ failures: inout FuzzFailures) {
        failures.expect(
            error.kind == kind && error.text == text && !error.reason.isEmpty
                // Bytes, not Characters: the text may start with a combining mark that joins the quote.
                && error.description.utf8.starts(with: "invalid \(kind) \"".utf8),
            "\(kind) \(fuzzShow(text.utf8)): error \(fuzzShow(error.description.utf8))")
    }

    // MARK: Addresses

    static func checkAddress(_ text: String, _ failures: inout FuzzFailures) {
        let what = "SocketAddress.parse(\(fuzzShow(text.utf8)))"
        switch SocketAddress.parse(text) {
        case .failure(let error):
            checkError(error, kind: "address", text: text, &failures)
            failures.expect(SocketAddress(parsing: text) == nil, "\(what) failed but init(parsing:) did not")
        case .success(let address):
            let shown = "\(what) = host \(fuzzShow(address.host.utf8)) port \(address.port)"
            failures.expect(SocketAddress(parsing: text) == address, "\(shown), but init(parsing:) differs")
            failures.expect(!address.host.isEmpty, "\(shown): empty host")
            failures.expect(
                address.host.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "\(shown): host holds a byte that is not printable ASCII")
            failures.expect(address.port >= 1, "\(shown): port 0")
            failures.expect(text.hasPrefix("[") == address.isIPv6, "\(shown): brackets and isIPv6 disagree")
            if address.isIPv6 { failures.expect(address.isIPLiteral, "\(shown): IPv6 host that is not an IP literal") }
            let again = SocketAddress.parse(address.description)
            failures.expect(
                again == .success(address), "\(shown): its description \(fuzzShow(address.description.utf8)) parses to \(again)")
        }
    }

    // MARK: Durations

    static let durationUnits: [(text: String, nanoseconds: UInt64)] = [
        ("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `<digits>[.<digits>]<unit>`, the exact value in whole nanoseconds, a fraction of a
    /// nanosecond rounded up (as `parseNanoseconds` documents); `.tooLarge` above `UInt64.max`.
    enum ReferenceDuration: Equatable {
        case malformed
        case tooLarge
        case nanoseconds(UInt64)
    }

    static func referenceDuration(_ text: String) -> ReferenceDuration {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        let whole = bytes[0..<index]
        var fraction: ArraySlice<UInt8> = []
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            fraction = bytes[start..<index]
            if fraction.isEmpty { return .malformed }
        }
        guard !whole.isEmpty,
            let unit = durationUnits.first(where: { Array($0.text.utf8) == Array(bytes[index...]) })?.nanoseconds
        else { return .malformed }
        // The whole part, exactly: 21 significant digits are past UInt64.max already.
        let significant = whole.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 20 else { return .tooLarge }
        let wholeNanoseconds = (UInt128(String(decoding: significant, as: UTF8.self)) ?? 0) * UInt128(unit)
        // ceil(0.f1f2...fn * unit), exactly, however many digits: multiply the digits by `unit`
        // from the last one; the product has a fraction left iff some step leaves a remainder.
        var carry: UInt128 = 0
        var inexact = false
        for digit in fraction.reversed() {
            let step = UInt128(digit - UInt8(ascii: "0")) * UInt128(unit) + carry
            carry = step / 10
            inexact = inexact || step % 10 != 0
        }
        let total = wholeNanoseconds + carry + (inexact ? 1 : 0)
        return total > UInt128(UInt64.max) ? .tooLarge : .nanoseconds(UInt64(total))
    }

    static func checkDuration(_ text: String, _ failures: inout FuzzFailures) {
        let what = "DurationText.parseNanoseconds(\(fuzzShow(text.utf8)))"
        let expected = referenceDuration(text)
        switch DurationText.parseNanoseconds(text) {
        case .failure(let error):
            checkError(error, kind: "duration", text: text, &failures)
            failures.expect(!isNanoseconds(expected), "\(what) failed: \(error), expected \(expected)")
            if case .tooLarge = expected {
                failures.expect(error.reason == "too large", "\(what): \(error), expected \"too large\"")
            }
        case .success(let nanoseconds):
            failures.expect(expected == .nanoseconds(nanoseconds), "\(what) = \(nanoseconds), expected \(expected)")
            let milliseconds = DurationText.milliseconds(roundingUp: nanoseconds)
            let scaled = UInt128(milliseconds) * 1_000_000
            failures.expect(
                scaled >= UInt128(nanoseconds) && scaled - UInt128(nanoseconds) < 1_000_000,
                "milliseconds(roundingUp: \(nanoseconds)) = \(milliseconds)")
        }
    }

    static func isNanoseconds(_ value: ReferenceDuration) -> Bool {
        if case .nanoseconds = value { return true }
        return false
    }

    // MARK: Sizes

    static let sizeUnits: [String: Int] = [
        "": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000,
    ]

    /// `<digits><unit>`, units matched byte for byte; nil when malformed or past `Int.max`.
    static func referenceSize(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        let digits = bytes.prefix(while: isDigit)
        guard !digits.isEmpty else { return nil }
        let unitBytes = Array(bytes[digits.count...])
        guard let unit = sizeUnits.first(where: { Array($0.key.utf8) == unitBytes })?.value else { return nil }
        // 20 significant digits are past Int.max already.
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 20 else { return nil }
        let bytesTotal = (UInt128(String(decoding: significant, as: UTF8.self)) ?? 0) * UInt128(unit)
        return bytesTotal > UInt128(Int.max) ? nil : Int(bytesTotal)
    }

    static func checkSize(_ text: String, _ failures: inout FuzzFailures) {
        let what = "ByteSizeText.parseBytes(\(fuzzShow(text.utf8)))"
        let expected = referenceSize(text)
        switch ByteSizeText.parseBytes(text) {
        case .failure(let error):
            checkError(error, kind: "size", text: text, &failures)
            failures.expect(expected == nil, "\(what) failed: \(error), expected \(expected!)")
        case .success(let bytes):
            failures.expect(bytes == expected, "\(what) = \(bytes), expected \(expected.map { "\($0)" } ?? "an error")")
        }
    }
}

#if !FUZZING
import Testing

@Suite struct FuzzCrasherReplayTests {
    /// The checks of the fuzz target named `target`.
    static func check(_ target: String, _ input: [UInt8]) -> [String] {
        switch target {
        case "FuzzConfig": ConfigFuzzProperties.check(input)
        case "FuzzConfigValues": ConfigValueFuzzProperties.check(input)
        default: ["no fuzz target \(target)"]
        }
    }

    @Test(arguments: ["FuzzConfig", "FuzzConfigValues"])
    func crashersNoLongerBreakAProperty(target: String) async {
        for (name, bytes) in FuzzReplay.files("crashers", target) {
            let result = await #expect(
                processExitsWith: .success, observing: [\.standardErrorContent], "Fuzz/crashers/\(target)/\(name)"
            ) { [target = target as String, bytes = bytes as [UInt8]] in
                let failures = FuzzCrasherReplayTests.check(target, bytes)
                FuzzReplay.report(failures)
            }
            if let result, String(decoding: result.standardErrorContent, as: UTF8.self).contains(FuzzReplay.brokenMarker) {
                Issue.record("Fuzz/crashers/\(target)/\(name):\n\(String(decoding: result.standardErrorContent.prefix(4000), as: UTF8.self))")
            }
        }
    }

    @Test(arguments: ["FuzzConfig", "FuzzConfigValues"])
    func seedCorpusKeepsEveryProperty(target: String) {
        let seeds = FuzzReplay.files("corpus", target)
        #expect(seeds.count >= 5, "the seed corpus of \(target) is missing")
        for (name, bytes) in seeds {
            let failures = FuzzCrasherReplayTests.check(target, bytes)
            #expect(failures.isEmpty, "Fuzz/corpus/\(target)/\(name):\n\(failures.joined(separator: "\n"))")
        }
    }

    /// The seeds hold loadable configs, not only broken ones: the success properties run too.
    @Test func seedCorpusHasValidConfigs() {
        let valid = FuzzReplay.files("corpus", "FuzzConfig").filter { _, bytes in
            (try? ConfigLoader.parse(yaml: String(decoding: bytes, as: UTF8.self), file: ConfigFuzzProperties.file)) != nil
        }
        #expect(valid.count >= 3)
    }
}
#endif

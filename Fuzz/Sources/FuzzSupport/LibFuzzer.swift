import CFuzzDriver

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Hands the process to libFuzzer's driver, which reads its `-flags` and corpus folders from the
/// command line and calls `testOneInput` once per input, on this thread.
///
/// The fuzz targets start here from `@main` rather than linking libFuzzer's own `main`: SwiftPM
/// links every executable with `main` aliased to the module's entry point, so a target without
/// one does not link.
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}

/// A fuzz target's whole `main`: runs `check` on every input libFuzzer generates; a broken
/// property traps (`trapOnFailures`) and libFuzzer keeps the input as a crasher.
public func fuzzMain(target: String, check: @escaping ([UInt8]) -> [String]) -> Never {
    currentTarget = (target, check)
    runLibFuzzer { data, size in fuzzOneInput(data, size) }
}

/// libFuzzer's entry point, exported once for every target (libFuzzer's library refers to it):
/// the running target's checks on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, let (name, check) = currentTarget else { return 0 }
    trapOnFailures(check(Array(UnsafeBufferPointer(start: data, count: size))), target: name)
    return 0
}

/// The running target's checks: a C callback cannot capture them. Set once, before libFuzzer
/// starts, and read only on its thread.
nonisolated(unsafe) private var currentTarget: (String, ([UInt8]) -> [String])?

/// Stops the process when `failures` is not empty, printing them: libFuzzer catches the trap and
/// saves the input (`-artifact_prefix`, Fuzz/crashers/<target>/ under Fuzz/run).
///
/// Failures that contain one of the `|`-separated texts in `TRESTLE_FUZZ_SKIP` are ignored, so
/// that a bug already kept as a crasher, and not fixed yet, does not stop the search for others
/// (`Fuzz/run --skip TEXT`). Crashes inside the parsers are never skipped.
public func trapOnFailures(_ failures: [String], target: String) {
    let remaining = failures.filter { failure in !skippedFailures.contains { failure.contains($0) } }
    guard !remaining.isEmpty else { return }
    fatalError("\(target): property broken:\n" + remaining.joined(separator: "\n"))
}

private let skippedFailures: [String] = {
    guard let value = getenv("TRESTLE_FUZZ_SKIP") else { return [] }
    return String(cString: value).split(separator: "|").map(String.init)
}()

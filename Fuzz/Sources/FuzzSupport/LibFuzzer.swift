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

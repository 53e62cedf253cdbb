import FuzzSupport

/// Runs every check of `GzipFuzzProperties` on each input libFuzzer generates.
@main enum FuzzGzipMain {
    static func main() {
        fuzzMain(target: "FuzzGzip", check: GzipFuzzProperties.check)
    }
}

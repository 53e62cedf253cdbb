import FuzzSupport

/// Runs every check of `TranscodingFuzzProperties` on each input libFuzzer generates.
@main enum FuzzTranscodingMain {
    static func main() {
        fuzzMain(target: "FuzzTranscoding", check: TranscodingFuzzProperties.check)
    }
}

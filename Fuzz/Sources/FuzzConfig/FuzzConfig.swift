import FuzzSupport

/// Runs every check of `ConfigFuzzProperties` on each input libFuzzer generates.
@main enum FuzzConfigMain {
    static func main() {
        fuzzMain(target: "FuzzConfig", check: ConfigFuzzProperties.check)
    }
}

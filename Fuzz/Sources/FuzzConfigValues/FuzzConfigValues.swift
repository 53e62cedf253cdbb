import FuzzSupport

/// Runs every check of `ConfigValueFuzzProperties` on each input libFuzzer generates.
@main enum FuzzConfigValuesMain {
    static func main() {
        fuzzMain(target: "FuzzConfigValues", check: ConfigValueFuzzProperties.check)
    }
}

import FuzzSupport

/// Runs every check of `ChannelFuzzProperties` on each input libFuzzer generates.
@main enum FuzzChannelMain {
    static func main() {
        fuzzMain(target: "FuzzChannel", check: ChannelFuzzProperties.check)
    }
}

import FuzzSupport

/// Runs every check of `HTTP1FuzzProperties` on each input libFuzzer generates.
@main enum FuzzHTTP1Main {
    static func main() {
        fuzzMain(target: "FuzzHTTP1", check: HTTP1FuzzProperties.check)
    }
}

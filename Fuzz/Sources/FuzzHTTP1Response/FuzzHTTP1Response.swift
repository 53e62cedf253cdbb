import FuzzSupport

/// Runs every check of `HTTP1ResponseFuzzProperties` on each input libFuzzer generates.
@main enum FuzzHTTP1ResponseMain {
    static func main() {
        fuzzMain(target: "FuzzHTTP1Response", check: HTTP1ResponseFuzzProperties.check)
    }
}

import FuzzSupport

/// libFuzzer's entry point: runs every check of `ConfigFuzzProperties` on one input. A broken property
/// traps, and libFuzzer keeps the input as a crasher.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    trapOnFailures(ConfigFuzzProperties.check(input), target: "FuzzConfig")
    return 0
}

@main enum FuzzConfigMain {
    static func main() {
        runLibFuzzer { data, size in
            guard let data else { return 0 }
            return fuzz(data, size)
        }
    }
}

import FuzzSupport

/// libFuzzer's entry point: runs every check of `HTTP1FuzzProperties` on one input. A broken property
/// traps, and libFuzzer keeps the input as a crasher.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    trapOnFailures(HTTP1FuzzProperties.check(input), target: "FuzzHTTP1")
    return 0
}

@main enum FuzzHTTP1Main {
    static func main() {
        runLibFuzzer { data, size in
            guard let data else { return 0 }
            return fuzz(data, size)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the config needs to know of the machine.
enum SystemInfo {
    /// `sysconf(_SC_NPROCESSORS_ONLN)`: the CPUs online now (1 when unknown).
    static var onlineProcessorCount: Int {
        let count = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return count > 0 ? Int(count) : 1
    }
}

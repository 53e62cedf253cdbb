import Glibc

/// CPU time and peak memory of processes, from /proc (Linux). Slow path: read at the start and
/// the end of the measured window only.
enum ProcessSampler {
    /// utime + stime of the whole process (all threads), in µs; nil if it cannot be read.
    static func cpuMicros(pid: Int32) -> UInt64? {
        guard let text = readText("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state); utime is field 14, stime field 15.
        guard rest.count > 12, let utime = UInt64(rest[11]), let stime = UInt64(rest[12]) else { return nil }
        let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return (utime + stime) * 1_000_000 / ticks
    }

    /// VmHWM (peak resident set) in KiB; nil if it cannot be read.
    static func peakRSSKiB(pid: Int32) -> Int? {
        guard let text = readText("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst(6).filter { $0 >= "0" && $0 <= "9" }
            return Int(digits)
        }
        return nil
    }

    /// Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0). False if not allowed.
    @discardableResult
    static func resetPeakRSS(pid: Int32) -> Bool {
        let fd = open("/proc/\(pid)/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var five: UInt8 = UInt8(ascii: "5")
        return write(fd, &five, 1) == 1
    }

    /// This process's CPU time (user + system, all threads), in µs.
    static func selfCPUMicros() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000 + UInt64(usage.ru_utime.tv_usec)
        let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000 + UInt64(usage.ru_stime.tv_usec)
        return user + system
    }

    static func readText(_ path: String) -> String? {
        guard let bytes = FileIO.read(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

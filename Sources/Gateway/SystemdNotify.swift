import Glibc

/// The systemd readiness protocol (sd_notify(3)), without libsystemd: when the service manager
/// sets `NOTIFY_SOCKET`, state lines go to that Unix datagram socket — `READY=1` once the workers
/// run, `RELOADING=1` … `READY=1` around a reload, `STOPPING=1` when the drain begins — so a
/// `Type=notify` unit (deploy/systemd/trestle.service) knows when the gateway is up and when a
/// `systemctl reload` is over. Without the variable nothing is sent. Main-thread only; a failed
/// send is ignored (the manager then times out and says so).
struct SystemdNotify {
    private let address: sockaddr_un?
    private let length: socklen_t

    init() {
        guard let raw = getenv("NOTIFY_SOCKET") else {
            address = nil
            length = 0
            return
        }
        var path = Array(String(cString: raw).utf8)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard !path.isEmpty, path.count < capacity, path[0] == UInt8(ascii: "/") || path[0] == UInt8(ascii: "@") else {
            address = nil
            length = 0
            return
        }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }  // the abstract namespace
        withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: path) }
        address = a
        // An abstract name is exactly its bytes; a path is NUL-terminated (zeroed above).
        length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path[0] == 0 ? 0 : 1))
    }

    var isEnabled: Bool { address != nil }

    func send(_ state: String) {
        guard var a = address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var bytes = Array(state.utf8)
        _ = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, &bytes, bytes.count, Int32(MSG_NOSIGNAL), sa, length)
            }
        }
    }

    /// `RELOADING=1` wants the monotonic time of the reload's start (systemd 253's notify-reload;
    /// older managers ignore the field).
    static func monotonicMicroseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000 + UInt64(t.tv_nsec) / 1_000
    }
}

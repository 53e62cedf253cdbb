import CLibUV

/// A listening TCP socket on one loop. With `reusePort`, several loops (one per worker) each
/// bind their own socket to the same address and the kernel spreads connections among them
/// (SO_REUSEPORT, set before bind: libuv 1.44 has no flag for it).
public final class TCPListener: LoopClosable {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    let loop: Loop
    private let onConnection: (TCPListener) -> Void
    private var closed = false

    public init(loop: Loop, address: ResolvedAddress, reusePort: Bool, backlog: Int32 = 1024,
                onConnection: @escaping (TCPListener) -> Void) throws(UVError) {
        self.loop = loop
        self.onConnection = onConnection
        handle = HandleBox.allocate(uv_tcp_t.self)
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        var rc = uv_tcp_init_ex(loop.raw, handle, UInt32(family))
        if rc < 0 {
            UnsafeMutableRawPointer(handle).deallocate()
            throw UVError(rc)
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        do throws(UVError) {
            if reusePort {
                var fd: uv_os_fd_t = -1
                try check(uv_fileno(asHandle(handle), &fd))
                let rc2 = trestle_set_reuseport(fd)
                if rc2 != 0 { throw UVError(rc2) }
            }
            rc = address.withSockaddr { uv_tcp_bind(handle, $0, 0) }
            try check(rc)
            // An address in use is reported here, not by bind (docs/ARCHITECTURE.md §9).
            try check(uv_listen(asStream(handle), backlog) { server, status in
                guard status >= 0,
                      let l = HandleBox.owner(UnsafeMutableRawPointer(server), as: TCPListener.self) else { return }
                l.onConnection(l)
            })
        } catch {
            closed = true
            HandleBox.close(handle)
            throw error
        }
    }

    /// Accepts one pending connection; call from `onConnection`.
    public func accept() -> TCPStream? {
        let s = TCPStream(loop: loop)
        if uv_accept(asStream(handle), asStream(s.handle)) != 0 {
            s.close()
            return nil
        }
        s.setNoDelay()
        return s
    }

    /// The bound port (useful with port 0).
    public var port: UInt16 {
        var ss = sockaddr_storage()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &len) }
        }
        return withUnsafePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

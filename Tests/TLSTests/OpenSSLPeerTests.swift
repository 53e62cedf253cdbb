#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TLS
import Testing

/// `TLSConnection` against a peer the project did not write: `openssl s_server` and
/// `openssl s_client`, over loopback TCP (blocking sockets driven from the test thread).
@Suite(.serialized) struct OpenSSLPeerTests {
    let pki = TestPKI.shared

    @Test func clientAgainstOpenSSLServer() throws {
        let port = freePort()
        let log = pki.dir + "/s_server-\(port).log"
        let pid = spawn("openssl s_server -accept 127.0.0.1:\(port) -cert '\(pki.server.certificate)' -key '\(pki.server.key)' "
            + "-alpn h2 -naccept 1 -www > '\(log)' 2>&1")
        defer { reap(pid) }
        let fd = try #require(connectRetrying(port: port), "s_server did not accept: \(readText(log))")

        let connection = TLSConnection(client: try pki.clientContext(), serverName: "localhost", plaintextBuffer: TLSPlaintextBuffer())
        var handshake: TLSHandshake?
        var received: [UInt8] = []
        var closed = false
        write(connection, Array("GET / HTTP/1.0\r\n\r\n".utf8))  // held until the handshake ends
        drive(fd, connection) { events in
            if let h = events.handshake { handshake = h }
            received += events.plaintext
            #expect(events.error == nil, "\(events.error!)")
            if events.closed { closed = true }
            return events.closed || events.error != nil
        }
        #expect(handshake?.alpn == .h2)
        #expect(handshake?.peerCertificate?.subject == "CN=localhost")
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.0 200 ok"), "\(String(decoding: received.prefix(200), as: UTF8.self))")
        #expect(closed)
        Glibc.close(fd)
        reap(pid)  // -naccept 1: it exits after this connection, its log complete
        #expect(readText(log).contains("ALPN protocols selected: h2"))
    }

    @Test func serverAgainstOpenSSLClient() throws {
        let (listener, port) = try #require(listenLoopback())
        defer { Glibc.close(listener) }
        let input = pki.dir + "/s_client-\(port).in"
        let out = pki.dir + "/s_client-\(port).out"
        writeText(input, "hello from s_client\n")
        let pid = spawn("openssl s_client -connect 127.0.0.1:\(port) -servername localhost -alpn h2,http/1.1 "
            + "-CAfile '\(pki.ca)' -verify_return_error -ign_eof < '\(input)' > '\(out)' 2>&1")
        defer { reap(pid) }
        let fd = try #require(acceptWithin(listener, seconds: 10), "s_client did not connect")
        defer { Glibc.close(fd) }

        let connection = TLSConnection(server: try pki.serverContext(), plaintextBuffer: TLSPlaintextBuffer())
        var handshake: TLSHandshake?
        var received: [UInt8] = []
        drive(fd, connection) { events in
            if let h = events.handshake { handshake = h }
            received += events.plaintext
            #expect(events.error == nil, "\(events.error!)")
            if received.contains(UInt8(ascii: "\n")) {
                write(connection, Array("hello from trestle\n".utf8))
                connection.close()
                return true
            }
            return events.closed || events.error != nil
        }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        reap(pid)
        #expect(handshake?.alpn == .h2)
        #expect(handshake?.serverName == "localhost")
        #expect(String(decoding: received, as: UTF8.self) == "hello from s_client\n")
        let printed = readText(out)
        #expect(printed.contains("ALPN protocol: h2"), "\(printed)")
        #expect(printed.contains("Verify return code: 0 (ok)"))
        #expect(printed.contains("hello from trestle"))
    }

    // MARK: blocking socket plumbing

    /// Sends what the connection produces, feeds what arrives, until `handle` returns true (then
    /// flushes once more) or the socket ends. A 10 s receive timeout guards against a hang.
    private func drive(_ fd: Int32, _ connection: TLSConnection, _ handle: (TLSEvents) -> Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        func flush() {
            let out = connection.produce()
            var offset = 0
            while offset < out.count {
                let n = send(fd, out.baseAddress! + offset, out.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { break }
                offset += n
            }
            connection.outputSent()
        }
        for _ in 0 ..< 10_000 {
            flush()
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            let done = buffer[0 ..< n].withUnsafeBytes { handle(connection.receive($0)) }
            if done {
                flush()
                return
            }
        }
    }

    private func freePort() -> UInt16 {
        guard let (fd, port) = listenLoopback() else { return 0 }
        Glibc.close(fd)
        return port
    }

    private func loopback(_ port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return addr
    }

    private func listenLoopback() -> (Int32, UInt16)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = loopback(0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { Glibc.close(fd); return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    private func setTimeout(_ fd: Int32) {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func connectRetrying(port: UInt16) -> Int32? {
        for _ in 0 ..< 100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = loopback(port)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc == 0 {
                setTimeout(fd)
                return fd
            }
            Glibc.close(fd)
            usleep(50_000)
        }
        return nil
    }

    private func acceptWithin(_ listener: Int32, seconds: Int32) -> Int32? {
        var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, seconds * 1000) == 1 else { return nil }
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        setTimeout(fd)
        return fd
    }

    /// Waits for `pid` (at most 10 s, then kills it).
    private func reap(_ pid: pid_t) {
        guard pid > 0 else { return }
        var status: Int32 = 0
        for _ in 0 ..< 200 {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || r < 0 { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

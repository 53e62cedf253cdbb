// `trestle tls-bench` (hidden): the TLS module's cost on one core, in memory, through its public
// API — CPU per handshake on each side (full and resumed) and per record round trip (client
// write → server receive → server write → client receive). ECDSA P-256 certificates are made
// with the `openssl` command line unless --dir has ca.crt, server.crt and server.key.
// For instruction counts run it under callgrind twice with different counts and subtract.
import ArgumentParser
import TLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct TLSBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls-bench", abstract: "Benchmark the TLS module in memory.", shouldDisplay: false)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case all, handshake, resume, record, memory }

    @Option(name: .long, help: "What to measure.") var mode: Mode = .all
    @Option(name: .long, help: "A folder with ca.crt, server.crt, server.key (default: made in a temporary folder).")
    var dir: String?
    @Option(name: .long, help: "Handshakes per measurement.") var handshakes = 2000
    @Option(name: .long, help: "Record round trips per size.") var records = 200_000
    @Option(name: .long, help: "Record sizes, comma-separated.") var sizes = "100,16384"
    @Option(name: .long, help: "TLS 1.3 session tickets the server sends.") var tickets = 1
    @Flag(name: .long, help: "SSL_MODE_RELEASE_BUFFERS: OpenSSL frees its record buffers after each record.") var releaseBuffers = false
    @Flag(name: .long, help: "TLS 1.2 instead of 1.3.") var tls12 = false
    @Flag(name: .long, help: "memory: call releaseIdleBuffers() on each idle connection.") var releaseIdle = false

    func run() throws {
        let folder = try dir ?? makeCertificates()
        var options = TLSOptions()
        options.sessionTickets = tickets
        options.releaseBuffers = releaseBuffers
        if tls12 { options.maximumVersion = .tls12 }
        let server = try TLSServerContext(
            certificates: [TLSCertificateFiles(certificate: folder + "/server.crt", key: folder + "/server.key")], options: options)
        let client = try TLSClientContext(caFile: folder + "/ca.crt", options: options)
        let buffer = TLSPlaintextBuffer()
        print("tls-bench: \(tls12 ? "TLS 1.2" : "TLS 1.3"), ECDSA P-256, tickets=\(tickets), release_buffers=\(releaseBuffers)")

        if mode == .all || mode == .handshake {
            let (s, c) = handshakeCost(server, client, buffer, count: handshakes, resume: false)
            print("full handshake: server \(fmt(s)) µs CPU, client \(fmt(c)) µs CPU (\(handshakes) handshakes)")
        }
        if mode == .all || mode == .resume {
            let (s, c) = handshakeCost(server, client, buffer, count: handshakes, resume: true)
            print("resumed handshake: server \(fmt(s)) µs CPU, client \(fmt(c)) µs CPU")
        }
        if mode == .all || mode == .memory {
            let bytes = idleMemory(server, client, buffer, count: handshakes)
            print("idle pair after a handshake (server + client connection): \(bytes / 1024) KiB resident (\(handshakes) pairs)")
        }
        if mode == .all || mode == .record {
            for size in sizes.split(separator: ",").compactMap({ Int($0) }) {
                let us = recordCost(server, client, buffer, size: size, count: size > 4096 ? max(1, records / 10) : records)
                let mbps = Double(size) * 2 / us
                print("record round trip \(size) B: \(fmt(us)) µs CPU (\(fmt(us / 2)) per record, encrypt + decrypt), \(fmt(mbps)) MB/s")
            }
        }
    }

    /// Server and client CPU µs per handshake, each side's calls timed separately.
    private func handshakeCost(_ server: TLSServerContext, _ client: TLSClientContext, _ buffer: TLSPlaintextBuffer,
                               count: Int, resume: Bool) -> (Double, Double) {
        var serverNs: UInt64 = 0
        var clientNs: UInt64 = 0
        var resumed = 0
        for i in 0 ... count {
            let c = TLSConnection(client: client, serverName: "localhost", sessionKey: resume ? "bench" : nil, plaintextBuffer: buffer)
            let s = TLSConnection(server: server, plaintextBuffer: buffer)
            var t = threadNanoseconds()
            var done = 0
            var toServer = Array(c.produce())
            c.outputSent()
            clientNs += threadNanoseconds() - t
            var rounds = 0
            while !toServer.isEmpty, rounds < 20 {
                rounds += 1
                t = threadNanoseconds()
                let (se, toClient) = serverStep(s, toServer)
                serverNs += threadNanoseconds() - t
                if let h = se.handshake {
                    done += 1
                    if h.resumed { resumed += 1 }
                }
                t = threadNanoseconds()
                let ce = toClient.withUnsafeBytes { c.receive($0) }
                if ce.handshake != nil { done += 1 }
                // The ticket arrives after the client's handshake; a resumed run needs it read.
                toServer = Array(c.produce())
                c.outputSent()
                clientNs += threadNanoseconds() - t
                if se.error != nil || ce.error != nil { fatalError("handshake failed: \(se.error ?? ce.error!)") }
            }
            precondition(done == 2, "handshake incomplete")
            if i == 0 { serverNs = 0; clientNs = 0; resumed = 0 }  // the first one warms up (and seeds the session)
        }
        precondition(resumed == (resume ? count : 0), "\(resumed) of \(count) handshakes resumed")
        return (Double(serverNs) / Double(count) / 1000, Double(clientNs) / Double(count) / 1000)
    }

    /// Resident bytes per established, idle pair (server and client side together), from
    /// /proc/self/statm before and after `count` handshakes whose connections are kept.
    private func idleMemory(_ server: TLSServerContext, _ client: TLSClientContext, _ buffer: TLSPlaintextBuffer,
                            count: Int) -> Int {
        var kept: [TLSConnection] = []
        func pair() {
            let c = TLSConnection(client: client, serverName: "localhost", plaintextBuffer: buffer)
            let s = TLSConnection(server: server, plaintextBuffer: buffer)
            var toServer = Array(c.produce())
            c.outputSent()
            while !toServer.isEmpty {
                let (_, toClient) = serverStep(s, toServer)
                _ = toClient.withUnsafeBytes { c.receive($0) }
                toServer = Array(c.produce())
                c.outputSent()
            }
            if releaseIdle { s.releaseIdleBuffers(); c.releaseIdleBuffers() }
            kept += [s, c]
        }
        for _ in 0 ..< 100 { pair() }  // warm the allocator
        kept = []
        let before = residentBytes()
        for _ in 0 ..< count { pair() }
        let after = residentBytes()
        precondition(kept.count == 2 * count)
        return (after - before) / count
    }

    private func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        withUnsafeMutablePointer(to: &size) { sp in
            withUnsafeMutablePointer(to: &resident) { rp in
                var line = [CChar](repeating: 0, count: 128)
                guard fgets(&line, 128, f) != nil else { return }
                let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                let parts = text.split(separator: " ")
                if parts.count > 1 { sp.pointee = Int(parts[0]) ?? 0; rp.pointee = Int(parts[1]) ?? 0 }
            }
        }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The server's share of a handshake step, apart so that callgrind can count it alone
    /// (`--toggle-collect='*serverStep*'`).
    @inline(never)
    private func serverStep(_ s: TLSConnection, _ input: [UInt8]) -> (TLSEvents, [UInt8]) {
        let events = input.withUnsafeBytes { s.receive($0) }
        let output = Array(s.produce())
        s.outputSent()
        return (events, output)
    }

    /// CPU µs per round trip of `size` bytes each way on an established connection.
    private func recordCost(_ server: TLSServerContext, _ client: TLSClientContext, _ buffer: TLSPlaintextBuffer,
                            size: Int, count: Int) -> Double {
        let c = TLSConnection(client: client, serverName: "localhost", plaintextBuffer: buffer)
        let s = TLSConnection(server: server, plaintextBuffer: buffer)
        var toServer = Array(c.produce())
        c.outputSent()
        while !toServer.isEmpty {
            _ = toServer.withUnsafeBytes { s.receive($0) }
            let back = s.produce()
            let toClient = Array(back)
            s.outputSent()
            _ = toClient.withUnsafeBytes { c.receive($0) }
            toServer = Array(c.produce())
            c.outputSent()
        }
        let payload = [UInt8](repeating: 0x61, count: size)
        let start = threadNanoseconds()
        var received = 0
        for _ in 0 ..< count {
            // The socket would write from the lent buffers; here the other side reads from them.
            payload.withUnsafeBytes { c.write($0) }
            let out = c.produce()
            received += s.receive(out).plaintext.count
            c.outputSent()
            payload.withUnsafeBytes { s.write($0) }
            let back = s.produce()
            received += c.receive(back).plaintext.count
            s.outputSent()
        }
        let ns = threadNanoseconds() - start
        precondition(received == 2 * size * count, "lost bytes")
        return Double(ns) / Double(count) / 1000
    }

    private func threadNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func fmt(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return "\(r)"
    }

    private func makeCertificates() throws -> String {
        var template = Array("/tmp/trestle-tls-bench.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ValidationError("mkdtemp failed") }
        let dir = String(cString: p)
        let script = """
            cd '\(dir)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
              -days 30 -subj '/CN=Bench CA' && \
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
              -subj /CN=localhost && \
            printf 'subjectAltName=DNS:localhost\\n' > ext && \
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile ext -out server.crt
            """
        var pid: pid_t = 0
        let args = ["/bin/sh", "-c", "{ " + script + "; } > '\(dir)/make.log' 2>&1"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { throw ValidationError("cannot run openssl") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { throw ValidationError("openssl failed: see \(dir)/make.log") }
        return dir
    }
}

import Glibc
import TLS
import UVLoop

/// The demo gRPC service `trestle.demo.v1.Echo` (routes/demo.proto), served by the project's own
/// HTTP/2 code: a fast upstream for tests and benchmarks.
///
/// - `Echo` (unary): the request's message and payload back (a request with only those fields is
///   echoed byte for byte: EchoRequest and EchoResponse share those field numbers); `response_size`
///   sets the reply's payload size, `delay_ms` delays the reply, `status` answers that status
///   instead (with google.rpc details when `with_details`).
/// - `Expand` (server streaming): `count` replies, `index` 0…count-1, each after `delay_ms`,
///   then `status` (OK by default).
/// - `Collect` (client streaming): one reply once the stream ends: the messages joined by spaces,
///   `index` = how many there were.
/// - `Chat` (bidi): every request byte echoed as it arrives, with back-pressure (full duplex).
///
/// With a certificate and key it speaks gRPC over TLS (TLS 1.2/1.3, ALPN `h2` only, the same
/// `TLSOptions` as a Trestle listener): an upstream for a cluster with `tls`.
public enum DemoUpstream {
    /// `trestle demo-upstream`: listens on `host:port` with `workers` loops (SO_REUSEPORT) and
    /// runs the first on the calling thread until the process exits; `tls`: serve TLS with this
    /// certificate chain and key (PEM). Returns 1, having said why on standard error, when it
    /// cannot start.
    public static func run(host: String, port: UInt16, workers: Int, tls: TLSCertificateFiles? = nil) -> Int32 {
        guard let addr = ResolvedAddress(ip: host, port: port) else {
            printStderr("trestle demo-upstream: \(host) is not an IP address")
            return 1
        }
        var context: TLSServerContext?
        if let tls {
            do {
                context = try TLSServerContext(certificates: [tls], alpn: [.h2])
            } catch {
                printStderr("trestle demo-upstream: \(error.message)")
                return 1
            }
        }
        signal(SIGPIPE, SIG_IGN)
        var servers: [DemoServer] = []
        do {
            for _ in 0 ..< max(1, workers) { servers.append(try DemoServer(address: addr, tls: context)) }
        } catch {
            printStderr("trestle demo-upstream: cannot listen on \(host):\(port): \(error)")
            return 1
        }
        for s in servers.dropFirst() { s.start() }
        printStderr("trestle demo-upstream: ready listen=\(addr) workers=\(servers.count)\(context == nil ? "" : " tls=h2")")
        servers[0].runHere()
        return 0
    }

    /// Starts the service on its own threads (for `trestle demo`, beside the gateway) and returns
    /// once it listens; the threads run until the process exits.
    public static func startInBackground(host: String, port: UInt16, workers: Int) throws(DemoError) {
        guard let addr = ResolvedAddress(ip: host, port: port) else {
            throw DemoError("the demo service needs an IP address, not \(host)")
        }
        signal(SIGPIPE, SIG_IGN)
        do {
            for _ in 0 ..< max(1, workers) { try DemoServer(address: addr).start() }
        } catch {
            throw DemoError("cannot listen on \(host):\(port) for the demo service: \(error)")
        }
    }
}

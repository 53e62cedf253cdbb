import Glibc
import TLS
import UVLoop

/// One loop of the demo service: its listening socket (SO_REUSEPORT, so several servers share
/// the port) and its connections. Runs on the thread that calls `runHere`, or on its own thread
/// after `start`, until the process exits; nothing stops it.
final class DemoServer {
    let loop: Loop
    let flushQueue: FlushQueue
    private var listener: TCPListener!
    private var thread = pthread_t()
    /// The open connections, which own themselves through this table: a connection removes
    /// itself when it closes.
    var connections: [ObjectIdentifier: DemoConnection] = [:]
    /// Set: every connection speaks TLS with this context (ALPN h2).
    let tls: TLSServerContext?
    /// Where this loop's TLS connections decrypt into (one per loop, as in the gateway).
    let tlsPlaintext = TLSPlaintextBuffer()

    init(address: ResolvedAddress, tls: TLSServerContext? = nil) throws {
        loop = try Loop()
        flushQueue = FlushQueue(loop: loop)
        self.tls = tls
        listener = try TCPListener(loop: loop, address: address, reusePort: true) { [unowned self] l in
            guard let tcp = l.accept() else { return }
            let c = DemoConnection(server: self, tcp: tcp, tls: self.tls)
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    /// Runs the loop on a new thread, which keeps the server alive.
    func start() {
        thread = startThread { self.runHere() }
    }

    func runHere() { loop.run() }
}

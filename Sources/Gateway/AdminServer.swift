import Channel
import HTTP2
import UVLoop

/// The admin endpoint on the main thread's loop: `GET /healthz` (the process is up),
/// `GET /readyz` (accepting calls; 503 while draining) and `GET /metrics` (Prometheus text,
/// the workers' counters summed when scraped). One request per connection, answered with
/// `Connection: close`; anything else is 404/405, a malformed or oversized request 400.
final class AdminServer {
    private let loop: Loop
    private var listener: TCPListener?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    let workers: [Worker]
    var draining = false

    init(loop: Loop, address: ResolvedAddress, workers: [Worker]) throws {
        self.loop = loop
        self.workers = workers
        listener = try TCPListener(loop: loop, address: address, reusePort: false) { [unowned self] l in
            guard let tcp = l.accept() else { return }
            let c = AdminConnection(server: self, tcp: tcp)
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    func closed(_ c: AdminConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
    }

    func close() {
        listener?.close()
        listener = nil
        for c in Array(connections.values) { c.close() }
    }

    /// The response to one request line.
    func respond(method: Substring, path: Substring) -> (status: String, type: String, body: String) {
        guard method == "GET" || method == "HEAD" else {
            return ("405 Method Not Allowed", "text/plain", "only GET is served here\n")
        }
        switch path.split(separator: "?", maxSplits: 1).first ?? "" {
        case "/healthz":
            return ("200 OK", "text/plain", "ok\n")
        case "/readyz":
            return draining ? ("503 Service Unavailable", "text/plain", "draining\n") : ("200 OK", "text/plain", "ready\n")
        case "/metrics":
            return ("200 OK", "text/plain; version=0.0.4", metrics())
        default:
            return ("404 Not Found", "text/plain", "not found: the admin endpoint serves /healthz, /readyz and /metrics\n")
        }
    }

    /// Prometheus text exposition of the workers' counters, summed.
    func metrics() -> String {
        var byStatus = [UInt64](repeating: 0, count: 18)
        var started: UInt64 = 0, failures: UInt64 = 0
        var active: Int64 = 0, down: Int64 = 0, up: Int64 = 0
        for w in workers {
            let c = w.counters
            for i in 0 ..< 18 { byStatus[i] &+= c.byStatus[i].load(ordering: .relaxed) }
            started &+= c.callsStarted.load(ordering: .relaxed)
            failures &+= c.upstreamConnectFailures.load(ordering: .relaxed)
            active &+= c.callsActive.load(ordering: .relaxed)
            down &+= c.downstreamConnections.load(ordering: .relaxed)
            up &+= c.upstreamConnections.load(ordering: .relaxed)
        }
        var out = """
        # HELP trestle_calls_started_total Calls accepted from clients.
        # TYPE trestle_calls_started_total counter
        trestle_calls_started_total \(started)
        # HELP trestle_calls_total Calls finished, by final gRPC status (CANCELLED includes client resets).
        # TYPE trestle_calls_total counter

        """
        for code in GRPCStatusCode.allCases {
            out += "trestle_calls_total{code=\"\(code.name)\"} \(byStatus[Int(code.rawValue)])\n"
        }
        out += "trestle_calls_total{code=\"UNKNOWN_CODE\"} \(byStatus[17])\n"
        out += """
        # HELP trestle_calls_active Calls in flight.
        # TYPE trestle_calls_active gauge
        trestle_calls_active \(active)
        # HELP trestle_downstream_connections Client connections open.
        # TYPE trestle_downstream_connections gauge
        trestle_downstream_connections \(down)
        # HELP trestle_upstream_connections Upstream HTTP/2 connections open.
        # TYPE trestle_upstream_connections gauge
        trestle_upstream_connections \(up)
        # HELP trestle_upstream_connect_failures_total Failed or timed-out upstream connects.
        # TYPE trestle_upstream_connect_failures_total counter
        trestle_upstream_connect_failures_total \(failures)
        # HELP trestle_workers Worker threads.
        # TYPE trestle_workers gauge
        trestle_workers \(workers.count)

        """
        return out
    }
}

final class AdminConnection: TCPStreamDelegate {
    unowned(unsafe) let server: AdminServer
    private let tcp: TCPStream
    private var request: [UInt8] = []
    private let out = OutputBuffer(capacity: 4096)
    private var done = false
    private static let maxRequest = 8192

    init(server: AdminServer, tcp: TCPStream) {
        self.server = server
        self.tcp = tcp
        tcp.delegate = self
        tcp.startReading()
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard !done else { return }
        request.append(contentsOf: bytes.prefix(AdminConnection.maxRequest - request.count + 1))
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        if request.count >= 4, (0 ... request.count - 4).contains(where: { request[$0 ..< $0 + 4].elementsEqual(end) }) {
            // Bytes, not Characters: "\r\n" is one Character in Swift.
            let lineBytes = request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
            let line = String(decoding: lineBytes, as: UTF8.self)
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            if parts.count == 3, parts[2].hasPrefix("HTTP/1.") {
                let r = server.respond(method: parts[0], path: parts[1])
                send(r.status, r.type, parts[0] == "HEAD" ? nil : r.body, length: r.body.utf8.count)
            } else {
                send("400 Bad Request", "text/plain", "malformed request line\n", length: 23)
            }
        } else if request.count > AdminConnection.maxRequest {
            send("400 Bad Request", "text/plain", "request header too large\n", length: 25)
        }
    }

    private func send(_ status: String, _ type: String, _ body: String?, length: Int) {
        done = true
        tcp.stopReading()
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(length)\r\nConnection: close\r\n\r\n"
        Array(head.utf8).withUnsafeBytes { out.append($0) }
        if let body { Array(body.utf8).withUnsafeBytes { out.append($0) } }
        if tcp.write(out.bytes) { close() }  // else closed when the write completes
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) { close() }

    func close() {
        tcp.close()
        server.closed(self)
    }
}

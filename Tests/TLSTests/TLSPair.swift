import TLS
import Testing

/// What one side of a pair reported, accumulated over `receive` calls.
final class SideLog {
    var handshake: TLSHandshake?
    var handshakeEvents = 0
    var plaintext: [UInt8] = []
    var closed = false
    var errors: [TLSError] = []
    /// Ciphertext this side produced after its handshake completed, per `produce` call.
    var producedAfterHandshake: [[UInt8]] = []

    func take(_ events: TLSEvents) {
        if let h = events.handshake {
            handshake = h
            handshakeEvents += 1
        }
        plaintext += events.plaintext
        if events.closed { closed = true }
        if let e = events.error { errors.append(e) }
    }
}

/// A server and a client `TLSConnection` joined in memory: `pump` moves each one's output into
/// the other until neither has anything to say. `chunk` splits every delivery into pieces of at
/// most that many bytes (1: a record split at every byte).
final class TLSPair {
    let server: TLSConnection
    let client: TLSConnection
    let serverLog = SideLog()
    let clientLog = SideLog()

    init(server: TLSServerContext, client: TLSClientContext, serverName: String? = "localhost",
         sessionKey: String? = nil, buffer: TLSPlaintextBuffer = TLSPlaintextBuffer()) {
        self.server = TLSConnection(server: server, plaintextBuffer: buffer)
        self.client = TLSConnection(client: client, serverName: serverName, sessionKey: sessionKey, plaintextBuffer: buffer)
    }

    @discardableResult
    func pump(chunk: Int = Int.max, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        var moved = 0
        for _ in 0 ..< 10_000 {
            var progress = false
            for (from, fromLog, to, toLog) in [(client, clientLog, server, serverLog), (server, serverLog, client, clientLog)] {
                let out = from.produce()
                let bytes = Array(out)
                from.outputSent()
                guard !bytes.isEmpty else { continue }
                if fromLog.handshake != nil { fromLog.producedAfterHandshake.append(bytes) }
                progress = true
                moved += bytes.count
                var offset = 0
                while offset < bytes.count {
                    let n = min(chunk, bytes.count - offset)
                    bytes[offset ..< offset + n].withUnsafeBytes { toLog.take(to.receive($0)) }
                    offset += n
                }
            }
            if !progress { return moved }
        }
        Issue.record("the pair never went idle", sourceLocation: sourceLocation)
        return moved
    }

    /// Pumps, and expects both handshakes to complete without errors.
    func handshake(chunk: Int = Int.max, sourceLocation: SourceLocation = #_sourceLocation) {
        pump(chunk: chunk, sourceLocation: sourceLocation)
        #expect(serverLog.errors.isEmpty, "server: \(serverLog.errors)", sourceLocation: sourceLocation)
        #expect(clientLog.errors.isEmpty, "client: \(clientLog.errors)", sourceLocation: sourceLocation)
        #expect(serverLog.handshakeEvents == 1, sourceLocation: sourceLocation)
        #expect(clientLog.handshakeEvents == 1, sourceLocation: sourceLocation)
    }
}

func write(_ connection: TLSConnection, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { connection.write($0) }
}

func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

/// The TLS records in `bytes` (which must be whole records): (content type, length) each.
func records(_ bytes: [UInt8]) -> [(type: UInt8, length: Int)] {
    var out: [(UInt8, Int)] = []
    var i = 0
    while i + 5 <= bytes.count {
        let length = Int(bytes[i + 3]) << 8 | Int(bytes[i + 4])
        out.append((bytes[i], length))
        i += 5 + length
    }
    #expect(i == bytes.count, "not whole records")
    return out
}

extension TestPKI {
    func serverContext(_ names: [String] = ["server"], clientCertificates: TLSClientCertificatePolicy = .none,
                       alpn: [TLSApplicationProtocol] = [.h2, .http11], options: TLSOptions = TLSOptions()) throws -> TLSServerContext {
        try TLSServerContext(certificates: names.map { pair($0) }, clientCertificates: clientCertificates,
                             alpn: alpn, options: options)
    }

    func clientContext(ca: String? = nil, certificate: String? = nil, alpn: [TLSApplicationProtocol] = [.h2],
                       insecure: Bool = false, options: TLSOptions = TLSOptions()) throws -> TLSClientContext {
        try TLSClientContext(caFile: ca ?? self.ca, certificate: certificate.map { pair($0) },
                             insecureSkipVerify: insecure, alpn: alpn, options: options)
    }
}

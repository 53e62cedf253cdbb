import TLS
import Testing

/// A `TLSConnection` server and client joined in memory: handshake, ALPN, SNI, records,
/// coalescing, close_notify, resumption.
@Suite struct TLSConnectionTests {
    let pki = TestPKI.shared

    @Test func handshakeNegotiatesH2AndCarriesDataBothWays() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake()
        let s = try #require(pair.serverLog.handshake)
        let c = try #require(pair.clientLog.handshake)
        #expect(s.alpn == .h2 && c.alpn == .h2)
        #expect(s.version == "TLSv1.3" && c.version == "TLSv1.3")
        #expect(s.cipher == "TLS_AES_128_GCM_SHA256")
        #expect(s.serverName == "localhost")
        #expect(!s.resumed)
        #expect(s.peerCertificate == nil)  // no client CA: none asked for
        let peer = try #require(c.peerCertificate)
        #expect(peer.subject == "CN=localhost")
        #expect(peer.dnsNames == ["localhost"] && peer.ipAddresses == ["127.0.0.1"])
        #expect(peer.issuer == "CN=Trestle Test CA")

        write(pair.client, Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        pair.pump()
        #expect(pair.serverLog.plaintext == Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        let big = pattern(200_000, seed: 7)
        write(pair.server, big)
        pair.pump()
        #expect(pair.clientLog.plaintext == big)
    }

    @Test func clientWritesBeforeTheHandshakeArriveAfterIt() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        let early = pattern(40_000, seed: 3)  // two whole records and a tail, held until the handshake ends
        write(pair.client, early)
        pair.handshake()
        #expect(pair.serverLog.plaintext == early)
    }

    @Test(arguments: [
        ([TLSApplicationProtocol.h2, .http11], TLSApplicationProtocol?.some(.h2)),
        ([.http11], .some(.http11)),
        ([.http11, .h2], .some(.h2)),  // the listener's preference wins
        ([], nil),  // offers none: gets none, the listener sniffs
    ])
    func alpnSelection(offered: [TLSApplicationProtocol], selected: TLSApplicationProtocol?) throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext(alpn: offered))
        pair.handshake()
        #expect(pair.serverLog.handshake?.alpn == selected)
        #expect(pair.clientLog.handshake?.alpn == selected)
    }

    @Test func alpnWithNothingInCommonFailsWithTheReason() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext(alpn: [TLSApplicationProtocol("spdy/3.1")]))
        pair.pump()
        let s = try #require(pair.serverLog.errors.first)
        #expect(s.reason == .noSharedALPN && !s.fromPeer)
        #expect(s.message == "no shared ALPN protocol: the client offers \"spdy/3.1\", this listener speaks h2, http/1.1")
        let c = try #require(pair.clientLog.errors.first)
        #expect(c.reason == .noSharedALPN && c.fromPeer)
        #expect(c.message == "the server supports none of the offered ALPN protocols (alert 120)")
    }

    @Test func clientRequiringH2RefusesAServerThatSelectsNothing() throws {
        let pair = TLSPair(server: try pki.serverContext(alpn: []), client: try pki.clientContext())
        pair.pump()
        let c = try #require(pair.clientLog.errors.first)
        #expect(c.reason == .noSharedALPN && !c.fromPeer)
        #expect(c.message == "the server selected no ALPN protocol; required: h2")
        #expect(pair.serverLog.handshake?.alpn == nil)
    }

    @Test(arguments: [
        ("other.test", "CN=other.test"),
        ("OTHER.test", "CN=other.test"),
        ("a.wild.test", "CN=wild"),
        ("localhost", "CN=localhost"),
    ])
    func sniPicksTheCertificate(name: String, subject: String) throws {
        let server = try pki.serverContext(["server", "other", "wildcard"])
        let pair = TLSPair(server: server, client: try pki.clientContext(), serverName: name)
        pair.handshake()
        #expect(pair.clientLog.handshake?.peerCertificate?.subject == subject)
        #expect(pair.serverLog.handshake?.serverName == name)
        #expect(pair.serverLog.handshake?.alpn == .h2)  // ALPN still chosen after the switch
    }

    @Test func unknownOrAbsentSNIGetsTheFirstCertificate() throws {
        let server = try pki.serverContext(["server", "other", "wildcard"])
        // a.b.wild.test is two labels below the wildcard: no match (RFC 6125).
        for name in ["unknown.test", "a.b.wild.test"] {
            let pair = TLSPair(server: server, client: try pki.clientContext(insecure: true), serverName: name)
            pair.handshake()
            #expect(pair.clientLog.handshake?.peerCertificate?.subject == "CN=localhost")
        }
        // An IP address: no SNI is sent, the certificate is checked against its IP SAN.
        let pair = TLSPair(server: server, client: try pki.clientContext(), serverName: "127.0.0.1")
        pair.handshake()
        #expect(pair.serverLog.handshake?.serverName == nil)
        #expect(pair.clientLog.handshake?.peerCertificate?.subject == "CN=localhost")
    }

    @Test func recordsSplitAtEveryByteStillWork() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake(chunk: 1)
        let request = pattern(20_000, seed: 1)
        write(pair.client, request)
        pair.pump(chunk: 1)
        #expect(pair.serverLog.plaintext == request)
        let reply = pattern(3_000, seed: 2)
        write(pair.server, reply)
        pair.pump(chunk: 1)
        #expect(pair.clientLog.plaintext == reply)
        // And odd splits that straddle record headers.
        for chunk in [2, 3, 5, 7, 4096, 16_405, 16_407] {
            let before = pair.serverLog.plaintext.count
            let more = pattern(50_000, seed: UInt8(chunk % 251))
            write(pair.client, more)
            pair.pump(chunk: chunk)
            #expect(Array(pair.serverLog.plaintext[before...]) == more, "chunk \(chunk)")
        }
    }

    @Test func manySmallWritesBecomeFewRecords() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake()
        pair.clientLog.producedAfterHandshake = []
        // 1000 writes of 9 bytes (HTTP/2 frame headers, say): one record.
        for _ in 0 ..< 1000 { write(pair.client, pattern(9)) }
        pair.pump()
        var produced = pair.clientLog.producedAfterHandshake
        #expect(produced.count == 1)
        #expect(records(produced[0]).count == 1)
        #expect(pair.serverLog.plaintext.count == 9000)

        // 100 writes of 1000 bytes: 100,000 bytes in ceil(100000 / 16384) = 7 records.
        pair.clientLog.producedAfterHandshake = []
        for i in 0 ..< 100 { write(pair.client, pattern(1000, seed: UInt8(i))) }
        pair.pump()
        produced = pair.clientLog.producedAfterHandshake
        let recs = records(produced.flatMap { $0 })
        #expect(recs.count == 7)
        #expect(recs.allSatisfy { $0.type == 23 })
        #expect(recs.dropLast().allSatisfy { $0.length == 16384 + 17 })  // + content type + GCM tag
        #expect(pair.serverLog.plaintext.count == 109_000)
    }

    @Test func outputStaysUnchangedWhileLent() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake()
        write(pair.client, pattern(100))
        let lent = pair.client.produce()
        let copy = Array(lent)
        // More output while the first is "on the socket": it collects elsewhere.
        write(pair.client, pattern(50_000))
        pair.client.close()
        #expect(Array(lent) == copy)
        #expect(pair.client.bufferedOutputBytes > 50_000)
        copy.withUnsafeBytes { pair.serverLog.take(pair.server.receive($0)) }
        pair.client.outputSent()
        pair.pump()
        #expect(pair.serverLog.plaintext == pattern(100) + pattern(50_000))
        #expect(pair.serverLog.closed)
        #expect(pair.client.bufferedOutputBytes == 0)
    }

    @Test func closeNotifyEndsTheStream() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake()
        write(pair.server, Array("last words".utf8))
        pair.server.close()
        write(pair.server, Array("dropped".utf8))  // after close: dropped
        pair.pump()
        #expect(pair.clientLog.plaintext == Array("last words".utf8))
        #expect(pair.clientLog.closed)
        #expect(pair.client.receivedCloseNotify)
        #expect(pair.clientLog.errors.isEmpty)
    }

    @Test func plaintextHTTPToATLSListenerIsNamed() throws {
        let server = TLSConnection(server: try pki.serverContext(), plaintextBuffer: TLSPlaintextBuffer())
        let events = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { server.receive($0) }
        #expect(events.error == TLSError(.notTLS, "the client sent plaintext HTTP to a TLS port"))
        // Reported once; nothing more after.
        let again = Array("more".utf8).withUnsafeBytes { server.receive($0) }
        #expect(again.error == nil && again.plaintext.isEmpty)

        let h2c = TLSConnection(server: try pki.serverContext(), plaintextBuffer: TLSPlaintextBuffer())
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8).withUnsafeBytes { h2c.receive($0) }
        #expect(preface.error?.reason == .notTLS)
    }

    @Test func tls12WorksWithTheDefaultCipherList() throws {
        var options = TLSOptions()
        options.maximumVersion = .tls12
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext(options: options))
        pair.handshake()
        #expect(pair.serverLog.handshake?.version == "TLSv1.2")
        #expect(pair.serverLog.handshake?.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(pair.serverLog.handshake?.alpn == .h2)
        write(pair.client, pattern(70_000))
        pair.pump()
        #expect(pair.serverLog.plaintext == pattern(70_000))
    }

    @Test func noSharedVersionIsNamed() throws {
        var old = TLSOptions()
        old.maximumVersion = .tls12
        var new = TLSOptions()
        new.minimumVersion = .tls13
        let pair = TLSPair(server: try pki.serverContext(options: new), client: try pki.clientContext(options: old))
        pair.pump()
        #expect(pair.serverLog.errors.first?.reason == .noSharedParameters)
        #expect(pair.clientLog.errors.first?.reason == .noSharedParameters)
        #expect(pair.clientLog.errors.first?.fromPeer == true)
    }

    @Test(arguments: [TLSVersion.tls13, .tls12])
    func reconnectResumesTheSession(version: TLSVersion) throws {
        var options = TLSOptions()
        options.maximumVersion = version
        let server = try pki.serverContext()
        let client = try pki.clientContext(options: options)
        let first = TLSPair(server: server, client: client, sessionKey: "echo|127.0.0.1:50051")
        first.handshake()
        write(first.client, pattern(10))  // a TLS 1.3 ticket arrives with the server's first records
        first.pump()
        #expect(first.clientLog.handshake?.resumed == false)
        #expect(client.cachedSessionCount == 1)

        let second = TLSPair(server: server, client: client, sessionKey: "echo|127.0.0.1:50051")
        second.handshake()
        #expect(second.clientLog.handshake?.resumed == true)
        #expect(second.serverLog.handshake?.resumed == true)
        // A resumed connection still knows whom it talks to, and still negotiates ALPN.
        #expect(second.clientLog.handshake?.peerCertificate?.subject == "CN=localhost")
        #expect(second.clientLog.handshake?.alpn == .h2)

        // Another peer key: no session.
        let third = TLSPair(server: server, client: client, sessionKey: "other|10.0.0.1:1")
        third.handshake()
        #expect(third.clientLog.handshake?.resumed == false)
    }

    /// Regression: a connection freed without close_notify (a reset socket) made OpenSSL mark its
    /// session not resumable, so no reconnect ever resumed.
    @Test(arguments: [TLSVersion.tls13, .tls12])
    func sessionSurvivesAConnectionDroppedWithoutClose(version: TLSVersion) throws {
        var options = TLSOptions()
        options.maximumVersion = version
        let server = try pki.serverContext()
        let client = try pki.clientContext(options: options)
        do {
            let first = TLSPair(server: server, client: client, sessionKey: "k")
            first.handshake()
        }  // both connections freed here, no close()
        let second = TLSPair(server: server, client: client, sessionKey: "k")
        second.handshake()
        #expect(second.clientLog.handshake?.resumed == true)
    }

    @Test func sharedPlaintextBufferServesManyConnections() throws {
        let buffer = TLSPlaintextBuffer()
        let server = try pki.serverContext()
        let client = try pki.clientContext()
        let pairs = (0 ..< 4).map { _ in TLSPair(server: server, client: client, buffer: buffer) }
        for p in pairs { p.handshake() }
        for (i, p) in pairs.enumerated() { write(p.client, pattern(30_000, seed: UInt8(i))) }
        for p in pairs { p.pump() }
        for (i, p) in pairs.enumerated() { #expect(p.serverLog.plaintext == pattern(30_000, seed: UInt8(i))) }
    }

    /// The idle sweep's call: buffers given back between records, and while half a record waits
    /// (kept: OpenSSL holds it), with records flowing both ways after.
    @Test func releaseIdleBuffersKeepsAPartialRecordAndTheConnectionWorks() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext())
        pair.handshake()
        pair.server.releaseIdleBuffers()
        pair.client.releaseIdleBuffers()
        write(pair.client, pattern(40_000, seed: 3))
        pair.pump()
        #expect(pair.serverLog.plaintext == pattern(40_000, seed: 3))

        let request = pattern(5_000, seed: 4)
        write(pair.client, request)
        let record = Array(pair.client.produce())
        pair.client.outputSent()
        let before = pair.serverLog.plaintext.count
        record[..<2_000].withUnsafeBytes { pair.serverLog.take(pair.server.receive($0)) }
        pair.server.releaseIdleBuffers()  // 2,000 bytes of a record are held: kept
        pair.client.releaseIdleBuffers()
        record[2_000...].withUnsafeBytes { pair.serverLog.take(pair.server.receive($0)) }
        #expect(Array(pair.serverLog.plaintext[before...]) == request)

        pair.server.releaseIdleBuffers()
        let reply = pattern(70_000, seed: 5)
        write(pair.server, reply)
        pair.pump()
        #expect(pair.clientLog.plaintext == reply)
        #expect(pair.serverLog.errors.isEmpty && pair.clientLog.errors.isEmpty)
    }
}

import TLS
import Testing

/// Loading contexts from files (errors name the file) and swapping them for reload.
@Suite struct TLSContextTests {
    let pki = TestPKI.shared

    @Test func loadErrorsNameTheFile() throws {
        func error(_ files: TLSCertificateFiles) -> String {
            do {
                _ = try TLSServerContext(certificates: [files])
                return "loaded"
            } catch {
                return error.message
            }
        }
        let missing = pki.path("missing.crt")
        #expect(error(TLSCertificateFiles(certificate: missing, key: pki.path("server.key")))
            == "cannot read \(missing): No such file or directory")
        #expect(error(TLSCertificateFiles(certificate: pki.path("garbage.pem"), key: pki.path("server.key")))
            == "certificate \(pki.path("garbage.pem")) holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")
        #expect(error(TLSCertificateFiles(certificate: pki.path("server.crt"), key: pki.path("garbage.pem")))
            == "key \(pki.path("garbage.pem")) holds no PEM private key (\"-----BEGIN PRIVATE KEY-----\")")
        #expect(error(pki.pair("mismatched"))
            == "key \(pki.path("mismatched.key")) does not match certificate \(pki.path("mismatched.crt")) (CN=localhost)")
        // A key file given as the certificate: no certificate in it.
        #expect(error(TLSCertificateFiles(certificate: pki.path("server.key"), key: pki.path("server.key")))
            == "certificate \(pki.path("server.key")) holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")
        do {
            _ = try TLSServerContext(certificates: [pki.server], clientCertificates: .required(caFile: missing))
            Issue.record("loaded")
        } catch {
            #expect(error.file == missing)
        }
    }

    @Test func encryptedKeysAreRefusedWithTheReason() throws {
        let dir = makeTempDirectory("trestle-tls-key")
        #expect(shell("openssl pkey -in '\(pki.path("server.key"))' -aes128 -passout pass:x -out '\(dir)/enc.key' 2>/dev/null") == 0)
        do {
            _ = try TLSServerContext(certificates: [TLSCertificateFiles(certificate: pki.path("server.crt"), key: dir + "/enc.key")])
            Issue.record("loaded")
        } catch {
            #expect(error.message == "key \(dir)/enc.key is encrypted: passphrases are not supported (openssl pkey -in KEY -out PLAIN)")
        }
    }

    @Test func contextReportsItsCertificates() throws {
        let context = try pki.serverContext(["server", "expired", "soon"])
        #expect(context.certificateSummaries[0].hasPrefix("\(pki.path("server.crt")): CN=localhost [localhost] EC P-256, expires "))
        #expect(context.warnings.count == 2)
        #expect(context.warnings[0].hasPrefix("certificate \(pki.path("expired.crt")) (\"CN=localhost\") expired on 2020-02-01 00:00 UTC ("))
        #expect(context.warnings[1].hasPrefix("certificate \(pki.path("soon.crt")) (\"CN=localhost\") expires in "))
    }

    /// A swap affects handshakes that start after it; a connection started before keeps its
    /// context through its handshake and after; established connections go on.
    @Test func reloadSwapsForNewHandshakesOnly() throws {
        let old = try pki.serverContext(["server"])
        let new = try pki.serverContext(["other"])
        let holder = TLSContextHolder(old)
        let client = try pki.clientContext(insecure: true)

        let established = TLSPair(server: holder.current, client: client)
        established.handshake()
        let started = TLSPair(server: holder.current, client: client)  // context taken, no bytes yet
        #expect(holder.generation == 1)

        holder.replace(with: new)
        #expect(holder.generation == 2)
        #expect(holder.current === new)

        started.handshake()
        #expect(started.clientLog.handshake?.peerCertificate?.sha256 == old.certificateFingerprints[0])
        let fresh = TLSPair(server: holder.current, client: client)
        fresh.handshake()
        #expect(fresh.clientLog.handshake?.peerCertificate?.sha256 == new.certificateFingerprints[0])
        #expect(fresh.clientLog.handshake?.peerCertificate?.subject == "CN=other.test")

        write(established.client, pattern(5000))
        write(established.server, pattern(6000))
        established.pump()
        #expect(established.serverLog.plaintext == pattern(5000))
        #expect(established.clientLog.plaintext == pattern(6000))
    }

    @Test func aBadReloadKeepsTheOldContext() throws {
        let old = try pki.serverContext()
        let holder = TLSContextHolder(old)
        let error = holder.reload { () throws(TLSFileError) in
            try TLSServerContext(certificates: [pki.pair("mismatched")])
        }
        #expect(error?.file == pki.path("mismatched.key"))
        #expect(error?.message == "key \(pki.path("mismatched.key")) does not match certificate \(pki.path("mismatched.crt")) (CN=localhost)")
        #expect(holder.current === old)
        #expect(holder.generation == 1)
        let ok = holder.reload { () throws(TLSFileError) in try TLSServerContext(certificates: [pki.pair("other")]) }
        #expect(ok == nil)
        #expect(holder.generation == 2)
    }

    /// Many threads take contexts while another swaps them: every handshake completes.
    @Test func swapsWhileOtherThreadsHandshake() async throws {
        let holder = TLSContextHolder(try pki.serverContext(["server"]))
        let contexts = [try pki.serverContext(["server"]), try pki.serverContext(["other"])]
        let client = try pki.clientContext(insecure: true)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0 ..< 2 {
                group.addTask {
                    var ok = 0
                    for _ in 0 ..< 40 {
                        let pair = TLSPair(server: holder.current, client: client)
                        pair.pump()
                        if pair.serverLog.errors.isEmpty && pair.clientLog.handshake != nil { ok += 1 }
                    }
                    return ok
                }
            }
            group.addTask {
                for i in 0 ..< 200 { holder.replace(with: contexts[i % 2]) }
                return 0
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 80)
        }
    }
}

import TLS
import Testing

/// Certificate verification on both sides, with the reason each failure is reported with, and
/// mutual TLS (required and optional).
@Suite struct TLSVerificationTests {
    let pki = TestPKI.shared

    /// The client refuses the server's certificate; the server sees the client's alert.
    @Test(arguments: [
        ("selfsigned", "localhost", TLSError.Reason.unknownCA, 48 as UInt8,
         "certificate verify failed: unknown CA: the server's certificate \"CN=localhost\", issued by \"CN=localhost\" does not lead to a trusted CA (self-signed certificate)"),
        ("expired", "localhost", .expired, 45,  // certificate_expired
         "certificate verify failed: expired: the server's certificate \"CN=localhost\" expired on 2020-02-01 00:00 UTC"),
        ("notyet", "localhost", .notYetValid, 42,  // OpenSSL alerts bad_certificate for it
         "certificate verify failed: not yet valid: the server's certificate \"CN=localhost\" is not valid before 2099-01-01 00:00 UTC"),
        ("wrongname", "localhost", .nameMismatch, 42,
         "certificate verify failed: name mismatch: the server's certificate \"CN=wrong.example\" is not valid for \"localhost\" (it is for wrong.example)"),
        ("server", "127.0.0.2", .nameMismatch, 42,
         "certificate verify failed: name mismatch: the server's certificate \"CN=localhost\" is not valid for \"127.0.0.2\" (it is for localhost, 127.0.0.1)"),
    ])
    func serverCertificateRefused(certificate: String, name: String, reason: TLSError.Reason, alert: UInt8, message: String) throws {
        let pair = TLSPair(server: try pki.serverContext([certificate]), client: try pki.clientContext(), serverName: name)
        pair.pump()
        let c = try #require(pair.clientLog.errors.first)
        #expect(c.reason == reason)
        #expect(!c.fromPeer)
        #expect(c.message == message)
        #expect(pair.clientLog.handshake == nil)
        let s = try #require(pair.serverLog.errors.first)
        #expect(s.fromPeer)
        #expect(s.message.hasSuffix("(alert \(alert))"), "\(s.message)")
    }

    @Test func aCAThatDidNotIssueTheCertificateIsAnUnknownCA() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try pki.clientContext(ca: pki.otherCA))
        pair.pump()
        let c = try #require(pair.clientLog.errors.first)
        #expect(c.reason == .unknownCA)
        #expect(c.message == "certificate verify failed: unknown CA: the server's certificate \"CN=localhost\", issued by \"CN=Trestle Test CA\" does not lead to a trusted CA (unable to get local issuer certificate)")
        let s = try #require(pair.serverLog.errors.first)
        #expect(s == TLSError(.unknownCA, fromPeer: true, "the client refused this side's certificate: unknown CA (alert 48)"))
    }

    @Test func aChainThroughAnIntermediateVerifies() throws {
        let pair = TLSPair(server: try pki.serverContext(["chain"]), client: try pki.clientContext())
        pair.handshake()
        #expect(pair.clientLog.handshake?.peerCertificate?.issuer == "CN=Trestle Test Intermediate")
        // Without the intermediate in the file, the client cannot build the chain.
        let leafOnly = try TLSServerContext(certificates: [TLSCertificateFiles(certificate: pki.path("leaf.crt"), key: pki.path("leaf.key"))])
        let broken = TLSPair(server: leafOnly, client: try pki.clientContext())
        broken.pump()
        #expect(broken.clientLog.errors.first?.reason == .unknownCA)
    }

    @Test func insecureSkipVerifyAcceptsAnything() throws {
        for certificate in ["selfsigned", "expired", "wrongname"] {
            let pair = TLSPair(server: try pki.serverContext([certificate]), client: try pki.clientContext(ca: pki.otherCA, insecure: true))
            pair.handshake()
            #expect(pair.clientLog.handshake?.alpn == .h2)
        }
    }

    @Test func systemRootsDoNotTrustATestCA() throws {
        let pair = TLSPair(server: try pki.serverContext(), client: try TLSClientContext())
        pair.pump()
        #expect(pair.clientLog.errors.first?.reason == .unknownCA)
    }

    // MARK: mutual TLS

    @Test func requiredClientCertificateIsVerifiedAndReported() throws {
        let server = try pki.serverContext(clientCertificates: .required(caFile: pki.ca))
        let pair = TLSPair(server: server, client: try pki.clientContext(certificate: "client"))
        pair.handshake()
        let peer = try #require(pair.serverLog.handshake?.peerCertificate)
        #expect(peer.subject == "O=Acme,CN=client-a")
        #expect(peer.dnsNames == ["client-a.test"])
        #expect(peer.uris == ["spiffe://trestle.test/client-a"])
        #expect(peer.sha256.count == 64)
        #expect(peer.xForwardedClientCert
            == "Hash=\(peer.sha256);Subject=\"O=Acme,CN=client-a\";URI=spiffe://trestle.test/client-a;DNS=client-a.test")
        write(pair.client, pattern(1000))
        pair.pump()
        #expect(pair.serverLog.plaintext == pattern(1000))
    }

    @Test func requiredClientCertificateMissing() throws {
        let server = try pki.serverContext(clientCertificates: .required(caFile: pki.ca))
        let pair = TLSPair(server: server, client: try pki.clientContext())
        write(pair.client, pattern(10))
        pair.pump()
        #expect(pair.serverLog.errors == [TLSError(.certificateRequired, "the client sent no certificate; this listener requires one")])
        #expect(pair.serverLog.plaintext.isEmpty)
        // TLS 1.3: the client finished its handshake before the server refused it.
        #expect(pair.clientLog.errors == [TLSError(.certificateRequired, fromPeer: true, "the server requires a client certificate (alert 116)")])
    }

    @Test func clientCertificateFromAnotherCAIsRefused() throws {
        for policy in [TLSClientCertificatePolicy.required(caFile: pki.ca), .optional(caFile: pki.ca)] {
            let pair = TLSPair(server: try pki.serverContext(clientCertificates: policy), client: try pki.clientContext(certificate: "rogue"))
            write(pair.client, pattern(10))
            pair.pump()
            let s = try #require(pair.serverLog.errors.first)
            #expect(s.reason == .unknownCA)
            #expect(s.message.hasPrefix("certificate verify failed: unknown CA: the client's certificate \"CN=rogue\", issued by \"CN=Other Test CA\""))
            #expect(pair.clientLog.errors.first?.reason == .unknownCA)
            #expect(pair.clientLog.errors.first?.fromPeer == true)
        }
    }

    @Test func optionalClientCertificate() throws {
        let server = try pki.serverContext(clientCertificates: .optional(caFile: pki.ca))
        let without = TLSPair(server: server, client: try pki.clientContext())
        without.handshake()
        #expect(without.serverLog.handshake?.peerCertificate == nil)
        let with = TLSPair(server: server, client: try pki.clientContext(certificate: "client"))
        with.handshake()
        #expect(with.serverLog.handshake?.peerCertificate?.subject == "O=Acme,CN=client-a")
    }

    @Test func resumedMutualTLSStillKnowsTheClient() throws {
        let server = try pki.serverContext(clientCertificates: .required(caFile: pki.ca))
        let client = try pki.clientContext(certificate: "client")
        let first = TLSPair(server: server, client: client, sessionKey: "k")
        first.handshake()
        write(first.client, pattern(1))
        first.pump()
        let second = TLSPair(server: server, client: client, sessionKey: "k")
        second.handshake()
        #expect(second.serverLog.handshake?.resumed == true)
        #expect(second.serverLog.handshake?.peerCertificate?.subject == "O=Acme,CN=client-a")
    }
}

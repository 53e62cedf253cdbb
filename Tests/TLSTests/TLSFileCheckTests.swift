import TLS
import Testing

/// The checks `trestle check` runs, with their exact messages.
@Suite struct TLSFileCheckTests {
    let pki = TestPKI.shared

    @Test func goodFilesHaveNoProblems() {
        #expect(TLSFileCheck.certificate(pki.server).isEmpty)
        #expect(TLSFileCheck.certificate(pki.pair("chain")).isEmpty)
        #expect(TLSFileCheck.caFile(pki.ca).isEmpty)
    }

    @Test func unreadableAndNotPEM() {
        let missing = pki.path("nope.crt")
        #expect(TLSFileCheck.certificate(TLSCertificateFiles(certificate: missing, key: pki.path("server.key")))
            == [TLSFileProblem(.error, file: missing, "cannot read \(missing): No such file or directory")])
        #expect(TLSFileCheck.caFile(pki.path("garbage.pem"))
            == [TLSFileProblem(.error, file: pki.path("garbage.pem"), "CA file \(pki.path("garbage.pem")) holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")])
    }

    @Test func keyMustMatchTheCertificate() {
        #expect(TLSFileCheck.certificate(pki.pair("mismatched")) == [
            TLSFileProblem(.error, file: pki.path("mismatched.key"),
                           "key \(pki.path("mismatched.key")) does not match certificate \(pki.path("mismatched.crt")) (CN=localhost)")
        ])
    }

    @Test func validityWithDaysLeft() {
        let expired = TLSFileCheck.certificate(pki.pair("expired"), now: 1_580_515_200 + 86_400 * 3)  // 2020-02-04
        #expect(expired == [TLSFileProblem(.error, file: pki.path("expired.crt"),
            "certificate \(pki.path("expired.crt")) (\"CN=localhost\") expired on 2020-02-01 00:00 UTC (3 days ago)")])
        let notYet = TLSFileCheck.certificate(pki.pair("notyet"))
        #expect(notYet == [TLSFileProblem(.error, file: pki.path("notyet.crt"),
            "certificate \(pki.path("notyet.crt")) (\"CN=localhost\") is not valid before 2099-01-01 00:00 UTC")])
        // Valid 2020-01-01 to 2020-02-01: 10 days before the end, a warning that says so.
        let soon = TLSFileCheck.certificate(pki.pair("expired"), now: 1_580_515_200 - 86_400 * 10 + 3600)
        #expect(soon.count == 1)
        #expect(soon.first?.severity == .warning)
        #expect(soon.first?.message == "certificate \(pki.path("expired.crt")) (\"CN=localhost\") expires in 9 days (2020-02-01 00:00 UTC)")
        #expect(soon.first?.description.hasPrefix("warning: ") == true)
        // Made for 10 days a moment ago: 10 days, or 9 when a second has passed.
        let message = TLSFileCheck.certificate(pki.pair("soon")).first?.message ?? ""
        let head = "certificate \(pki.path("soon.crt")) (\"CN=localhost\") expires in "
        #expect(message.hasPrefix(head + "10 days (") || message.hasPrefix(head + "9 days ("), "\(message)")
    }

    @Test func chainOrder() {
        #expect(TLSFileCheck.certificate(pki.pair("misordered")) == [
            TLSFileProblem(.error, file: pki.path("misordered.crt"),
                "chain out of order in \(pki.path("misordered.crt")): the key \(pki.path("misordered.key")) belongs to certificate 2 "
                    + "(CN=localhost); list the certificate first, then each issuer in turn")
        ])
        // With the right key first but issuers out of order (leaf, root, intermediate):
        let dir = makeTempDirectory("trestle-tls-chain")
        #expect(shell("cat '\(pki.path("leaf.crt"))' '\(pki.ca)' '\(pki.path("intermediate.crt"))' > '\(dir)/c.crt'") == 0)
        #expect(TLSFileCheck.certificate(TLSCertificateFiles(certificate: dir + "/c.crt", key: pki.path("leaf.key"))).map(\.message) == [
            "chain out of order in \(dir)/c.crt: certificate 2 (\"CN=Trestle Test CA\") did not issue certificate 1 "
                + "(\"CN=localhost\"); list the certificate first, then each issuer in turn",
            "chain out of order in \(dir)/c.crt: certificate 3 (\"CN=Trestle Test Intermediate\") did not issue certificate 2 "
                + "(\"CN=Trestle Test CA\"); list the certificate first, then each issuer in turn",
        ])
    }

    @Test func caFileWithALeafWarns() {
        #expect(TLSFileCheck.caFile(pki.path("server.crt")) == [
            TLSFileProblem(.warning, file: pki.path("server.crt"), "CA file \(pki.path("server.crt")) (\"CN=localhost\") is not a CA certificate")
        ])
    }
}

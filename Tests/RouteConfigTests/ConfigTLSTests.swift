#if canImport(Glibc)
import Glibc
#endif
import RouteConfig
import Testing

/// `tls` under listeners and clusters: what parses, where its files resolve, and each error with
/// its exact `file:line:column: message`.
@Suite struct ConfigTLSTests {
    static let clusterTail = """
        clusters: [{name: c, endpoints: [127.0.0.1:1]}]
        routes: [{service: "*", cluster: c}]
        """

    @Test func listenerTLSParsesWithPathsRelativeToTheFile() throws {
        let yaml = """
            listeners:
              - address: 127.0.0.1:8080
              - address: 127.0.0.1:8443
                tls:
                  certificate: certs/server.crt
                  key: /etc/trestle/server.key
                  client_ca: clients.pem
                  require_client_certificate: true
                  forward_client_certificate: true
              - address: 127.0.0.1:9443
                tls:
                  certificates:
                    - {certificate: a.crt, key: a.key}
                    - certificate: b.crt
                      key: b.key

            """ + Self.clusterTail
        let config = try ConfigLoader.parse(yaml: yaml, file: "conf/routes.yaml")
        #expect(config.listeners.count == 3)
        #expect(config.tls(forListener: 0) == nil)
        let one = try #require(config.tls(forListener: 1))
        #expect(one.certificates == [ConfigCertificate(
            certificate: ConfigFile(path: "conf/certs/server.crt", written: "certs/server.crt", line: 5, column: 20),
            key: ConfigFile(path: "/etc/trestle/server.key", written: "/etc/trestle/server.key", line: 6, column: 12))])
        #expect(one.clientCA == ConfigFile(path: "conf/clients.pem", written: "clients.pem", line: 7, column: 18))
        #expect(one.requireClientCertificate && one.forwardClientCertificate)
        let two = try #require(config.tls(forListener: 2))
        #expect(two.certificates.map(\.certificate.path) == ["conf/a.crt", "conf/b.crt"])
        #expect(two.certificates.map(\.key.path) == ["conf/a.key", "conf/b.key"])
        #expect(two.clientCA == nil && !two.requireClientCertificate && !two.forwardClientCertificate)
        #expect(config.tls(forListener: 7) == nil)
        #expect(config.tlsFiles.map(\.written) == [
            "certs/server.crt", "/etc/trestle/server.key", "clients.pem", "a.crt", "a.key", "b.crt", "b.key",
        ])
        #expect(config.warnings.isEmpty)
    }

    @Test func clusterTLSParses() throws {
        let yaml = """
            listeners: [{address: 127.0.0.1:8080}]
            clusters:
              - name: plain
                endpoints: [127.0.0.1:1]
              - name: system-roots
                endpoints: [api.example:443]
                tls: {}
              - name: mtls
                endpoints: [10.0.0.1:443]
                tls:
                  ca: ca.pem
                  server_name: echo.internal
                  certificate: client.crt
                  key: client.key
              - name: lab
                endpoints: [10.0.0.2:443]
                tls:
                  insecure_skip_verify: true
            routes: [{service: "*", cluster: plain}]
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "r.yaml")
        #expect(config.clusters[0].tls == nil)
        #expect(config.clusters[1].tls == ClusterTLSConfig())
        let mtls = try #require(config.clusters[2].tls)
        #expect(mtls.ca == ConfigFile(path: "ca.pem", written: "ca.pem", line: 11, column: 11))
        #expect(mtls.serverName == "echo.internal")
        #expect(mtls.certificate?.certificate.path == "client.crt" && mtls.certificate?.key.path == "client.key")
        #expect(!mtls.insecureSkipVerify)
        #expect(config.clusters[3].tls?.insecureSkipVerify == true)
        #expect(config.warnings.map(\.description) == [
            "r.yaml:18:29: cluster \"lab\": insecure_skip_verify: the upstream's certificate is not verified (anyone on the path can impersonate it)"
        ])
        #expect(config.tlsFiles.map(\.written) == ["ca.pem", "client.crt", "client.key"])
    }

    @Test func listenerTLSErrors() {
        let yaml = """
            listeners:
              - address: 127.0.0.1:1
                tls: server.crt
              - address: 127.0.0.1:2
                tls:
                  certficate: a.crt
              - address: 127.0.0.1:3
                tls:
                  certificate: a.crt
                  certificates: [{certificate: b.crt, key: b.key}]
              - address: 127.0.0.1:4
                tls: {certificates: []}
              - address: 127.0.0.1:5
                tls:
                  certificates:
                    - {certificate: a.crt}
                    - a.crt
              - address: 127.0.0.1:6
                tls:
                  certificate: ""
                  key: [a]
                  require_client_certificate: yes
              - address: 127.0.0.1:7
                tls:
                  certificate: a.crt
                  key: a.key
                  require_client_certificate: true
                  forward_client_certificate: true
            admin:
              address: 127.0.0.1:9901
              tls: {certificate: a.crt, key: a.key}

            """ + Self.clusterTail
        #expect(diagnostics(yaml) == [
            "r.yaml:3:10: expected a mapping for \"tls\" of listener 1, found \"server.crt\"",
            "r.yaml:6:7: unknown key \"certficate\" in \"tls\" of listener 2; did you mean \"certificate\"?",
            "r.yaml:6:7: missing key \"certificate\" in \"tls\" of listener 2",
            "r.yaml:6:7: missing key \"key\" in \"tls\" of listener 2",
            "r.yaml:9:7: use either \"certificate\" and \"key\" or \"certificates\" in \"tls\" of listener 3, not both",
            "r.yaml:12:25: no certificates in \"tls\" of listener 4: add at least one {certificate: FILE, key: FILE}",
            "r.yaml:16:11: missing key \"key\" in certificate 1 of listener 5",
            "r.yaml:17:11: expected a mapping for certificate 2 of listener 5, found \"a.crt\"",
            "r.yaml:20:20: expected a file path for \"certificate\", found \"\"",
            "r.yaml:21:12: expected a file path for \"key\", found a sequence",
            "r.yaml:22:35: expected true or false for \"require_client_certificate\", found \"yes\"",
            "r.yaml:27:35: require_client_certificate needs \"client_ca\" (the CAs that issue client certificates) in \"tls\" of listener 7",
            "r.yaml:28:35: forward_client_certificate needs \"client_ca\" (the CAs that issue client certificates) in \"tls\" of listener 7",
            "r.yaml:31:3: unknown key \"tls\" in admin",
        ])
    }

    @Test func clusterTLSErrors() {
        let yaml = """
            listeners: [{address: 127.0.0.1:8080}]
            clusters:
              - name: a
                endpoints: [127.0.0.1:1]
                tls: true
              - name: b
                endpoints: [127.0.0.1:2]
                tls:
                  ca_file: ca.pem
                  server_name: "echo.internal:443"
                  certificate: client.crt
                  insecure_skip_verify: "no"
              - name: c
                endpoints: [127.0.0.1:3]
                tls: {key: k.pem, server_name: "bad name"}
            routes: [{service: "*", cluster: a}]
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:5:10: expected a mapping for \"tls\" of cluster \"a\", found \"true\"",
            "r.yaml:9:7: unknown key \"ca_file\" in \"tls\" of cluster \"b\"",
            "r.yaml:9:7: missing key \"key\" in \"tls\" of cluster \"b\"",
            "r.yaml:10:20: invalid server_name \"echo.internal:443\": expected a host name or IP address, without a port",
            "r.yaml:12:29: expected true or false for \"insecure_skip_verify\", found \"no\"",
            "r.yaml:15:10: missing key \"certificate\" in \"tls\" of cluster \"c\"",
            "r.yaml:15:36: invalid server_name \"bad name\": expected a host name or IP address, without a port",
        ])
    }

    @Test(arguments: ["echo.internal", "localhost", "127.0.0.1", "::1", "2001:db8::1", "a-b.c_d.example"])
    func validServerNames(name: String) throws {
        let yaml = "listeners: [{address: 127.0.0.1:8080}]\n"
            + "clusters: [{name: c, endpoints: [127.0.0.1:1], tls: {server_name: \"\(name)\"}}]\n"
            + "routes: [{service: \"*\", cluster: c}]\n"
        #expect(try ConfigLoader.parse(yaml: yaml, file: "r.yaml").clusters[0].tls?.serverName == name)
    }
}

/// The commented TLS examples in routes/example.yaml parse once uncommented.
@Suite struct ExampleTLSConfigTests {
    @Test func uncommentedExamplesParse() throws {
        let path = packageRoot() + "/routes/example.yaml"
        let bytes = try #require(readAll(path), "cannot read \(path)")
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let uncommented = lines.map { line -> String in
            for prefix in ["  # - ", "  #   "] where line.hasPrefix(prefix) {
                return "  " + line.dropFirst(4)
            }
            return String(line)
        }.joined(separator: "\n")
        let config = try ConfigLoader.parse(yaml: uncommented, file: packageRoot() + "/routes/example.yaml")
        let listener = try #require(config.tls(forListener: 1))
        #expect(listener.certificates.map(\.certificate.written) == ["server.crt"])
        #expect(listener.clientCA?.written == "clients.pem")
        let secure = try #require(config.clusters.first { $0.name == "secure" }?.tls)
        #expect(secure.serverName == "echo.internal")
        #expect(secure.certificate?.key.written == "client.key")
    }

    private func readAll(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { return bytes }
            bytes += chunk[0 ..< n]
        }
    }
}

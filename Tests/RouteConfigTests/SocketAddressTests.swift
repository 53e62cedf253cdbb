import RouteConfig
import Testing

@Suite struct SocketAddressTests {
    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", UInt16(8080), "127.0.0.1:8080", true),
        ("0.0.0.0:1", "0.0.0.0", 1, "0.0.0.0:1", true),
        ("[::1]:8080", "::1", 8080, "[::1]:8080", true),
        ("[::]:65535", "::", 65535, "[::]:65535", true),
        ("[2001:db8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443", true),
        ("[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80", true),
        ("localhost:50051", "localhost", 50051, "localhost:50051", false),
        ("echo-1.svc.cluster.local:9000", "echo-1.svc.cluster.local", 9000, "echo-1.svc.cluster.local:9000", false),
        ("host:08080", "host", 8080, "host:8080", false),
    ])
    func parses(text: String, host: String, port: UInt16, description: String, isIP: Bool) throws {
        let address = try #require(SocketAddress(parsing: text))
        #expect(address == SocketAddress(host: host, port: port))
        #expect(address.description == description)
        #expect(address.isIPLiteral == isIP)
    }

    @Test(arguments: [
        ("", "expected host:port"),
        ("localhost", "expected host:port"),
        ("x:99999", "port must be 1-65535"),
        ("x:65536", "port must be 1-65535"),
        ("x:0", "port must be 1-65535"),
        ("x:-1", "port must be 1-65535"),
        ("x:80a", "port must be 1-65535"),
        ("x:000080", "port must be 1-65535"),
        ("x:", "port is missing"),
        (":80", "host is empty"),
        ("[]:80", "host is empty"),
        ("::1:80", "an IPv6 address must be in brackets, like \"[::1]:8080\""),
        ("[::1:80", "missing \"]\" after the IPv6 address"),
        ("[::1]80", "expected \":port\" after \"]\""),
        ("[::1]", "expected \":port\" after \"]\""),
        ("[1.2.3.4]:80", "\"1.2.3.4\" is not an IPv6 address"),
        ("[fe80::1%eth0]:80", "\"fe80::1%eth0\" is not an IPv6 address"),
        ("300.1.1.1:80", "\"300.1.1.1\" is not an IPv4 address"),
        ("1.2.3:80", "\"1.2.3\" is not an IPv4 address"),
        ("a b:80", "\"a b\" is not a valid host name"),
        ("a..b:80", "\"a..b\" is not a valid host name"),
        ("http://x:80", "expected host:port, not a URL"),
        ("grpc://x", "expected host:port, not a URL"),
    ])
    func rejects(text: String, reason: String) {
        #expect(SocketAddress(parsing: text) == nil)
        guard case .failure(let error) = SocketAddress.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.description == "invalid address \"\(text)\": \(reason)")
    }
}

import Channel
import Testing

@Suite struct MetadataRulesTests {
    @Test(arguments: [
        ("connection", true),
        ("Connection", true),
        ("keep-alive", true),
        ("Keep-Alive", true),
        ("proxy-connection", true),
        ("Proxy-Authorization", true),
        ("proxy-authenticate", true),
        ("proxy-", true),
        ("te", true),
        ("TE", true),
        ("transfer-encoding", true),
        ("upgrade", true),
        ("content-length", true),
        ("Content-Length", true),
        ("host", true),
        ("HOST", true),
        ("http2-settings", true),
        ("HTTP2-Settings", true),
        // Forwarded.
        ("proxy", false),
        ("proxyx-foo", false),
        ("content-type", false),
        ("grpc-timeout", false),
        ("user-agent", false),
        ("authorization", false),
        ("hosts", false),
        ("tee", false),
        ("t", false),
        ("connections", false),
        ("x-trace-bin", false),
        ("", false),
    ])
    func hopByHop(name: String, expected: Bool) {
        #expect(MetadataRules.isHopByHop(name) == expected)
        #expect(withBytes(name) { MetadataRules.isHopByHop($0) } == expected)
        // The lower-case fast path agrees with the table for every lower-case name.
        let lower = name.lowercased()
        #expect(withBytes(lower) { MetadataRules.isHopByHopLowercase($0) } == withBytes(lower) { MetadataRules.isHopByHop($0) })
    }

    @Test(arguments: [
        ("x-trace-bin", true),
        ("grpc-status-details-bin", true),
        ("X-Trace-BIN", true),
        ("-bin", true),
        ("bin", false),
        ("x-bin-data", false),
        ("x-trace-bi", false),
        ("x-tracebin", false),
        ("", false),
    ])
    func binary(name: String, expected: Bool) {
        #expect(withBytes(name) { MetadataRules.isBinary($0) } == expected)
        #expect(MetadataRules.isBinary(name) == expected)
    }
}

import Channel
import Testing

@Suite struct MetadataFilterTests {
    typealias R = MetadataFilter.RequestField
    typealias S = MetadataFilter.ResponseField

    /// Request fields: (name, native, translated). Names are lower case, as the table requires.
    @Test(arguments: [
        // Pseudo-headers.
        (":path", R.pseudo, R.pseudo),
        (":method", .pseudo, .pseudo),
        (":scheme", .pseudo, .pseudo),
        (":authority", .pseudo, .pseudo),
        (":protocol", .pseudo, .pseudo),
        // Connection, and the fields it names (handled by the builder).
        ("connection", .connection, .connection),
        // The deadline.
        ("grpc-timeout", .deadline, .deadline),
        // te: gRPC's own on a native hop; the gateway's own on a translated one.
        ("te", .forward, .drop),
        // content-type: the translated frontend frames messages itself.
        ("content-type", .forward, .drop),
        // grpc-*: a native client's describe its own framing; a translated client's are dropped.
        ("grpc-encoding", .forward, .drop),
        ("grpc-accept-encoding", .forward, .drop),
        ("grpc-message-type", .forward, .drop),
        ("grpc-previous-rpc-attempts", .forward, .drop),
        ("grpc-trace-bin", .forward, .drop),
        ("grpc-status", .forward, .drop),
        ("grpc-", .forward, .drop),
        ("grpc", .forward, .forward),
        ("grpcx-foo", .forward, .forward),
        // x-forwarded-for: a translated frontend appends the client's address.
        ("x-forwarded-for", .forward, .forwardedFor),
        ("x-forwarded-proto", .forward, .forward),
        ("x-forwarded-host", .forward, .forward),
        // x-forwarded-client-cert: only the gateway vouches for a client certificate.
        ("x-forwarded-client-cert", .drop, .drop),
        // accept-encoding: HTTP's, not gRPC's.
        ("accept-encoding", .forward, .drop),
        ("accept", .forward, .forward),
        ("accept-language", .forward, .forward),
        // expect: 100-continue is the gateway's business.
        ("expect", .drop, .drop),
        ("expectation", .forward, .forward),
        // Hop-by-hop (RFC 9110 §7.6.1) and proxy-*.
        ("keep-alive", .drop, .drop),
        ("transfer-encoding", .drop, .drop),
        ("upgrade", .drop, .drop),
        ("proxy-connection", .drop, .drop),
        ("proxy-authorization", .drop, .drop),
        ("proxy-authenticate", .drop, .drop),
        // Framing fields each hop recomputes.
        ("host", .drop, .drop),
        ("content-length", .drop, .drop),
        ("http2-settings", .drop, .drop),
        // Ordinary names.
        ("user-agent", .forward, .forward),
        ("authorization", .forward, .forward),
        ("cookie", .forward, .forward),
        ("x-request-id", .forward, .forward),
        // A translated body's coding is undone by the gateway (README, "Compression").
        ("content-encoding", .forward, .drop),
        // gRPC-Web's marker is never the upstream's (a gRPC-Web JSON call is translated).
        ("x-grpc-web", .forward, .drop),
        ("contents", .forward, .forward),
        ("tee", .forward, .forward),
        ("t", .forward, .forward),
        ("a", .forward, .forward),
        ("e", .forward, .forward),
        ("g", .forward, .forward),
        ("x", .forward, .forward),
        ("c", .forward, .forward),
        ("proxy", .forward, .forward),
        ("hosts", .forward, .forward),
        // -bin names: forwarded as they are.
        ("x-user-bin", .forward, .forward),
        ("trace-bin", .forward, .forward),
        // No name.
        ("", .drop, .drop),
    ] as [(String, R, R)])
    func request(name: String, native: R, translated: R) {
        #expect(withBytes(name) { MetadataFilter.request($0, profile: .native) } == native)
        #expect(withBytes(name) { MetadataFilter.request($0, profile: .translated) } == translated)
    }

    /// Response headers and trailers: (name, native, translated).
    @Test(arguments: [
        (":status", S.pseudo, S.pseudo),
        // The status, in both profiles.
        ("grpc-status", .status, .status),
        ("grpc-message", .statusMessage, .statusMessage),
        ("grpc-status-details-bin", .statusDetails, .statusDetails),
        // Other grpc-*: relayed to a native client, not to a translated one.
        ("grpc-encoding", .forward, .drop),
        ("grpc-accept-encoding", .forward, .drop),
        ("grpc-statusx", .forward, .drop),
        ("grpc-messages", .forward, .drop),
        ("grpc-", .forward, .drop),
        ("grpc", .forward, .forward),
        // content-type: the translated frontend sets its own.
        ("content-type", .forward, .drop),
        // Hop-by-hop and framing.
        ("connection", .drop, .drop),
        ("keep-alive", .drop, .drop),
        ("te", .drop, .drop),
        ("transfer-encoding", .drop, .drop),
        ("upgrade", .drop, .drop),
        ("proxy-authenticate", .drop, .drop),
        ("proxy-connection", .drop, .drop),
        ("host", .drop, .drop),
        ("content-length", .drop, .drop),
        ("http2-settings", .drop, .drop),
        // Ordinary names.
        ("date", .forward, .forward),
        ("server", .forward, .forward),
        ("x-request-id", .forward, .forward),
        ("set-cookie", .forward, .forward),
        ("x-user-bin", .forward, .forward),
        ("", .drop, .drop),
    ] as [(String, S, S)])
    func response(name: String, native: S, translated: S) {
        #expect(withBytes(name) { MetadataFilter.response($0, profile: .native) } == native)
        #expect(withBytes(name) { MetadataFilter.response($0, profile: .translated) } == translated)
    }

    /// The gRPC-Web profile (request, response): gRPC framing passes as for native gRPC; the
    /// content type, `te` and `x-grpc-web` are the gateway's; the client's address is appended.
    @Test(arguments: [
        (":path", R.pseudo, S.pseudo),
        ("grpc-timeout", .deadline, .forward),
        ("content-type", .drop, .drop),
        ("te", .drop, .drop),
        ("x-grpc-web", .drop, .forward),
        ("x-user-agent", .forward, .forward),
        ("x-forwarded-for", .forwardedFor, .forward),
        ("accept-encoding", .drop, .forward),
        ("grpc-encoding", .forward, .forward),
        ("grpc-accept-encoding", .forward, .forward),
        ("grpc-status", .forward, .status),
        ("grpc-message", .forward, .statusMessage),
        ("grpc-status-details-bin", .forward, .statusDetails),
        ("origin", .forward, .forward),
        ("connection", .connection, .drop),
        ("content-length", .drop, .drop),
        ("x-custom-bin", .forward, .forward),
    ] as [(String, R, S)])
    func web(name: String, request: R, response: S) {
        #expect(withBytes(name) { MetadataFilter.request($0, profile: .web) } == request)
        #expect(withBytes(name) { MetadataFilter.response($0, profile: .web) } == response)
    }

    @Test func metadataPrefix() {
        #expect(MetadataFilter.metadataPrefix == Array("grpc-metadata-".utf8))
    }

    // MARK: ConnectionNamedFields

    /// (Connection field values, names listed, names not listed).
    @Test(arguments: [
        (["close"], ["close"], ["clos", "closed", "x-foo"]),
        (["x-foo"], ["x-foo"], ["x-foobar", "x-fo", "foo"]),
        // Case: tokens are lower-cased.
        (["X-Foo, X-BAR"], ["x-foo", "x-bar"], ["x-baz"]),
        // Spaces and tabs around tokens.
        (["  x-foo \t,\t x-bar  "], ["x-foo", "x-bar"], [" x-foo", "x-foo ", "x-bar  "]),
        (["\tx-foo\t"], ["x-foo"], ["\tx-foo\t"]),
        // Empty tokens.
        ([",,x-foo,, ,\t,"], ["x-foo"], ["", " "]),
        // Several values.
        (["Keep-Alive", "X-A, x-b", "x-c"], ["keep-alive", "x-a", "x-b", "x-c"], ["x-d"]),
        // A space inside a token stays (it is no field name, so it names nothing).
        (["x foo"], ["x foo"], ["x", "foo"]),
    ] as [([String], [String], [String])])
    func connectionNamed(values: [String], listed: [String], notListed: [String]) {
        var fields = ConnectionNamedFields()
        for v in values { withBytes(v) { fields.add(connectionValue: $0) } }
        #expect(!fields.isEmpty)
        for name in listed {
            #expect(withBytes(name) { fields.contains($0) }, "\(name)")
        }
        for name in notListed {
            #expect(!withBytes(name) { fields.contains($0) }, "\(name)")
        }
    }

    @Test(arguments: [[String](), [""], [","], [" , \t ,"], ["", "\t"]])
    func connectionNamedNothing(values: [String]) {
        var fields = ConnectionNamedFields()
        for v in values { withBytes(v) { fields.add(connectionValue: $0) } }
        #expect(fields.isEmpty)
        #expect(!withBytes("") { fields.contains($0) })
    }

    /// `contains` takes a lower-case name (the caller lower-cases first).
    @Test func connectionNamedContainsTakesLowerCase() {
        var fields = ConnectionNamedFields()
        withBytes("X-Foo") { fields.add(connectionValue: $0) }
        #expect(withBytes("x-foo") { fields.contains($0) })
        #expect(!withBytes("X-Foo") { fields.contains($0) })
    }
}

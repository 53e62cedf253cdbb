import Channel
import Testing

/// Builds a head from `fields` as a frontend would: the `Connection` values first, then each field.
private func build(_ profile: MetadataFilter.Profile, _ fields: [(String, String)], connection: [String] = [],
                   peer: String? = nil, into metadata: Metadata = Metadata()) -> CallHead {
    var builder = CallHeadBuilder(into: metadata, profile: profile)
    for value in connection {
        withBytes(value) { builder.dropFieldsNamed(byConnectionValue: $0) }
    }
    for (name, value) in fields {
        withBytes(name) { n in withBytes(value) { v in builder.add(name: n, value: v) } }
    }
    return builder.finish(peer: peer)
}

/// The head's metadata as "name: value" lines, in order.
private func lines(_ head: CallHead) -> [String] {
    var out: [String] = []
    head.metadata.forEach { n, v in
        out.append(String(decoding: n, as: UTF8.self) + ": " + String(decoding: v, as: UTF8.self))
    }
    return out
}

/// An ordinary native gRPC request head.
private let nativeRequest: [(String, String)] = [
    (":method", "POST"),
    (":scheme", "https"),
    (":path", "/pkg.Svc/Get"),
    (":authority", "api.example"),
    ("te", "trailers"),
    ("content-type", "application/grpc"),
    ("grpc-timeout", "5S"),
    ("grpc-encoding", "gzip"),
    ("user-agent", "grpc-go/1.60"),
    ("x-trace-bin", "AAEC"),
]

@Suite struct CallHeadBuilderTests {
    // MARK: native

    @Test func nativeKeepsPseudoHeadersInOrderAndRewritesScheme() {
        let head = build(.native, nativeRequest)
        #expect(lines(head) == [
            ":method: POST",
            ":scheme: http",
            ":path: /pkg.Svc/Get",
            ":authority: api.example",
            "te: trailers",
            "content-type: application/grpc",
            "grpc-encoding: gzip",
            "user-agent: grpc-go/1.60",
            "x-trace-bin: AAEC",
        ])
        #expect(head.isPost)
        #expect(head.contentType == .grpc)
        #expect(head.timeoutNanoseconds == 5_000_000_000)
        #expect(head.problem == nil)
        #expect(head.pathField == 2)
        #expect(head.serviceRange == 1 ..< 8)
        #expect(head.methodRange == 9 ..< 12)
        #expect(head.service == "pkg.Svc")
        #expect(head.method == "Get")
        #expect(head.serviceBytes.map { Array($0) } == Array("pkg.Svc".utf8))
        #expect(head.path.map { Array($0) } == Array("/pkg.Svc/Get".utf8))
    }

    @Test(arguments: ["https", "http", "", "ftp"])
    func nativeSchemeIsAlwaysHTTP(scheme: String) {
        let head = build(.native, [(":scheme", scheme)])
        #expect(lines(head) == [":scheme: http"])
    }

    /// A client that came over TLS (`secure`): `:scheme https`, whatever it wrote.
    @Test(arguments: ["https", "http", "", "ftp"])
    func nativeSchemeOfASecureClientIsHTTPS(scheme: String) {
        var builder = CallHeadBuilder(into: Metadata(), profile: .native)
        builder.secure = true
        withBytes(":scheme") { n in withBytes(scheme) { v in builder.add(name: n, value: v) } }
        #expect(lines(builder.finish(peer: nil)) == [":scheme: https"])
    }

    /// (`:path`, service, method): nil for a path that is no gRPC path.
    @Test(arguments: [
        ("/pkg.Svc/Get", "pkg.Svc", "Get"),
        ("/a/b", "a", "b"),
        ("/trestle.demo.v1.Echo/StreamEcho", "trestle.demo.v1.Echo", "StreamEcho"),
        ("", nil, nil),
        ("/", nil, nil),
        ("//Get", nil, nil),
        ("/Svc/", nil, nil),
        ("/Svc", nil, nil),
        ("Svc/Get", nil, nil),
        ("/a/b/c", nil, nil),
        ("/Svc/Get?x=1", nil, nil),
        ("/S v/Get", nil, nil),
        ("/v1/users/42", nil, nil),
    ] as [(String, String?, String?)])
    func nativePathSplit(path: String, service: String?, method: String?) {
        let head = build(.native, [(":method", "POST"), (":path", path)])
        #expect(head.pathField == 1)
        #expect(head.path.map { String(decoding: $0, as: UTF8.self) } == path)
        #expect(head.service == service)
        #expect(head.method == method)
        #expect((head.serviceRange == nil) == (service == nil))
        #expect((head.methodRange == nil) == (method == nil))
        #expect(lines(head) == [":method: POST", ":path: \(path)"])
    }

    @Test func nativeWithoutPath() {
        let head = build(.native, [(":method", "POST"), ("content-type", "application/grpc")])
        #expect(head.pathField == -1)
        #expect(head.path == nil)
        #expect(head.serviceBytes == nil)
        #expect(head.service == nil)
        #expect(head.method == nil)
    }

    @Test(arguments: [("POST", true), ("GET", false), ("post", false), ("PUT", false), ("POSTS", false), ("", false)])
    func nativeMethod(method: String, isPost: Bool) {
        let head = build(.native, [(":method", method)])
        #expect(head.isPost == isPost)
        #expect(lines(head) == [":method: \(method)"])
    }

    @Test func nativeWithoutMethodIsNotPost() {
        #expect(!build(.native, [(":path", "/a/b")]).isPost)
    }

    /// (content-type value, nil: none sent; the head's content type).
    @Test(arguments: [
        ("application/grpc", CallHead.ContentType.grpc),
        ("application/grpc+proto", .grpc),
        ("application/grpc+json", .grpc),
        ("application/grpc;charset=utf-8", .grpc),
        ("application/json", .other),
        ("application/x-www-form-urlencoded", .other),
        ("text/plain", .other),
        ("application/gr", .other),
        ("", .other),
        (nil, .none),
    ] as [(String?, CallHead.ContentType)])
    func nativeContentType(value: String?, expected: CallHead.ContentType) {
        let fields = value.map { [("content-type", $0)] } ?? []
        let head = build(.native, fields)
        #expect(head.contentType == expected)
        #expect(lines(head) == fields.map { "\($0.0): \($0.1)" })
    }

    /// gRPC's content type is `application/grpc` optionally followed by `+subtype` (or `;`
    /// parameters): PROTOCOL-HTTP2.md "Content-Type", and grpc-go's `grpcutil.ContentSubtype`,
    /// which rejects any other byte after the prefix. gRPC-Web (`application/grpc-web…`) is
    /// another wire format; taking it for native gRPC would relay its framing as-is.
    @Test(arguments: ["application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text",
                      "application/grpcx", "application/grpc2"])
    func nativeContentTypeOnlyGRPCItself(value: String) {
        #expect(build(.native, [("content-type", value)]).contentType != .grpc)
    }

    /// gRPC-Web's forms (PROTOCOL-WEB.md "Content-Type"): binary and text, with `+proto` or no
    /// codec, parameters allowed; another codec is its own case (refused with UNIMPLEMENTED).
    @Test(arguments: [
        ("application/grpc-web", CallHead.ContentType.grpcWeb),
        ("application/grpc-web+proto", .grpcWeb),
        ("application/grpc-web; charset=utf-8", .grpcWeb),
        ("application/grpc-web-text", .grpcWebText),
        ("application/grpc-web-text+proto", .grpcWebText),
        ("application/grpc-web-text+proto;x=1", .grpcWebText),
        ("application/grpc-web+json", .grpcWebOtherCodec),
        ("application/grpc-web-text+json", .grpcWebOtherCodec),
        ("application/grpc-webx", .other),
        ("application/grpc-web-textual", .other),
        ("application/grpc", .grpc),
        ("application/grpc+proto", .grpc),
        ("application/json", .other),
    ] as [(String, CallHead.ContentType)])
    func webContentTypes(value: String, expected: CallHead.ContentType) {
        #expect(build(.native, [("content-type", value)]).contentType == expected)
    }

    @Test(arguments: [
        ("5S", UInt64(5_000_000_000)),
        ("100m", 100_000_000),
        ("1H", 3_600_000_000_000),
        ("0n", 0),
        ("99999999u", 99_999_999_000),
    ] as [(String, UInt64)])
    func nativeTimeout(value: String, nanoseconds: UInt64) {
        let head = build(.native, [(":path", "/a/b"), ("grpc-timeout", value), ("x-after", "1")])
        #expect(head.timeoutNanoseconds == nanoseconds)
        #expect(head.problem == nil)
        // Never forwarded as received: the time remaining goes out when the upstream opens.
        #expect(lines(head) == [":path: /a/b", "x-after: 1"])
    }

    @Test(arguments: ["banana", "1s", "", "123456789S", "5 S", "-1S"])
    func nativeMalformedTimeout(value: String) {
        let head = build(.native, [("grpc-timeout", value), ("x-after", "1")])
        #expect(head.timeoutNanoseconds == nil)
        #expect(head.problem == "malformed grpc-timeout \"\(value)\"")
        #expect(lines(head) == ["x-after: 1"])
    }

    @Test func malformedTimeoutText() {
        #expect(build(.native, [("grpc-timeout", "banana")]).problem == #"malformed grpc-timeout "banana""#)
        #expect(build(.translated, [("Grpc-Timeout", "banana")]).problem == #"malformed grpc-timeout "banana""#)
    }

    @Test func nativeDropsHopByHopAndFraming() {
        let head = build(.native, [
            (":path", "/a/b"),
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic eA=="),
            ("host", "api.example"),
            ("content-length", "12"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
            ("expect", "100-continue"),
            ("x-kept", "1"),
        ])
        #expect(lines(head) == [":path: /a/b", "x-kept: 1"])
    }

    /// What a native client says about its own gRPC framing goes upstream as it is.
    @Test func nativeForwardsGRPCFieldsAsReceived() {
        let head = build(.native, [
            ("te", "trailers"),
            ("grpc-encoding", "gzip"),
            ("grpc-accept-encoding", "gzip,identity"),
            ("accept-encoding", "gzip"),
            ("x-forwarded-for", "192.0.2.1"),
            ("x-user-bin", "AAEC"),
        ])
        #expect(lines(head) == [
            "te: trailers",
            "grpc-encoding: gzip",
            "grpc-accept-encoding: gzip,identity",
            "accept-encoding: gzip",
            "x-forwarded-for: 192.0.2.1",
            "x-user-bin: AAEC",
        ])
    }

    @Test func nativeDropsConnectionNamedFieldsGivenFirst() {
        let head = build(.native, [
            (":path", "/a/b"),
            ("connection", "x-secret, X-Other"),
            ("x-secret", "1"),
            ("x-public", "2"),
            ("x-other", "3"),
            ("x-secret-not", "4"),
        ], connection: ["x-secret, X-Other"])
        #expect(lines(head) == [":path: /a/b", "x-public: 2", "x-secret-not: 4"])
    }

    /// A `Connection` field's own value names nothing unless it is given first.
    @Test func nativeConnectionFieldItselfIsOnlyDropped() {
        let head = build(.native, [("connection", "x-secret"), ("x-secret", "1")])
        #expect(lines(head) == ["x-secret: 1"])
    }

    /// (the `te` value, nil: none sent; whether the client takes trailers).
    @Test(arguments: [
        ("trailers", true),
        ("deflate, trailers", true),
        ("trailers,deflate", true),
        ("gzip;q=0.5,\ttrailers ", true),
        (" trailers", true),
        ("trailersx", false),
        ("deflate", false),
        ("", false),
        (nil, false),
    ] as [(String?, Bool)])
    func nativeAcceptsTrailers(value: String?, accepts: Bool) {
        let fields = value.map { [("te", $0)] } ?? []
        let head = build(.native, fields)
        #expect(head.acceptsTrailers == accepts)
        // HTTP/2 allows only `te: trailers` upstream: exactly that, or nothing.
        #expect(lines(head) == (accepts ? ["te: trailers"] : []))
    }

    /// RFC 9110 §10.1.4: `TE = #t-codings`, `t-codings = "trailers" / …`; an ABNF literal is
    /// case-insensitive (RFC 5234 §2.3), and nghttp2 accepts any case of `trailers` in HTTP/2
    /// (`nghttp2_http.c`, `lstrieq`), so "Trailers" reaches the builder.
    @Test(arguments: ["Trailers", "TRAILERS", "deflate, Trailers"])
    func nativeAcceptsTrailersAnyCase(value: String) {
        #expect(build(.native, [("te", value)]).acceptsTrailers)
    }

    // MARK: translated

    @Test func translatedSkipsPseudoHeaders() {
        let head = build(.translated, [
            (":method", "POST"),
            (":scheme", "https"),
            (":path", "/pkg.Svc/Get"),
            (":authority", "api.example"),
            ("User-Agent", "curl/8.5"),
        ])
        #expect(lines(head) == ["user-agent: curl/8.5"])
        #expect(head.pathField == -1)
        #expect(head.serviceRange == nil)
        #expect(!head.isPost)
    }

    /// The gateway's own pseudo-headers and gRPC fields come first; the client's follow.
    @Test func translatedAppendsAfterTheGatewaysFields() {
        let metadata = Metadata()
        metadata.append(":method", "POST")
        metadata.append(":path", "/pkg.Svc/Get")
        metadata.append("content-type", "application/grpc")
        metadata.append("te", "trailers")
        let head = build(.translated, [
            ("Host", "api.example"),
            ("Content-Type", "application/json"),
            ("TE", "trailers"),
            ("Accept", "application/json"),
        ], into: metadata)
        #expect(lines(head) == [
            ":method: POST",
            ":path: /pkg.Svc/Get",
            "content-type: application/grpc",
            "te: trailers",
            "accept: application/json",
        ])
    }

    @Test(arguments: [
        ("X-Request-ID", "x-request-id"),
        ("AUTHORIZATION", "authorization"),
        ("x-lower", "x-lower"),
        ("X-Trace-Bin", "x-trace-bin"),
        ("Accept-Language", "accept-language"),
    ])
    func translatedLowerCasesNames(name: String, lowered: String) {
        let head = build(.translated, [(name, "Mixed Case Value")])
        #expect(lines(head) == ["\(lowered): Mixed Case Value"])
    }

    /// (received name, forwarded name; nil: not forwarded).
    @Test(arguments: [
        ("Grpc-Metadata-Tenant", "tenant"),
        ("grpc-metadata-tenant", "tenant"),
        ("GRPC-METADATA-TENANT", "tenant"),
        ("gRpC-mEtAdAtA-Tenant", "tenant"),
        ("Grpc-Metadata-X-Trace-Bin", "x-trace-bin"),
        ("Grpc-Metadata-Grpc-Metadata-A", nil),  // stripped once: a grpc-* name, dropped
        ("X-Grpc-Metadata-A", "x-grpc-metadata-a"),
        // The stripped name goes through the same table.
        ("Grpc-Metadata-", nil),
        ("Grpc-Metadata-Host", nil),
        ("Grpc-Metadata-Content-Type", nil),
        ("Grpc-Metadata-:path", nil),
        ("Grpc-Metadata", nil),  // a grpc-* name, not the prefix
    ] as [(String, String?)])
    func translatedStripsMetadataPrefix(name: String, forwarded: String?) {
        let head = build(.translated, [(name, "v")])
        #expect(lines(head) == (forwarded.map { ["\($0): v"] } ?? []))
    }

    @Test(arguments: [
        "Content-Type", "content-type", "TE", "te", "Accept-Encoding", "accept-encoding",
        "Grpc-Encoding", "grpc-accept-encoding", "Grpc-Status", "grpc-message", "grpc-trace-bin",
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Proxy-Connection",
        "Host", "Content-Length", "HTTP2-Settings", "Expect",
    ])
    func translatedDrops(name: String) {
        let head = build(.translated, [(name, "x"), ("x-kept", "1")])
        #expect(lines(head) == ["x-kept: 1"])
        #expect(head.contentType == .none)
    }

    @Test(arguments: [("Grpc-Timeout", "2S", UInt64(2_000_000_000)), ("grpc-timeout", "250m", 250_000_000)]
          as [(String, String, UInt64)])
    func translatedTimeout(name: String, value: String, nanoseconds: UInt64) {
        let head = build(.translated, [(name, value)])
        #expect(head.timeoutNanoseconds == nanoseconds)
        #expect(head.problem == nil)
        #expect(lines(head).isEmpty)
    }

    /// (the client's x-forwarded-for values, the peer; the one x-forwarded-for sent, nil: none).
    @Test(arguments: [
        ([String](), String?.none, String?.none),
        ([], "10.0.0.1", "10.0.0.1"),
        (["a"], nil, "a"),
        (["a, b"], "10.0.0.1", "a, b, 10.0.0.1"),
        (["a", "b"], "10.0.0.1", "a, b, 10.0.0.1"),
        (["a", "b"], nil, "a, b"),
        (["192.0.2.1"], "::1", "192.0.2.1, ::1"),
    ] as [([String], String?, String?)])
    func translatedForwardedFor(client: [String], peer: String?, expected: String?) {
        let fields = [("X-Request-Id", "r1")] + client.enumerated().map { i, v in
            (i % 2 == 0 ? "X-Forwarded-For" : "x-forwarded-for", v)
        } + [("Accept", "*/*")]
        let head = build(.translated, fields, peer: peer)
        // Collected, then sent once, last.
        #expect(lines(head) == ["x-request-id: r1", "accept: */*"] + (expected.map { ["x-forwarded-for: \($0)"] } ?? []))
        #expect(head.metadata.value("x-forwarded-for") == expected)
    }

    @Test func translatedDropsConnectionNamedFieldsAnyCase() {
        let head = build(.translated, [
            ("Connection", "X-Secret"),
            ("X-SECRET", "1"),
            ("x-public", "2"),
        ], connection: ["X-Secret, close"])
        #expect(lines(head) == ["x-public: 2"])
    }

    /// RFC 9110 §7.6.1: `Connection` names fields as they are on the wire. A client that lists
    /// `Grpc-Metadata-Secret` there means that field to stop at the gateway; it must not reach
    /// the upstream under its stripped name.
    @Test func translatedDropsConnectionNamedPrefixedField() {
        let head = build(.translated, [
            ("Connection", "Grpc-Metadata-Secret"),
            ("Grpc-Metadata-Secret", "1"),
            ("x-public", "2"),
        ], connection: ["Grpc-Metadata-Secret"])
        #expect(lines(head) == ["x-public: 2"])
    }
}

@Suite struct CallHeadBuilderTENormalisationTests {
    /// HTTP/2 allows only `te: trailers`; an upgraded HTTP/1.1 head may list more.
    @Test(arguments: [
        ("trailers", ["te: trailers"], true),
        ("gzip, trailers", ["te: trailers"], true),
        ("Trailers", ["te: trailers"], true),
        ("gzip", [], false),
    ] as [(String, [String], Bool)])
    func nativeForwardsExactlyTrailersOrNothing(value: String, forwarded: [String], accepts: Bool) {
        var b = CallHeadBuilder(into: Metadata(), profile: .native)
        var n = "te", v = value
        n.withUTF8 { nb in v.withUTF8 { vb in b.add(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
        var lines: [String] = []
        b.head.metadata.forEach { n, v in lines.append("\(String(decoding: n, as: UTF8.self)): \(String(decoding: v, as: UTF8.self))") }
        #expect(lines == forwarded)
        #expect(b.head.acceptsTrailers == accepts)
    }
}

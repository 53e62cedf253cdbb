import Channel
import Testing

@Suite struct GRPCPathTests {
    @Test(arguments: [
        ("/trestle.demo.v1.Echo/Get", "trestle.demo.v1.Echo", "Get"),
        ("/grpc.testing.TestService/UnaryCall", "grpc.testing.TestService", "UnaryCall"),
        ("/S/M", "S", "M"),
        ("/pkg.Svc/Method_With_Underscore", "pkg.Svc", "Method_With_Underscore"),
    ])
    func splits(path: String, service: String, method: String) throws {
        let ranges = try #require(withBytes(path) { GRPCPath.split($0) })
        let bytes = Array(path.utf8)
        #expect(String(decoding: bytes[ranges.service], as: UTF8.self) == service)
        #expect(String(decoding: bytes[ranges.method], as: UTF8.self) == method)
        let strings = try #require(GRPCPath.split(path))
        #expect(strings.service == service)
        #expect(strings.method == method)
    }

    @Test func rangesIndexThePath() throws {
        let ranges = try #require(withBytes("/a.B/C") { GRPCPath.split($0) })
        #expect(ranges.service == 1..<4)
        #expect(ranges.method == 5..<6)
    }

    @Test(arguments: [
        "", "/", "//", "/a/", "//b", "a/b", "/a", "/a/b/", "/a/b/c", "/a//b", "/a/b?x=1", "/a?/b",
        "/a b/c", "/a/b c", "/a/b\t", "/a/b\r\n", "/a\u{0}/b", "/a/b\u{7F}", " /a/b",
    ])
    func rejects(path: String) {
        #expect(withBytes(path) { GRPCPath.split($0) } == nil)
        #expect(GRPCPath.split(path) == nil)
    }
}

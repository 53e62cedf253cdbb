import RouteConfig
import Testing

/// `cors:` per route and at the top level (README, "gRPC-Web and CORS").
@Suite struct ConfigCORSTests {
    static let head = """
        listeners:
          - address: 127.0.0.1:8080
        clusters:
          - name: c
            endpoints: [127.0.0.1:50051]

        """

    @Test func parsedPerRouteAndTopLevel() throws {
        let yaml = Self.head + """
            cors:
              allowed_origins: ["*"]
            routes:
              - service: a.B
                cluster: c
                cors:
                  allowed_origins: ["https://App.example", "http://127.0.0.1:8000"]
                  allowed_headers: [X-Custom]
                  exposed_headers: [x-request-id]
                  max_age: 10m
                  allow_credentials: true
              - service: c.D
                cluster: c
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "r.yaml")
        let own = try #require(config.routes[0].cors)
        #expect(own.allowedOrigins == ["https://app.example", "http://127.0.0.1:8000"])
        #expect(!own.allowsAnyOrigin)
        #expect(own.allows(origin: "https://app.example"))
        #expect(!own.allows(origin: "https://app.example.evil"))
        #expect(!own.allows(origin: "http://127.0.0.1:8001"))
        #expect(own.allowHeadersValue.hasSuffix(", x-custom"))
        #expect(own.allowHeadersValue.hasPrefix("content-type, x-grpc-web, x-user-agent, grpc-timeout"))
        #expect(own.exposeHeadersValue == "grpc-status, grpc-message, grpc-status-details-bin, x-request-id")
        #expect(own.maxAgeValue == "600")
        #expect(own.allowCredentials)
        #expect(own.allowOriginValue(for: "https://app.example") == "https://app.example")
        #expect(config.routes[1].cors == nil)
        let top = try #require(config.cors)
        #expect(top.allowsAnyOrigin && top.allows(origin: "https://anything.example"))
        #expect(top.allowOriginValue(for: "https://x.example") == "*")
        #expect(config.corsPolicy(route: 1) == top)
        #expect(config.corsPolicy(route: nil) == top)
        #expect(config.corsPolicy(route: 0) == own)
    }

    @Test func errorsWithPositions() {
        let yaml = Self.head + """
            routes:
              - service: a.B
                cluster: c
                cors:
                  allowed_origins: ["https://app.example/", "app.example", "*.example", 7]
                  allowed_headers: ["x bad"]
                  max_age: soon
                  allow_credentials: yes
                  allowed_origin: []
              - service: c.D
                cluster: c
                cors:
                  allowed_headers: [x-a]
              - service: e.F
                cluster: c
                cors: [https://a.example]
            """
        let why = "expected scheme://host[:port] with no path (e.g. https://app.example), or \"*\""
        #expect(diagnostics(yaml) == [
            "r.yaml:10:25: invalid origin \"https://app.example/\": \(why)",
            "r.yaml:10:49: invalid origin \"app.example\": \(why)",
            "r.yaml:10:64: invalid origin \"*.example\": \(why)",
            "r.yaml:10:77: invalid origin \"7\": \(why)",
            "r.yaml:11:25: invalid header name \"x bad\" in allowed_headers: use letters, digits and \"-\"",
            "r.yaml:12:16: invalid duration \"soon\": expected a number and a unit, like \"30s\" or \"250ms\"",
            "r.yaml:13:26: expected true or false for \"allow_credentials\", found \"yes\"",
            "r.yaml:14:7: unknown key \"allowed_origin\" in \"cors\" in route \"a.B\"; did you mean \"allowed_origins\"?",
            "r.yaml:18:7: missing key \"allowed_origins\" in \"cors\" in route \"c.D\"",
            "r.yaml:21:11: expected a mapping for \"cors\" in route \"e.F\", found a sequence",
        ])
    }

    @Test func originsMustBeSchemeHostPort() {
        let yaml = Self.head + """
            routes:
              - service: a.B
                cluster: c
                cors:
                  allowed_origins: ["https://app.example/", "app.example", "*.example", "http://h:99999", "http://ok:8080"]
            """
        let d = diagnostics(yaml)
        let why = "expected scheme://host[:port] with no path (e.g. https://app.example), or \"*\""
        #expect(d == [
            "r.yaml:10:25: invalid origin \"https://app.example/\": \(why)",
            "r.yaml:10:49: invalid origin \"app.example\": \(why)",
            "r.yaml:10:64: invalid origin \"*.example\": \(why)",
            "r.yaml:10:77: invalid origin \"http://h:99999\": \(why)",
        ])
    }

    @Test func emptyOriginsRefused() {
        let yaml = Self.head + "cors:\n  allowed_origins: []\nroutes:\n  - service: a.B\n    cluster: c\n"
        #expect(diagnostics(yaml) == ["r.yaml:7:20: allowed_origins is empty: name at least one origin (or \"*\" for any)"])
    }
}

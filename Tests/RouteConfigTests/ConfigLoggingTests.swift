import RouteConfig
import Testing

/// `logging:` (README "Logs", "Access log").
@Suite struct ConfigLoggingTests {
    static let head = """
        listeners:
          - address: 127.0.0.1:8080
        clusters:
          - name: c
            endpoints: [127.0.0.1:50051]
        routes:
          - service: a.B
            cluster: c

        """

    @Test func defaultsWithoutTheKey() throws {
        let config = try ConfigLoader.parse(yaml: Self.head, file: "/etc/trestle/r.yaml")
        #expect(config.logging == LoggingConfig(level: "info", accessLog: nil))
    }

    @Test func levelAndAccessLogRelativeToTheFile() throws {
        let config = try ConfigLoader.parse(yaml: Self.head + "logging: {level: debug, access_log: logs/access.log}\n",
                                            file: "/etc/trestle/r.yaml")
        #expect(config.logging == LoggingConfig(level: "debug", accessLog: "/etc/trestle/logs/access.log"))
        let stdout = try ConfigLoader.parse(yaml: Self.head + "logging: {access_log: stdout}\n", file: "r.yaml")
        #expect(stdout.logging.accessLog == "stdout")
    }

    @Test func errorsWithPositions() {
        #expect(diagnostics(Self.head + "logging: {level: loud}\n") == [
            "r.yaml:9:18: unknown log level \"loud\": expected one of trace, debug, info, notice, warning, error, critical",
        ])
        #expect(diagnostics(Self.head + "logging:\n  access_log: \"\"\n") == [
            "r.yaml:10:15: \"access_log\" is empty: write \"stdout\" or a file path, or leave the key out for no access log",
        ])
        #expect(diagnostics(Self.head + "logging:\n  colour: true\n").first?.contains("colour") == true)
    }
}

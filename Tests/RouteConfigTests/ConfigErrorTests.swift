import RouteConfig
import Testing

/// Each class of routes-file error, with its exact `file:line:column: message`.
@Suite struct ConfigErrorTests {
    @Test func yamlSyntaxError() {
        #expect(diagnostics("listeners:\n  - address: [127.0.0.1:8080\nclusters: []\n") == [
            "r.yaml:3:9: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'"
        ])
        #expect(diagnostics("a: b\n c: d\n") == [
            "r.yaml:2:3: invalid YAML: mapping values are not allowed in this context"
        ])
        #expect(diagnostics("listeners:\n\t- address: x\n") == [
            "r.yaml:2:1: invalid YAML: while scanning for the next token, found character that cannot start any token"
        ])
        #expect(diagnostics(listenerHead + "routes:\n  - service: *\n    cluster: c\n") == [
            "r.yaml:4:15: invalid YAML: while scanning an alias, did not find expected alphabetic or numeric character"
                + " (a bare * starts a YAML alias: write \"*\" in quotes)"
        ])
        #expect(diagnostics("a: 1\n---\nb: 2\n") == [
            "r.yaml:2:1: invalid YAML: expected a single document in the stream, but found another document"
        ])
    }

    @Test func emptyAndNonMappingFiles() {
        #expect(diagnostics("") == ["r.yaml:1:1: the file is empty: expected \"listeners\", \"clusters\" and \"routes\""])
        #expect(diagnostics("# only a comment\n") == [
            "r.yaml:1:1: the file is empty: expected \"listeners\", \"clusters\" and \"routes\""
        ])
        #expect(diagnostics("- a\n- b\n") == ["r.yaml:1:1: expected a mapping at the top level, found a sequence"])
        #expect(diagnostics("just text\n") == ["r.yaml:1:1: expected a mapping at the top level, found \"just text\""])
    }

    @Test func unknownKeysWithSuggestions() {
        let yaml = """
            listeners:
              - address: 127.0.0.1:8080
                adress: 127.0.0.1:8081
            admim:
              address: 127.0.0.1:9901
            clusters:
              - name: echo
                endpoint: [127.0.0.1:50051]
                colour: blue
            routes:
              - service: a.B
                cluster: echo
                timout: 1s
              - servce: c.D
                cluster: echo
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:3:5: unknown key \"adress\" in listener 1; did you mean \"address\"?",
            "r.yaml:4:1: unknown key \"admim\" at the top level; did you mean \"admin\"?",
            "r.yaml:7:5: missing key \"endpoints\" in cluster \"echo\"",
            "r.yaml:8:5: unknown key \"endpoint\" in cluster \"echo\"; did you mean \"endpoints\"?",
            "r.yaml:9:5: unknown key \"colour\" in cluster \"echo\"",
            "r.yaml:13:5: unknown key \"timout\" in route \"a.B\"; did you mean \"timeout\"?",
            "r.yaml:14:5: unknown key \"servce\" in route 2; did you mean \"service\"?",
            "r.yaml:14:5: missing key \"service\" in route 2",
        ])
    }

    @Test func duplicateKeys() {
        let yaml = listenerHead + """
            clusters:
              - name: echo
                endpoints: [127.0.0.1:1]
                name: echo2
            routes: [{service: a.B, cluster: echo}]
            listeners: []
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:6:5: duplicate key \"name\" in cluster \"echo\" (first at line 4)",
            "r.yaml:8:1: duplicate key \"listeners\" at the top level (first at line 1)",
        ])
    }

    @Test func wrongNodeKinds() {
        let yaml = """
            listeners: 127.0.0.1:8080
            admin: 127.0.0.1:9901
            workers: [2]
            descriptors: demo.pb
            clusters:
              - echo
              - name: [a]
                endpoints: {a: b}
              - name: ok
                endpoints:
                  - {host: x}
                connect_timeout: [1s]
            routes:
              a.B: echo
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:1:12: expected a sequence for \"listeners\", found \"127.0.0.1:8080\"",
            "r.yaml:2:8: expected a mapping for \"admin\", found \"127.0.0.1:9901\"",
            "r.yaml:3:10: expected an integer 1-256 or \"auto\" for \"workers\", found a sequence",
            "r.yaml:4:14: expected a sequence for \"descriptors\", found \"demo.pb\"",
            "r.yaml:6:5: expected a mapping for cluster 1, found \"echo\"",
            "r.yaml:7:11: expected a string for \"name\", found a sequence",
            "r.yaml:8:16: expected a sequence for \"endpoints\", found a mapping",
            "r.yaml:11:9: expected an address \"host:port\" for endpoint 1, found a mapping",
            "r.yaml:12:22: expected a duration for \"connect_timeout\", found a sequence",
            "r.yaml:14:3: expected a sequence for \"routes\", found a mapping",
        ])
    }

    @Test func emptyValues() {
        let yaml = """
            listeners:
              - address:
            admin:
            clusters:
              - name: c
                endpoints: []
            routes:
              - service: ~
                cluster: c
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:2:13: expected an address \"host:port\" for \"address\", found an empty value",
            "r.yaml:3:7: expected a mapping for \"admin\", found an empty value",
            "r.yaml:6:16: no endpoints in cluster \"c\": add at least one host:port",
            "r.yaml:8:14: expected a service name or pattern for \"service\", found an empty value",
        ])
    }

    @Test func missingSections() {
        #expect(diagnostics("workers: 2\n") == [
            "r.yaml:1:1: missing key \"listeners\" at the top level",
            "r.yaml:1:1: missing key \"clusters\" at the top level",
            "r.yaml:1:1: missing key \"routes\" at the top level",
        ])
        // Without a clusters section, routes are not checked against it: one error, not one per route.
        #expect(diagnostics(listenerHead + "routes: [{service: a.B, cluster: echo}]\n") == [
            "r.yaml:1:1: missing key \"clusters\" at the top level"
        ])
        #expect(diagnostics("listeners: []\nclusters: []\nroutes: []\n") == [
            "r.yaml:1:12: no listeners: add at least one {address: IP:PORT} under \"listeners\"",
            "r.yaml:2:11: no clusters: add at least one under \"clusters\"",
            "r.yaml:3:9: no routes: add at least one under \"routes\" (nothing unmatched is forwarded)",
        ])
    }

    @Test func missingKeysPointAtTheMapping() {
        let yaml = """
            listeners:
              - {}
            admin: {port: 1}
            clusters:
              - endpoints: [127.0.0.1:1]
            routes:
              - service: a.B
              - cluster: c
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:2:5: missing key \"address\" in listener 1",
            "r.yaml:3:8: missing key \"address\" in admin",
            "r.yaml:3:9: unknown key \"port\" in admin",
            "r.yaml:5:5: missing key \"name\" in cluster 1",
            "r.yaml:7:5: missing key \"cluster\" in route \"a.B\"",
            "r.yaml:8:5: missing key \"service\" in route 2",
            "r.yaml:8:14: cluster \"c\" is not defined",  // the cluster without a name is not "c"
        ])
    }

    @Test func duplicateClusters() {
        let yaml = listenerHead + """
            clusters:
              - name: echo
                endpoints: [127.0.0.1:1]
              - name: other
                endpoints: [127.0.0.1:2]
              - name: echo
                endpoints: [127.0.0.1:3]
            routes: [{service: a.B, cluster: echo}]
            """
        #expect(diagnostics(yaml) == ["r.yaml:8:11: duplicate cluster \"echo\" (first defined at line 4)"])
    }

    @Test func undefinedClusters() {
        let yaml = listenerHead + """
            clusters:
              - name: billing-v2
                endpoints: [127.0.0.1:1]
            routes:
              - service: acme.billing.*
                cluster: billing
              - service: a.B
                cluster: billing-v3
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:8:14: cluster \"billing\" is not defined",
            "r.yaml:10:14: cluster \"billing-v3\" is not defined; did you mean \"billing-v2\"?",
        ])
    }

    @Test func duplicateRoutePatterns() {
        let yaml = listenerHead + """
            clusters: [{name: c, endpoints: [127.0.0.1:1]}]
            routes:
              - service: a.B
                cluster: c
              - service: acme.*
                cluster: c
              - service: a.B
                cluster: c
              - service: acme.*
                cluster: c
              - service: "*"
                cluster: c
              - service: '*'
                cluster: c
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:9:14: duplicate route for \"a.B\" (first defined at line 5)",
            "r.yaml:11:14: duplicate route for \"acme.*\" (first defined at line 7)",
            "r.yaml:15:14: duplicate route for \"*\" (first defined at line 13)",
        ])
    }

    @Test func malformedServicePatterns() {
        let yaml = listenerHead + """
            clusters: [{name: c, endpoints: [127.0.0.1:1]}]
            routes:
              - {service: "a..b", cluster: c}
              - {service: "a.*.b", cluster: c}
              - {service: "a.", cluster: c}
              - {service: "", cluster: c}
              - {service: "a/b", cluster: c}
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:5:15: invalid service pattern \"a..b\": empty name segment",
            "r.yaml:6:15: invalid service pattern \"a.*.b\": \"*\" may stand only alone or as a final \".*\"",
            "r.yaml:7:15: invalid service pattern \"a.\": empty name segment",
            "r.yaml:8:15: service pattern is empty",
            "r.yaml:9:15: invalid service pattern \"a/b\": \"/\" is not allowed (use letters, digits, \"_\" and \".\")",
        ])
    }

    @Test func badAddresses() {
        let yaml = """
            listeners:
              - address: x:99999
              - address: localhost:8080
              - address: 127.0.0.1:8080
              - address: 127.0.0.1:8080
            admin:
              address: 127.0.0.1:8080
            clusters:
              - name: c
                endpoints: ["::1:50051", "[::1]:50051", "[::1]:50051", "h:0"]
            routes: [{service: a.B, cluster: c}]
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:2:14: invalid address \"x:99999\": port must be 1-65535",
            "r.yaml:3:14: invalid listener address \"localhost:8080\": the host must be an IP address, not a name",
            "r.yaml:5:14: duplicate listener address 127.0.0.1:8080 (first at line 4)",
            "r.yaml:7:12: admin address 127.0.0.1:8080 is also listener 1 (line 4)",
            "r.yaml:10:17: invalid address \"::1:50051\": an IPv6 address must be in brackets, like \"[::1]:8080\"",
            "r.yaml:10:45: duplicate endpoint [::1]:50051 in cluster \"c\"",
            "r.yaml:10:60: invalid address \"h:0\": port must be 1-65535",
        ])
    }

    @Test func badDurationsAndSizes() {
        let yaml = listenerHead + """
            shutdown_grace: 10
            stream_window: 1KiB
            max_concurrent_streams: 0
            clusters:
              - name: c
                endpoints: [127.0.0.1:1]
                connect_timeout: 0s
                backoff_base: 20s
                backoff_max: 10s
                max_connections: 0
                max_pending: -1
                max_streams_per_connection: lots
              - name: d
                endpoints: [127.0.0.1:2]
                connect_timeout: 5 sec
            routes:
              - service: a.B
                cluster: c
                timeout: 1.5
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:3:17: invalid duration \"10\": a unit is needed (ns, us, ms, s, m or h), like \"10s\"",
            "r.yaml:4:16: stream_window must be 65535-2147483647 bytes, got 1024",
            "r.yaml:5:25: max_concurrent_streams must be 1-2147483647, got 0",
            "r.yaml:9:22: connect_timeout must be greater than 0",
            "r.yaml:10:19: backoff_base (20000ms) must not exceed backoff_max (10000ms)",
            "r.yaml:12:22: max_connections must be at least 1, got 0",
            "r.yaml:13:18: max_pending must be at least 1, got -1",
            "r.yaml:14:33: expected an integer for \"max_streams_per_connection\", found \"lots\"",
            "r.yaml:17:22: invalid duration \"5 sec\": unknown unit \" sec\" (use ns, us, ms, s, m or h)",
            "r.yaml:21:14: invalid duration \"1.5\": a unit is needed (ns, us, ms, s, m or h), like \"1.5s\"",
        ])
    }

    @Test func badWorkersAndNames() {
        let yaml = listenerHead + """
            workers: 0
            clusters:
              - name: "my cluster"
                endpoints: [127.0.0.1:1]
            routes: [{service: a.B, cluster: "my cluster"}]
            """
        #expect(diagnostics(yaml) == [
            "r.yaml:3:10: workers must be 1-256 or \"auto\", got 0",
            "r.yaml:5:11: invalid cluster name \"my cluster\": use letters, digits, \"-\", \"_\" and \".\"",
        ])
    }

    /// Errors of every section are collected in one pass, in file order.
    @Test func multipleErrorsCollectedAtOnce() {
        let yaml = """
            listeners:
              - address: 127.0.0.1:80800
            workers: many
            clusters:
              - name: echo
                endpoint: [127.0.0.1:50051]
              - name: echo
                endpoints: [127.0.0.1:50052]
            routes:
              - service: trestle.demo.v1.Echo
                cluster: echoo
              - service: acme.billing.*
                cluster: billing
                timeout: 30
            """
        let errors = diagnostics(yaml, file: "routes.yaml")
        #expect(errors == [
            "routes.yaml:2:14: invalid address \"127.0.0.1:80800\": port must be 1-65535",
            "routes.yaml:3:10: expected an integer 1-256 or \"auto\" for \"workers\", found \"many\"",
            "routes.yaml:5:5: missing key \"endpoints\" in cluster \"echo\"",
            "routes.yaml:6:5: unknown key \"endpoint\" in cluster \"echo\"; did you mean \"endpoints\"?",
            "routes.yaml:7:11: duplicate cluster \"echo\" (first defined at line 5)",
            "routes.yaml:11:14: cluster \"echoo\" is not defined; did you mean \"echo\"?",
            "routes.yaml:13:14: cluster \"billing\" is not defined",
            "routes.yaml:14:14: invalid duration \"30\": a unit is needed (ns, us, ms, s, m or h), like \"30s\"",
        ])
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "routes.yaml")
        } catch {
            #expect(error.description == errors.joined(separator: "\n"))
        }
    }
}

import Channel
import Testing

@Suite struct ServicePatternTests {
    @Test(arguments: [
        ("trestle.demo.v1.Echo", ServicePattern.exact("trestle.demo.v1.Echo")),
        ("Echo", .exact("Echo")),
        ("acme.billing.*", .prefix("acme.billing")),
        ("acme.*", .prefix("acme")),
        ("v1_2.Svc_3", .exact("v1_2.Svc_3")),
        ("*", .any),
    ])
    func parses(text: String, pattern: ServicePattern) {
        #expect(ServicePattern(parsing: text) == pattern)
        #expect(pattern.description == text)
    }

    @Test(arguments: [
        ("", "service pattern is empty"),
        ("a..b", "invalid service pattern \"a..b\": empty name segment"),
        ("a.", "invalid service pattern \"a.\": empty name segment"),
        (".a", "invalid service pattern \".a\": empty name segment"),
        (".*", "invalid service pattern \".*\": empty name segment"),
        ("a..*", "invalid service pattern \"a..*\": empty name segment"),
        ("a.*.b", "invalid service pattern \"a.*.b\": \"*\" may stand only alone or as a final \".*\""),
        ("a*", "invalid service pattern \"a*\": \"*\" may stand only alone or as a final \".*\""),
        ("a.b*", "invalid service pattern \"a.b*\": \"*\" may stand only alone or as a final \".*\""),
        ("**", "invalid service pattern \"**\": \"*\" may stand only alone or as a final \".*\""),
        ("a.**", "invalid service pattern \"a.**\": \"*\" may stand only alone or as a final \".*\""),
        ("a b", "invalid service pattern \"a b\": \" \" is not allowed (use letters, digits, \"_\" and \".\")"),
        ("a/b", "invalid service pattern \"a/b\": \"/\" is not allowed (use letters, digits, \"_\" and \".\")"),
        ("ü.X", "invalid service pattern \"ü.X\": \"ü\" is not allowed (use letters, digits, \"_\" and \".\")"),
    ])
    func rejects(text: String, message: String) {
        #expect(ServicePattern(parsing: text) == nil)
        guard case .failure(let error) = ServicePattern.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.description == message)
    }

    @Test(arguments: [
        ("acme.billing.*", "acme.billing.Ledger", true),
        ("acme.billing.*", "acme.billing.v2.Ledger", true),
        ("acme.billing.*", "acme.billingx.Ledger", false),
        ("acme.billing.*", "acme.billing", false),
        ("acme.billing.*", "acme.Billing", false),
        ("a.B", "a.B", true),
        ("a.B", "a.BB", false),
        ("*", "anything.At.All", true),
    ])
    func matches(pattern: String, service: String, expected: Bool) throws {
        let pattern = try #require(ServicePattern(parsing: pattern))
        #expect(pattern.matches(service) == expected)
    }
}

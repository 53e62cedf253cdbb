import Channel
import Testing

@Suite struct ServiceRouterTests {
    static let router = ServiceRouter<String>([
        (.exact("acme.billing.Ledger"), "exact-ledger"),
        (.prefix("acme.billing"), "billing"),
        (.prefix("acme"), "acme"),
        (.prefix("acme.billing.v2"), "billing-v2"),
        (.exact("Top"), "top"),
        (.any, "any"),
    ])

    static let noFallback = ServiceRouter<String>([
        (.exact("trestle.demo.v1.Echo"), "demo"),
        (.prefix("acme.billing"), "billing"),
    ])

    @Test(arguments: [
        ("acme.billing.Ledger", "exact-ledger"),  // exact beats every prefix
        ("acme.billing.Invoice", "billing"),
        ("acme.billing.v2.Ledger", "billing-v2"),  // longest prefix wins, wherever it was listed
        ("acme.billing.v3.Ledger", "billing"),
        ("acme.billingx.Ledger", "acme"),  // a prefix matches whole segments only
        ("acme.Other", "acme"),
        ("acme", "any"),  // a prefix needs a service below it
        ("acme.", "any"),
        ("acmex.Foo", "any"),
        ("Top", "top"),
        ("top", "any"),  // names are case-sensitive
        ("other.Svc", "any"),
        ("", "any"),
    ])
    func precedence(service: String, expected: String) {
        #expect(Self.router.route(service: service) == expected)
        #expect(withBytes(service) { Self.router.route(service: $0) } == expected)
    }

    @Test(arguments: [
        ("trestle.demo.v1.Echo", "demo" as String?),
        ("trestle.demo.v1.Echo2", nil),
        ("trestle.demo.v1", nil),
        ("acme.billing.X", "billing"),
        ("acme.billing", nil),
        ("acme.billingx.X", nil),
        ("unknown.Svc", nil),
        ("", nil),
    ])
    func noRouteIsNil(service: String, expected: String?) {
        #expect(Self.noFallback.route(service: service) == expected)
        #expect(withBytes(service) { Self.noFallback.route(service: $0) } == expected)
    }

    @Test func firstEntryWinsOnDuplicates() {
        let router = ServiceRouter<Int>([
            (.exact("a.B"), 1), (.exact("a.B"), 2),
            (.prefix("a"), 3), (.prefix("a"), 4),
            (.any, 5), (.any, 6),
        ])
        #expect(router.route(service: "a.B") == 1)
        #expect(router.route(service: "a.C") == 3)
        #expect(router.route(service: "b.C") == 5)
    }

    @Test func emptyRouterRoutesNothing() {
        let router = ServiceRouter<Int>([])
        #expect(router.route(service: "a.B") == nil)
        #expect(router.route(service: "") == nil)
    }

    @Test func manyEntriesWithCollidingProbes() {
        var entries: [(pattern: ServicePattern, target: Int)] = []
        for index in 0..<2000 {
            entries.append((.exact("pkg\(index % 37).Service\(index)"), index))
            entries.append((.prefix("pkg\(index).sub"), 10_000 + index))
        }
        let router = ServiceRouter(entries)
        for index in 0..<2000 {
            #expect(router.route(service: "pkg\(index % 37).Service\(index)") == index)
            #expect(router.route(service: "pkg\(index).sub.X") == 10_000 + index)
            #expect(router.route(service: "pkg\(index).subX.X") == nil)
            #expect(router.route(service: "pkg\(index % 37).Service\(index)x") == nil)
        }
    }

    @Test func agreesWithPatternMatching() {
        // The router's precedence, spelt out with ServicePattern.matches over a small corpus.
        let patterns: [ServicePattern] = [.exact("a.b.C"), .prefix("a"), .prefix("a.b"), .prefix("b.c.d"), .exact("b.C")]
        let router = ServiceRouter(patterns.map { (pattern: $0, target: $0) })
        let services = ["a.b.C", "a.b.D", "a.C", "a.bb.C", "b.c.d.E", "b.c.E", "b.C", "c.D", "a", "a.b"]
        for service in services {
            let candidates = patterns.filter { $0.matches(service) }
            let expected =
                candidates.first { if case .exact = $0 { true } else { false } }
                ?? candidates.max { $0.description.count < $1.description.count }
            #expect(router.route(service: service) == expected, "\(service)")
        }
    }
}

import Channel
import Yams

/// `routes`: which services go to which cluster.
extension ConfigParser {
    static let routeKeys = [
        "service", "cluster", "timeout", "max_request_body",
        "json_emit_defaults", "json_enums_as_numbers", "json_original_names", "cors",
        "upstream_json_codec",
    ]

    /// `routes: [{service: PATTERN, cluster: NAME, timeout: DURATION}, ...]`: at least one,
    /// patterns unique, clusters defined. `clusterIndex` is nil when the clusters section was
    /// missing or unreadable: then no route is checked against it (that error is reported).
    mutating func parseRoutes(_ node: Node, clusterIndex: [String: Int]?) -> [RouteEntry] {
        guard let items = sequence(node, for: "\"routes\"") else { return [] }
        guard !items.isEmpty else {
            report(node, "no routes: add at least one under \"routes\" (nothing unmatched is forwarded)")
            return []
        }
        var routes: [RouteEntry] = []
        var patternLines: [ServicePattern: Int] = [:]
        for (index, item) in items.enumerated() {
            guard let mapping = mapping(item, for: "route \(index + 1)") else { continue }
            let section = Node.mapping(mapping).firstValue(forKey: "service")?.scalarText.map { "in route \"\($0)\"" } ?? "in route \(index + 1)"
            let fields = fields(of: mapping, section: section, allowed: Self.routeKeys)

            var pattern: ServicePattern?
            if let serviceNode = required("service", in: fields),
                let text = scalar(serviceNode, expected: "a service name or pattern", for: "\"service\"")
            {
                switch ServicePattern.parse(text) {
                case .failure(let error):
                    report(serviceNode, error.description)
                case .success(let parsed):
                    if let firstLine = patternLines[parsed] {
                        report(serviceNode, "duplicate route for \"\(parsed)\" (first defined at line \(firstLine))")
                    } else {
                        patternLines[parsed] = serviceNode.mark?.line ?? 1
                        pattern = parsed
                    }
                }
            }

            var cluster: (name: String, index: Int)?
            if let clusterNode = required("cluster", in: fields),
                let name = scalar(clusterNode, expected: "a cluster name", for: "\"cluster\"")
            {
                if let clusterIndex {
                    if let index = clusterIndex[name] {
                        cluster = (name, index)
                    } else {
                        var message = "cluster \"\(name)\" is not defined"
                        if let suggestion = Suggestion.closest(to: name, in: clusterIndex.keys.sorted()) {
                            message += "; did you mean \"\(suggestion)\"?"
                        }
                        report(clusterNode, message)
                    }
                }
            }

            var timeoutMs: UInt64?
            if let timeoutNode = fields["timeout"] {
                timeoutMs = milliseconds(timeoutNode, key: "timeout", allowZero: false)
            }

            let maxBody = fields["max_request_body"].flatMap { size($0, key: "max_request_body", range: 1...(1 << 30)) }
            let emitDefaults = fields["json_emit_defaults"].flatMap { boolean($0, key: "json_emit_defaults") }
            let enumsAsNumbers = fields["json_enums_as_numbers"].flatMap { boolean($0, key: "json_enums_as_numbers") }
            let originalNames = fields["json_original_names"].flatMap { boolean($0, key: "json_original_names") }
            let cors = fields["cors"].flatMap { parseCORS($0, section: section) }
            let upstreamJSON = fields["upstream_json_codec"].flatMap { boolean($0, key: "upstream_json_codec") }

            if let pattern, let cluster {
                var route = RouteEntry(service: pattern, cluster: cluster.name, clusterIndex: cluster.index,
                                       timeoutMs: timeoutMs,
                                       maxRequestBodyBytes: maxBody ?? RouteEntry.defaultMaxRequestBodyBytes)
                route.jsonEmitDefaults = emitDefaults ?? false
                route.jsonEnumsAsNumbers = enumsAsNumbers ?? false
                route.jsonOriginalNames = originalNames ?? false
                route.cors = cors
                route.upstreamJSONCodec = upstreamJSON ?? false
                routes.append(route)
            }
        }
        return routes
    }
}

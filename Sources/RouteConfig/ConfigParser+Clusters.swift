import Yams

/// `clusters`: the upstreams that routes name.
extension ConfigParser {
    static let clusterKeys = [
        "name", "endpoints", "connect_timeout", "max_connections", "max_streams_per_connection",
        "max_pending", "backoff_base", "backoff_max", "tls", "dns_refresh",
    ]

    /// `clusters: [{name: ..., endpoints: [...], ...}, ...]`: at least one, names unique.
    /// `indexByName` holds every cluster that has a usable name, even one with other errors, so
    /// that routes to it do not add "not defined" errors on top.
    mutating func parseClusters(_ node: Node) -> (clusters: [ClusterConfig], indexByName: [String: Int]?) {
        guard let items = sequence(node, for: "\"clusters\"") else { return ([], nil) }
        guard !items.isEmpty else {
            report(node, "no clusters: add at least one under \"clusters\"")
            return ([], nil)
        }
        var clusters: [ClusterConfig] = []
        var indexByName: [String: Int] = [:]
        var nameLines: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            guard let mapping = mapping(item, for: "cluster \(index + 1)") else { continue }
            // Name the section by the cluster's name when it has a readable one.
            let rawName = Node.mapping(mapping).firstValue(forKey: "name")?.scalarText
            let section = rawName.map { "in cluster \"\($0)\"" } ?? "in cluster \(index + 1)"
            let fields = fields(of: mapping, section: section, allowed: Self.clusterKeys)

            var name: String?
            if let nameNode = required("name", in: fields),
                let text = scalar(nameNode, expected: "a string", for: "\"name\"")
            {
                if let firstLine = nameLines[text] {
                    report(nameNode, "duplicate cluster \"\(text)\" (first defined at line \(firstLine))")
                } else if !Self.isValidClusterName(text) {
                    report(nameNode, "invalid cluster name \"\(text)\": use letters, digits, \"-\", \"_\" and \".\"")
                    name = text
                } else {
                    name = text
                }
                if nameLines[text] == nil { nameLines[text] = nameNode.mark?.line ?? 1 }
            }
            let cluster = parseCluster(fields, name: name ?? "", section: section)
            if let name {
                indexByName[name] = clusters.count
                clusters.append(cluster)
            }
        }
        return (clusters, indexByName)
    }

    private mutating func parseCluster(_ fields: MappingFields, name: String, section: String) -> ClusterConfig {
        var cluster = ClusterConfig(name: name, endpoints: [])
        if let node = required("endpoints", in: fields) {
            cluster.endpoints = parseEndpoints(node, cluster: name, section: section)
        }
        if let node = fields["connect_timeout"], let value = milliseconds(node, key: "connect_timeout", allowZero: false) {
            cluster.connectTimeoutMs = value
        }
        if let node = fields["max_connections"], let value = integer(node, key: "max_connections", range: 1...Int.max) {
            cluster.maxConnections = value
        }
        if let node = fields["max_streams_per_connection"],
            let value = integer(node, key: "max_streams_per_connection", range: 1...Int(Int32.max))
        {
            cluster.maxStreamsPerConnection = value
        }
        if let node = fields["max_pending"], let value = integer(node, key: "max_pending", range: 1...Int.max) {
            cluster.maxPendingCalls = value
        }
        let base = fields["backoff_base"].flatMap { milliseconds($0, key: "backoff_base", allowZero: false) }
        let max = fields["backoff_max"].flatMap { milliseconds($0, key: "backoff_max", allowZero: false) }
        if let base { cluster.backoffBaseMs = base }
        if let max { cluster.backoffMaxMs = max }
        if base != nil || max != nil, cluster.backoffBaseMs > cluster.backoffMaxMs,
            let node = fields["backoff_base"] ?? fields["backoff_max"]
        {
            report(node, "backoff_base (\(cluster.backoffBaseMs)ms) must not exceed backoff_max (\(cluster.backoffMaxMs)ms)")
        }
        if let node = fields["tls"] { cluster.tls = parseClusterTLS(node, cluster: name) }
        if let node = fields["dns_refresh"], let value = milliseconds(node, key: "dns_refresh", allowZero: false) {
            cluster.dnsRefreshMs = value
        }
        return cluster
    }

    private mutating func parseEndpoints(_ node: Node, cluster: String, section: String) -> [SocketAddress] {
        guard let items = sequence(node, for: "\"endpoints\"") else { return [] }
        guard !items.isEmpty else {
            report(node, "no endpoints \(section): add at least one host:port")
            return []
        }
        var endpoints: [SocketAddress] = []
        for (index, item) in items.enumerated() {
            guard let address = address(item, for: "endpoint \(index + 1)") else { continue }
            if endpoints.contains(address) {
                report(item, "duplicate endpoint \(address) \(section)")
                continue
            }
            endpoints.append(address)
        }
        return endpoints
    }

    static func isValidClusterName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                    true
                default:
                    false
                }
            }
    }
}

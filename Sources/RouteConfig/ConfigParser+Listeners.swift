import Yams

/// `listeners` and `admin`: the sockets the gateway binds.
extension ConfigParser {
    static let listenerKeys = ["address", "tls"]
    static let adminKeys = ["address"]

    /// `listeners: [{address: IP:PORT, tls: {...}}, ...]`: at least one, no address twice.
    /// Returns the addresses and, parallel to them, their nodes and their `tls` (nil: cleartext).
    mutating func parseListeners(_ node: Node) -> ([SocketAddress], [Node], [ListenerTLSConfig?]) {
        guard let items = sequence(node, for: "\"listeners\"") else { return ([], [], []) }
        guard !items.isEmpty else {
            report(node, "no listeners: add at least one {address: IP:PORT} under \"listeners\"")
            return ([], [], [])
        }
        var addresses: [SocketAddress] = []
        var nodes: [Node] = []
        var tls: [ListenerTLSConfig?] = []
        for (index, item) in items.enumerated() {
            let what = "listener \(index + 1)"
            guard let mapping = mapping(item, for: what) else { continue }
            let fields = fields(of: mapping, section: "in \(what)", allowed: Self.listenerKeys)
            let listenerTLS = fields["tls"].flatMap { parseListenerTLS($0, listener: what) }
            guard let addressNode = required("address", in: fields),
                let address = address(addressNode, for: "\"address\"", requireIP: "listener")
            else { continue }
            if let first = addresses.firstIndex(of: address) {
                report(addressNode, "duplicate listener address \(address) (first at line \(nodes[first].mark?.line ?? 1))")
                continue
            }
            addresses.append(address)
            nodes.append(addressNode)
            tls.append(listenerTLS)
        }
        return (addresses, nodes, tls)
    }

    /// `admin: {address: IP:PORT}`.
    mutating func parseAdmin(_ node: Node) -> SocketAddress? {
        guard let mapping = mapping(node, for: "\"admin\"") else { return nil }
        let fields = fields(of: mapping, section: "in admin", allowed: Self.adminKeys)
        guard let addressNode = required("address", in: fields) else { return nil }
        return address(addressNode, for: "\"address\"", requireIP: "admin")
    }
}

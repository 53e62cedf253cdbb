import Channel
import Transcoding
import Yams

/// Turns the composed YAML of a routes file into a `GatewayConfig`, collecting every error it
/// finds (with the line and column of the offending key or value) instead of stopping at the
/// first. Used once per load by `ConfigLoader`; not shared.
struct ConfigParser {
    static let topLevelKeys = [
        "listeners", "admin", "workers", "descriptors", "clusters", "routes",
        "shutdown_grace", "max_concurrent_streams", "stream_window", "preface_timeout", "idle_timeout", "cors", "logging",
    ] + limitKeys

    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Not errors: the config loads, and `trestle check` and the gateway print these.
    private(set) var warnings: [ConfigDiagnostic] = []

    init(file: String) {
        self.file = file
    }

    /// Records an error at `mark` (1:1 when the node has none).
    mutating func report(_ mark: Mark?, _ message: String) {
        diagnostics.append(
            ConfigDiagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }

    /// Records an error at `node`.
    mutating func report(_ node: Node, _ message: String) {
        report(node.mark, message)
    }

    /// Records a warning at `node`.
    mutating func warn(_ node: Node, _ message: String) {
        warnings.append(
            ConfigDiagnostic(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, message: message))
    }

    /// The config in `root` (nil for an empty document); nil when any error was reported.
    mutating func parseDocument(_ root: Node?) -> GatewayConfig? {
        guard let root, !root.isNullScalar else {
            report(nil, "the file is empty: expected \"listeners\", \"clusters\" and \"routes\"")
            return nil
        }
        guard case .mapping(let mapping) = root else {
            report(root, "expected a mapping at the top level, found \(root.foundDescription)")
            return nil
        }
        let top = fields(of: mapping, section: "at the top level", allowed: Self.topLevelKeys)

        var listeners: [SocketAddress] = []
        var listenerNodes: [Node] = []
        var listenerTLS: [ListenerTLSConfig?] = []
        if let node = required("listeners", in: top) {
            (listeners, listenerNodes, listenerTLS) = parseListeners(node)
        }
        var admin: SocketAddress?
        if let node = top["admin"] {
            admin = parseAdmin(node)
            if let admin, let index = listeners.firstIndex(of: admin), let adminNode = node.firstValue(forKey: "address") {
                report(adminNode, "admin address \(admin) is also listener \(index + 1) (line \(listenerNodes[index].mark?.line ?? 1))")
            }
        }
        let workers = top["workers"].flatMap { parseWorkers($0) } ?? Self.onlineProcessors()
        let descriptorNodes = top["descriptors"].map { parseDescriptors($0) } ?? []
        let descriptors = descriptorNodes.map(\.path)
        let shutdownGrace = top["shutdown_grace"].flatMap { milliseconds($0, key: "shutdown_grace", allowZero: true) }
        let maxStreams = top["max_concurrent_streams"].flatMap {
            integer($0, key: "max_concurrent_streams", range: 1...Int(Int32.max))
        }
        let prefaceTimeout = top["preface_timeout"].flatMap { milliseconds($0, key: "preface_timeout", allowZero: false) }
        let idleTimeout = top["idle_timeout"].flatMap { milliseconds($0, key: "idle_timeout", allowZero: false) }
        let limits = parseLimits(top)
        let window = top["stream_window"].flatMap {
            size($0, key: "stream_window", range: GatewayConfig.streamWindowRange)
        }

        let cors = top["cors"].flatMap { parseCORS($0, section: "at the top level") }
        let logging = top["logging"].flatMap { parseLogging($0) }

        var clusters: [ClusterConfig] = []
        var clusterIndex: [String: Int]?
        if let node = required("clusters", in: top) {
            let parsed = parseClusters(node)
            clusters = parsed.clusters
            clusterIndex = parsed.indexByName
        }
        var routes: [RouteEntry] = []
        if let node = required("routes", in: top) {
            routes = parseRoutes(node, clusterIndex: clusterIndex)
        }

        guard diagnostics.isEmpty else { return nil }
        let registry = loadDescriptors(descriptorNodes, sectionNode: top["descriptors"])
        guard diagnostics.isEmpty else { return nil }
        var httpRoutes: HTTPRouteTable?
        if !descriptorNodes.isEmpty {
            let router = ServiceRouter(routes.enumerated().map { (pattern: $0.element.service, target: $0.offset) })
            do {
                httpRoutes = try HTTPRouteTable(registry: registry, services: { router.route(service: $0) != nil })
            } catch {
                report(top["descriptors"]?.mark ?? descriptorNodes[0].node.mark, error.message)
                return nil
            }
        }
        var config = GatewayConfig(
            file: file,
            listeners: listeners,
            admin: admin,
            workers: workers,
            descriptors: descriptors,
            clusters: clusters,
            routes: routes,
            shutdownGraceMs: shutdownGrace ?? GatewayConfig.defaultShutdownGraceMs,
            maxConcurrentStreams: maxStreams ?? GatewayConfig.defaultMaxConcurrentStreams,
            streamWindowBytes: window ?? GatewayConfig.defaultStreamWindowBytes)
        config.prefaceTimeoutMs = prefaceTimeout ?? GatewayConfig.defaultPrefaceTimeoutMs
        config.idleTimeoutMs = idleTimeout ?? GatewayConfig.defaultIdleTimeoutMs
        config.limits = limits
        config.listenerTLS = listenerTLS
        config.cors = cors
        config.logging = logging ?? LoggingConfig()
        config.warnings = warnings
        config.registry = registry
        config.httpRoutes = httpRoutes
        return config
    }

    /// `workers`: an integer 1...256 or `auto`.
    private mutating func parseWorkers(_ node: Node) -> Int? {
        if node.scalarText == "auto" { return Self.onlineProcessors() }
        guard let text = node.scalarText, let value = Int(text) else {
            report(node, "expected an integer 1-256 or \"auto\" for \"workers\", found \(node.foundDescription)")
            return nil
        }
        guard (1...256).contains(value) else {
            report(node, "workers must be 1-256 or \"auto\", got \(value)")
            return nil
        }
        return value
    }

    /// `descriptors`: a sequence of paths, each resolved relative to the config file's folder.
    private mutating func parseDescriptors(_ node: Node) -> [(path: String, node: Node)] {
        guard let items = sequence(node, for: "\"descriptors\"") else { return [] }
        var paths: [(String, Node)] = []
        for (index, item) in items.enumerated() {
            guard let path = item.scalarText, !path.isEmpty else {
                report(item, "expected a file path for descriptor \(index + 1), found \(item.foundDescription)")
                continue
            }
            paths.append((Self.resolve(path, relativeTo: file), item))
        }
        return paths
    }

    /// Reads the descriptor sets and builds the registry; a file that cannot be read is reported
    /// at its entry, a set that does not fit (an undefined type, a name defined twice) at the
    /// `descriptors` key.
    private mutating func loadDescriptors(_ entries: [(path: String, node: Node)], sectionNode: Node?) -> DescriptorRegistry {
        guard !entries.isEmpty else { return DescriptorRegistry() }
        var sets: [(name: String, bytes: [UInt8])] = []
        for entry in entries {
            switch ConfigLoader.readFile(entry.path) {
            case .failure(let reason):
                report(entry.node, "cannot read descriptor set \(entry.path): \(reason.text)")
            case .success(let bytes):
                sets.append((entry.path, bytes))
            }
        }
        guard diagnostics.isEmpty else { return DescriptorRegistry() }
        do {
            return try DescriptorRegistry(fileDescriptorSets: sets)
        } catch {
            report(sectionNode?.mark ?? entries[0].node.mark, error.message)
            return DescriptorRegistry()
        }
    }

    /// `path` as seen from the current directory, when it is written relative to the folder
    /// of `configFile`.
    static func resolve(_ path: String, relativeTo configFile: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = configFile.lastIndex(of: "/") else { return path }
        let folder = configFile[...slash]
        return folder + path
    }

    /// The number of online CPUs, at least 1 and at most 256.
    static func onlineProcessors() -> Int {
        min(max(SystemInfo.onlineProcessorCount, 1), 256)
    }
}

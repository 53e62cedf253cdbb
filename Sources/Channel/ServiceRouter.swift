/// Routes a gRPC service name to a target: compiled once per config, then read concurrently by
/// every worker (it is an immutable value).
///
/// Precedence: an exact service name, else the longest package prefix (`acme.billing.*` before
/// `acme.*`), else `*`, else nil — nothing is forwarded that no route names.
///
/// `route(service:)` runs once per request and does not allocate: the exact names and the
/// prefixes live in two open-addressing hash tables keyed by bytes (FNV-1a, bytes compared on a
/// hash hit; see `ByteKeyTable`). A prefix lookup probes the prefix table once for each `.` in
/// the service name, from the right, so the first hit is the longest prefix.
public struct ServiceRouter<Target: Sendable>: Sendable {
    private let targets: [Target]
    private let exact: ByteKeyTable
    private let prefixes: ByteKeyTable
    private let fallback: Target?

    /// Compiles `entries`. On a duplicate pattern the first entry wins (the routes file rejects
    /// duplicates before this).
    public init(_ entries: [(pattern: ServicePattern, target: Target)]) {
        var targets: [Target] = []
        let exact = ByteKeyTable(capacity: entries.count)
        let prefixes = ByteKeyTable(capacity: entries.count)
        var fallback: Target?
        for entry in entries {
            switch entry.pattern {
            case .exact(let name):
                if exact.insert(name.utf8, value: targets.count) { targets.append(entry.target) }
            case .prefix(let name):
                if prefixes.insert(name.utf8, value: targets.count) { targets.append(entry.target) }
            case .any:
                if fallback == nil { fallback = entry.target }
            }
        }
        self.targets = targets
        self.exact = exact
        self.prefixes = prefixes
        self.fallback = fallback
    }

    /// The target for the service name `service` (the bytes between the slashes of `:path`),
    /// or nil when no route takes it. Does not allocate.
    // Pre-specialised for the gateway's route table (targets are route indices), so the
    // per-request lookup is not a generic call through value witnesses.
    @_specialize(exported: true, where Target == Int)
    public func route(service: UnsafeRawBufferPointer) -> Target? {
        if let index = exact.lookup(service) { return targets[index] }
        if prefixes.count > 0 {
            // From the right: the first prefix found is the longest. A dot at the very end
            // would leave an empty service name after the prefix, which no prefix takes.
            var end = service.count - 2
            while end > 0 {
                if service[end] == UInt8(ascii: ".") {
                    if let index = prefixes.lookup(UnsafeRawBufferPointer(rebasing: service[0..<end])) {
                        return targets[index]
                    }
                }
                end -= 1
            }
        }
        return fallback
    }

    /// The target for `service`; see `route(service:)` on bytes.
    public func route(service: String) -> Target? {
        ASCII.withBytes(service) { route(service: $0) }
    }
}

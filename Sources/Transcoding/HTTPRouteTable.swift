/// Every HTTP binding of the configured gRPC methods, compiled into a trie of path segments: built
/// once when a config loads, immutable, shared by all workers (lookups take no lock and allocate
/// nothing but their result).
///
/// Bindings, for each method of each service the config accepts (services in name order, methods in
/// declaration order):
/// - the default `POST /<package.Service>/<Method>` with body `*` (README, "JSON over HTTP");
/// - its `google.api.http` rule and each of the rule's `additional_bindings`. A POST rule whose
///   template has the shape of the method's own default binding replaces it (its body and
///   response_body apply there).
///
/// Two bindings with the same HTTP method, the same shape (the same literal / `*` / `**` segments
/// and verb, whatever their variables are called) and either on different methods or both from
/// rules, collide: the table is not built (`HTTPRuleError`).
///
/// Precedence, when several bindings match a path (`match(method:path:)`):
/// 1. Only bindings of the request's HTTP method are considered; another method's binding that
///    matches makes the answer 405 with those methods as `Allow`, none makes it 404.
/// 2. Segment by segment from the left, at the first segment where two bindings differ, a literal
///    beats `*`, which beats `**` (grpc-gateway, Envoy's path matcher): `/v1/shelves/default`
///    beats `/v1/shelves/{shelf}` beats `/v1/{path=**}`.
/// 3. A verb matches exactly. When the last segment holds a `:` (not as its first byte), the part
///    after the last `:` is first tried as the verb against bindings with that verb; if none
///    matches, the segment is taken whole, colon included, against bindings without a verb
///    (grpc-gateway's fallback): `/v1/books/1:archive` calls a `:archive` binding if there is one,
///    and otherwise binds `1:archive` to `/v1/books/{id}`.
///
/// Lookups visit each trie node at most once per verb attempt (`**` is always a template's last
/// segment, so a node's depth fixes the path segment it reads), hashing one segment per literal
/// table reached.
public final class HTTPRouteTable: Sendable {
    /// The registry the bindings' descriptors belong to, kept alive by the table: descriptors
    /// point at each other unowned, so they are valid exactly as long as their registry is.
    public let registry: DescriptorRegistry
    /// Every binding in the table, in the order they were added.
    public let bindings: [HTTPBinding]
    /// What was allowed but is worth a warning when the config loads (a GET or DELETE rule with a
    /// body, which clients and proxies commonly drop).
    public let notes: [String]

    struct Node: Sendable {
        /// Raw literal segment → child node.
        var literals: NameTable?
        var wildcard = -1
        var deepWildcard = -1
        /// Bindings whose template ends here, by verb and HTTP method.
        var terminals: [Terminal] = []

        @inline(__always)
        func terminal(verb: UnsafeRawBufferPointer, method: String) -> Int? {
            for t in terminals where t.httpMethod == method && t.verb.elementsEqual(verb) { return t.binding }
            return nil
        }
    }

    struct Terminal: Sendable {
        /// Empty for a template without a verb.
        let verb: [UInt8]
        let httpMethod: String
        /// Index into `bindings`.
        var binding: Int
    }

    let nodes: [Node]

    /// Compiles the bindings of every method of every service for which `services(fullName)` is
    /// true. Throws on the first rule that cannot be compiled or that collides with another.
    public init(registry: DescriptorRegistry, services: (String) -> Bool) throws(HTTPRuleError) {
        var builder = Builder()
        for name in registry.services.keys.sorted() where services(name) {
            guard let service = registry.services[name] else { continue }
            for method in service.methods {
                try builder.add(Self.defaultBinding(of: method))
                guard let rule = method.httpRule else { continue }
                for binding in [rule] + rule.additionalBindings {
                    try builder.add(Self.compile(binding, of: method, notes: &builder.notes))
                }
            }
        }
        let live = Set(builder.nodes.flatMap { $0.terminals.map(\.binding) })
        var renumbered = [Int](repeating: -1, count: builder.bindings.count)
        var bindings: [HTTPBinding] = []
        for (i, binding) in builder.bindings.enumerated() where live.contains(i) {
            renumbered[i] = bindings.count
            bindings.append(binding)
        }
        self.registry = registry
        self.bindings = bindings
        self.notes = builder.notes
        self.nodes = builder.nodes.map { node in
            var literals: NameTable?
            if !node.literals.isEmpty {
                var table = NameTable(capacity: node.literals.count)
                for (literal, child) in node.literals { table.insert(literal, child) }
                literals = table
            }
            return Node(literals: literals, wildcard: node.wildcard, deepWildcard: node.deepWildcard,
                        terminals: node.terminals.map {
                            Terminal(verb: $0.verb, httpMethod: $0.httpMethod, binding: renumbered[$0.binding])
                        })
        }
    }

    static func defaultBinding(of method: MethodDescriptor) throws(HTTPRuleError) -> HTTPBinding {
        let template: PathTemplate
        do {
            template = try PathTemplate(method.path)
        } catch {
            throw HTTPRuleError("method \(method.serviceName)/\(method.name): its gRPC path is no path template: \(error.message)")
        }
        return HTTPBinding(method: method, httpMethod: "POST", template: template, bodyField: [],
                           responseBodyField: nil, variablePaths: [], isDefault: true)
    }

    /// One `HttpRule` (the rule itself or one of its `additional_bindings`) of `method`.
    static func compile(_ rule: HTTPRule, of method: MethodDescriptor,
                        notes: inout [String]) throws(HTTPRuleError) -> HTTPBinding {
        let owner = "\(method.serviceName)/\(method.name)"
        guard !rule.method.isEmpty else {
            throw HTTPRuleError("google.api.http of \(owner): no HTTP method and path (set get, put, post, delete, patch or custom)")
        }
        let context = "google.api.http: \(rule.method) \(rule.pattern) of \(owner)"
        guard rule.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw HTTPRuleError("\(context): custom method \"\(rule.method)\" is not an HTTP method token")
        }
        let template: PathTemplate
        let variablePaths: [[FieldDescriptor]]
        do {
            template = try PathTemplate(rule.pattern)
            variablePaths = try template.resolveVariables(in: method.inputType)
        } catch {
            throw HTTPRuleError("\(context): \(error.message)")
        }
        let bodyField: [FieldDescriptor]?
        switch rule.body {
        case "": bodyField = nil
        case "*": bodyField = []
        default:
            guard let field = method.inputType.field(named: rule.body) else {
                throw HTTPRuleError("\(context): body \"\(rule.body)\" is not a field of \(method.inputType.fullName)")
            }
            bodyField = [field]
        }
        var responseBodyField: FieldDescriptor?
        if !rule.responseBody.isEmpty {
            guard let field = method.outputType.field(named: rule.responseBody) else {
                throw HTTPRuleError("\(context): response_body \"\(rule.responseBody)\" is not a field of \(method.outputType.fullName)")
            }
            responseBodyField = field
        }
        if bodyField != nil && (rule.method == "GET" || rule.method == "DELETE") {
            // Allowed (grpc-gateway and Envoy accept it), but clients and proxies often drop the body.
            notes.append("\(context) has body \"\(rule.body)\"; HTTP clients and proxies may drop the body of a \(rule.method) request")
        }
        return HTTPBinding(method: method, httpMethod: rule.method, template: template, bodyField: bodyField,
                           responseBodyField: responseBodyField, variablePaths: variablePaths, isDefault: false)
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return tokenPunctuation.contains(b)
        }
    }

    private static let tokenPunctuation = Set("!#$%&'*+-.^_`|~".utf8)

    /// The trie under construction; literal tables become `NameTable`s once it is complete.
    private struct Builder {
        struct Node {
            var literals: [[UInt8]: Int] = [:]
            var wildcard = -1
            var deepWildcard = -1
            var terminals: [Terminal] = []
        }

        var nodes = [Node()]
        var bindings: [HTTPBinding] = []
        var notes: [String] = []

        mutating func add(_ binding: HTTPBinding) throws(HTTPRuleError) {
            var node = 0
            for segment in binding.template.segments {
                node = child(of: node, segment)
            }
            let verb = Array((binding.template.verb ?? "").utf8)
            let index = bindings.count
            bindings.append(binding)
            if let t = nodes[node].terminals.firstIndex(where: { $0.verb == verb && $0.httpMethod == binding.httpMethod }) {
                let existing = bindings[nodes[node].terminals[t].binding]
                guard existing.isDefault && existing.method === binding.method else {
                    throw HTTPRuleError("google.api.http: \(existing) collides with \(binding)")
                }
                // The method's own rule restates its default binding: the rule (its body and
                // response_body) wins.
                nodes[node].terminals[t].binding = index
                return
            }
            nodes[node].terminals.append(Terminal(verb: verb, httpMethod: binding.httpMethod, binding: index))
        }

        private mutating func child(of node: Int, _ segment: PathTemplate.Segment) -> Int {
            let existing: Int
            switch segment {
            case .literal(let text): existing = nodes[node].literals[Array(text.utf8)] ?? -1
            case .wildcard: existing = nodes[node].wildcard
            case .deepWildcard: existing = nodes[node].deepWildcard
            }
            if existing >= 0 { return existing }
            let new = nodes.count
            nodes.append(Node())
            switch segment {
            case .literal(let text): nodes[node].literals[Array(text.utf8)] = new
            case .wildcard: nodes[node].wildcard = new
            case .deepWildcard: nodes[node].deepWildcard = new
            }
            return new
        }
    }
}

/// One way to call a method over HTTP: an HTTP method and path template, and where the request and
/// response messages go. Immutable; owned by its `HTTPRouteTable`.
public final class HTTPBinding: Sendable, CustomStringConvertible {
    public let method: MethodDescriptor
    /// `GET`, `PUT`, `POST`, `DELETE`, `PATCH`, or a custom kind as written; compared exactly.
    public let httpMethod: String
    public let template: PathTemplate
    /// nil: the request has no body (every field not bound by the path comes from the query);
    /// empty: body `*` (the body is the whole request message); else the one top-level field the
    /// body fills.
    public let bodyField: [FieldDescriptor]?
    /// The top-level field of the response message that is the whole HTTP response body; nil for
    /// the whole message.
    public let responseBodyField: FieldDescriptor?
    /// The request field path each of `template.variables` binds, in the same order.
    public let variablePaths: [[FieldDescriptor]]
    /// The implicit `POST /<package.Service>/<Method>`, body `*`.
    public let isDefault: Bool

    init(method: MethodDescriptor, httpMethod: String, template: PathTemplate, bodyField: [FieldDescriptor]?,
         responseBodyField: FieldDescriptor?, variablePaths: [[FieldDescriptor]], isDefault: Bool) {
        self.method = method
        self.httpMethod = httpMethod
        self.template = template
        self.bodyField = bodyField
        self.responseBodyField = responseBodyField
        self.variablePaths = variablePaths
        self.isDefault = isDefault
    }

    /// `GET /v1/{name=shelves/*} of trestle.test.v1.Library/GetShelf`.
    public var description: String { "\(httpMethod) \(template.text) of \(method.serviceName)/\(method.name)" }
}

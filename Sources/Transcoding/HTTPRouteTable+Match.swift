/// What `HTTPRouteTable.match(method:path:)` found for one request.
public enum HTTPRouteMatch: Sendable {
    case matched(HTTPBindingMatch)
    /// The path matches bindings of other HTTP methods only: answer 405 with `Allow` listing these
    /// (sorted, each once).
    case methodNotAllowed(allowed: [String])
    /// No binding matches the path: answer 404.
    case notFound
    /// A binding matched, but a path variable's value is not well-formed percent-encoding or does
    /// not decode to UTF-8: answer 400.
    case invalidPath(TranscodeError)
}

/// A binding that matched a request, and the values its path variables took.
public struct HTTPBindingMatch: Sendable {
    public let binding: HTTPBinding
    /// One per template variable, in template order: the request field path and its value,
    /// percent-decoded (see `HTTPRouteTable.match(method:path:)`). A `**` variable that matched no
    /// segment has the value `""`.
    public let variables: [(path: [FieldDescriptor], value: String)]

    public var method: MethodDescriptor { binding.method }
    /// nil: no body; empty: body `*`; else the top-level field the body fills.
    public var bodyField: [FieldDescriptor]? { binding.bodyField }
    /// The response field that is the whole response body, or nil for the whole message.
    public var responseBodyField: FieldDescriptor? { binding.responseBodyField }
}

extension HTTPRouteTable {
    /// Finds the binding for an HTTP method and a request path (the request-target's path, without
    /// the query string, still percent-encoded), with the precedence described on `HTTPRouteTable`.
    ///
    /// The path is split at every `/` after the leading one; an empty segment (`//`, or a trailing
    /// `/`) is a segment like any other, as in grpc-gateway: `*` and `**` match it (a variable then
    /// binds `""`), no literal does. `/` alone has no segments. A path not starting with `/` is not
    /// found.
    ///
    /// Literal segments compare with the raw segment, byte for byte. Variable values are decoded
    /// as google/api/http.proto says: a single-segment variable (`{id}`, `{id=*}`) decodes every
    /// `%XX`; a multi-segment one (`{name=shelves/*}`, `{path=**}`) decodes all but `%2F` / `%2f`,
    /// which stay as written so that every `/` in the value was a separator. `+` is not a space in
    /// a path. A bad escape or non-UTF-8 result gives `.invalidPath`.
    ///
    /// Safe to call from any thread; allocates only the match's variables.
    public func match(method: String, path: Substring) -> HTTPRouteMatch {
        var path = path
        return path.withUTF8 { match(method: method, path: UnsafeRawBufferPointer($0)) }
    }

    func match(method: String, path: UnsafeRawBufferPointer) -> HTTPRouteMatch {
        guard path.first == UInt8(ascii: "/") else { return .notFound }
        let p = UnsafeRawBufferPointer(rebasing: path[1...])
        let noVerb = UnsafeRawBufferPointer(rebasing: p[p.count...])
        let colon = Self.verbColon(in: p)
        if let colon {
            let verb = UnsafeRawBufferPointer(rebasing: p[(colon + 1)...])
            if let binding = find(0, Self.firstSegment(p), p, end: colon, verb: verb, method: method) {
                return extract(bindings[binding], p, end: colon)
            }
        }
        if let binding = find(0, Self.firstSegment(p), p, end: p.count, verb: noVerb, method: method) {
            return extract(bindings[binding], p, end: p.count)
        }
        var allowed: [String] = []
        if let colon {
            collect(0, Self.firstSegment(p), p, end: colon, verb: UnsafeRawBufferPointer(rebasing: p[(colon + 1)...]),
                    into: &allowed)
        }
        collect(0, Self.firstSegment(p), p, end: p.count, verb: noVerb, into: &allowed)
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: Set(allowed).sorted())
    }

    /// The index of the `:` that may start a verb: the last `:` of the last segment, unless it is
    /// the segment's first byte.
    static func verbColon(in p: UnsafeRawBufferPointer) -> Int? {
        var i = p.count - 1
        while i > 0 && p[i] != UInt8(ascii: "/") {
            if p[i] == UInt8(ascii: ":") {
                return p[i - 1] == UInt8(ascii: "/") ? nil : i
            }
            i -= 1
        }
        return nil
    }

    /// Where the first segment starts: past the end for `/` alone, which has none.
    @inline(__always)
    static func firstSegment(_ p: UnsafeRawBufferPointer) -> Int { p.isEmpty ? 1 : 0 }

    /// The end of the segment that starts at `start`: the next `/` before `end`, or `end`.
    @inline(__always)
    static func segmentEnd(_ p: UnsafeRawBufferPointer, from start: Int, end: Int) -> Int {
        var i = start
        while i < end && p[i] != UInt8(ascii: "/") { i += 1 }
        return i
    }

    /// Depth-first, literal before `*` before `**`: the first binding of `method` reached wins.
    /// `pos` is where the next segment starts; `pos > end` means every segment was consumed.
    private func find(_ index: Int, _ pos: Int, _ p: UnsafeRawBufferPointer, end: Int, verb: UnsafeRawBufferPointer,
                      method: String) -> Int? {
        let node = nodes[index]
        if pos > end {
            if let binding = node.terminal(verb: verb, method: method) { return binding }
            // `**` also matches no segment at all.
            return node.deepWildcard >= 0 ? nodes[node.deepWildcard].terminal(verb: verb, method: method) : nil
        }
        let stop = Self.segmentEnd(p, from: pos, end: end)
        if let literals = node.literals, let child = literals.lookup(UnsafeRawBufferPointer(rebasing: p[pos..<stop])),
           let binding = find(child, stop + 1, p, end: end, verb: verb, method: method) {
            return binding
        }
        if node.wildcard >= 0, let binding = find(node.wildcard, stop + 1, p, end: end, verb: verb, method: method) {
            return binding
        }
        return node.deepWildcard >= 0 ? nodes[node.deepWildcard].terminal(verb: verb, method: method) : nil
    }

    /// Every HTTP method with a binding that matches the path (for 405's `Allow`).
    private func collect(_ index: Int, _ pos: Int, _ p: UnsafeRawBufferPointer, end: Int, verb: UnsafeRawBufferPointer,
                         into allowed: inout [String]) {
        let node = nodes[index]
        func take(_ node: Node) {
            for t in node.terminals where t.verb.elementsEqual(verb) { allowed.append(t.httpMethod) }
        }
        if node.deepWildcard >= 0 { take(nodes[node.deepWildcard]) }
        if pos > end {
            take(node)
            return
        }
        let stop = Self.segmentEnd(p, from: pos, end: end)
        if let literals = node.literals, let child = literals.lookup(UnsafeRawBufferPointer(rebasing: p[pos..<stop])) {
            collect(child, stop + 1, p, end: end, verb: verb, into: &allowed)
        }
        if node.wildcard >= 0 { collect(node.wildcard, stop + 1, p, end: end, verb: verb, into: &allowed) }
    }

    /// The matched binding's variable values: segment spans of `p[..<end]`, decoded.
    private func extract(_ binding: HTTPBinding, _ p: UnsafeRawBufferPointer, end: Int) -> HTTPRouteMatch {
        let variables = binding.template.variables
        if variables.isEmpty { return .matched(HTTPBindingMatch(binding: binding, variables: [])) }
        var values: [(path: [FieldDescriptor], value: String)] = []
        values.reserveCapacity(variables.count)
        // `pos` is where path segment number `segment` starts (past `end` when there is none).
        var segment = 0
        var pos = Self.firstSegment(p)
        func advance(to target: Int) {
            while segment < target && pos <= end {
                pos = Self.segmentEnd(p, from: pos, end: end) + 1
                segment += 1
            }
        }
        for (i, variable) in variables.enumerated() {
            advance(to: variable.segmentRange.lowerBound)
            let start = pos
            let stop: Int
            if binding.template.segments[variable.segmentRange.upperBound - 1] == .deepWildcard {
                stop = end  // `**` takes the rest of the path
            } else {
                advance(to: variable.segmentRange.upperBound)
                stop = pos - 1  // the `/` after the variable's last segment, or `end`
            }
            let raw = start < stop ? UnsafeRawBufferPointer(rebasing: p[start..<stop]) : UnsafeRawBufferPointer(rebasing: p[0..<0])
            do {
                let value = try PercentDecoding.decode(raw, keepingEncodedSlash: variable.isMultiSegment)
                values.append((binding.variablePaths[i], value))
            } catch {
                let name = variable.fieldPathText
                switch error {
                case .invalidEscape:
                    return .invalidPath(TranscodeError(
                        message: "invalid percent-encoding in path variable {\(name)}: \"\(String(decoding: raw, as: UTF8.self))\"",
                        fieldPath: name))
                case .invalidUTF8:
                    return .invalidPath(TranscodeError(
                        message: "path variable {\(name)} is not UTF-8 once percent-decoded", fieldPath: name))
                }
            }
        }
        return .matched(HTTPBindingMatch(binding: binding, variables: values))
    }
}

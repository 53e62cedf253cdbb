import Yams

/// `cors`: per route, or at the top level (README, "gRPC-Web and CORS").
extension ConfigParser {
    static let corsKeys = ["allowed_origins", "allowed_headers", "exposed_headers", "max_age", "allow_credentials"]

    /// `cors: {allowed_origins: [...], allowed_headers: [...], exposed_headers: [...], max_age: 10m,
    /// allow_credentials: false}`; `allowed_origins` is required and not empty.
    mutating func parseCORS(_ node: Node, section: String) -> CORSPolicy? {
        guard let mapping = mapping(node, for: "\"cors\" \(section)") else { return nil }
        let fields = fields(of: mapping, section: "in \"cors\" \(section)", allowed: Self.corsKeys)
        var ok = true
        var origins: [String] = []
        if let originsNode = required("allowed_origins", in: fields) {
            if let list = strings(originsNode, key: "allowed_origins") {
                if list.isEmpty {
                    report(originsNode, "allowed_origins is empty: name at least one origin (or \"*\" for any)")
                    ok = false
                }
                for (text, item) in list {
                    if let problem = Self.originProblem(text) {
                        report(item, problem)
                        ok = false
                    } else {
                        origins.append(text == "*" ? text : text.lowercased())
                    }
                }
            } else {
                ok = false
            }
        } else {
            ok = false
        }
        func headerNames(_ key: String) -> [String] {
            guard let node = fields[key] else { return [] }
            guard let list = strings(node, key: key) else {
                ok = false
                return []
            }
            var names: [String] = []
            for (text, item) in list {
                if text != "*" && !Self.isHeaderName(text) {
                    report(item, "invalid header name \"\(text)\" in \(key): use letters, digits and \"-\"")
                    ok = false
                } else {
                    names.append(text.lowercased())
                }
            }
            return names
        }
        let allowed = headerNames("allowed_headers")
        let exposed = headerNames("exposed_headers")
        var maxAge: UInt64?
        if let ageNode = fields["max_age"] {
            if let ms = milliseconds(ageNode, key: "max_age", allowZero: true) {
                maxAge = (ms + 999) / 1000
            } else {
                ok = false
            }
        }
        var credentials = false
        if let node = fields["allow_credentials"] {
            if let b = boolean(node, key: "allow_credentials") { credentials = b } else { ok = false }
        }
        guard ok else { return nil }
        return CORSPolicy(allowedOrigins: origins, allowedHeaders: allowed, exposedHeaders: exposed,
                          maxAgeSeconds: maxAge, allowCredentials: credentials)
    }

    /// A sequence of strings, each with its node.
    private mutating func strings(_ node: Node, key: String) -> [(String, Node)]? {
        guard let items = sequence(node, for: "\"\(key)\"") else { return nil }
        var out: [(String, Node)] = []
        var bad = false
        for item in items {
            guard let text = item.scalarText else {
                report(item, "expected a string in \"\(key)\", found \(item.foundDescription)")
                bad = true
                continue
            }
            out.append((text, item))
        }
        return bad ? nil : out
    }

    /// Why `text` is not an origin as browsers send it (`scheme://host[:port]`, RFC 6454 §6.2), or nil.
    static func originProblem(_ text: String) -> String? {
        if text == "*" { return nil }
        let why = "invalid origin \"\(text)\": expected scheme://host[:port] with no path (e.g. https://app.example), or \"*\""
        guard let sep = text.range(of: "://") else { return why }
        let scheme = text[..<sep.lowerBound]
        let rest = text[sep.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }),
            !rest.isEmpty, !rest.contains("/"), !rest.contains("?"), !rest.contains("#"), !rest.contains(" "),
            !rest.hasPrefix(":"), !rest.contains("*")
        else { return why }
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            let port = rest[rest.index(after: colon)...]
            guard let p = Int(port), (1...65535).contains(p) else { return why }
        }
        return nil
    }

    /// An HTTP field name (RFC 9110 §5.1 token) of the usual letters, digits, `-` and `_`.
    static func isHeaderName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }
}

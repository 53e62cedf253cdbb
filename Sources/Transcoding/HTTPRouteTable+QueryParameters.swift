/// One query parameter as a request field: the field path it sets, the map key (`name[key]=value`)
/// and the value, both percent-decoded text.
public struct QueryParameter {
    public let path: [FieldDescriptor]
    public let mapKey: String?
    public let value: String
}

extension HTTPRouteTable {
    /// The request fields a query string sets, for a matched binding: `(field path, text)` pairs in
    /// query order, for the JSON codec to turn into protobuf fields.
    ///
    /// - `&` separates parameters (empty ones are skipped); a parameter without `=` has the value
    ///   `""`. In keys and values `+` is a space, then `%XX` is decoded; the result must be UTF-8.
    /// - A key is a field path, `a.b.c`: each name is the JSON name or the proto name of a field;
    ///   every step but the last is a singular message field; the last is a field one text can
    ///   set (a scalar, an enum by name or number, bytes as base64, a wrapper, Timestamp, Duration,
    ///   FieldMask — the text is the whole value: a FieldMask's commas are the codec's to split).
    /// - A repeated leaf takes one value per occurrence (`tags=a&tags=b`); a singular one given
    ///   twice is an error.
    /// - A map leaf takes one entry per parameter, its key in brackets after the field's path
    ///   (`labels[env]=prod`, as grpc-gateway's query parser reads it: the last `[` opens the
    ///   key); the key in its type's text form (a string, a number, `true`/`false`), the value as
    ///   any leaf's. A key given twice is an error; a map named without a key too.
    /// - A parameter whose path is, or runs inside, a field bound by the path template or filled
    ///   by a body field is ignored: the path and the body win (grpc-gateway's filter).
    /// - With body `*` (the default `POST /pkg.Service/Method` binding among them) the body is the
    ///   whole message, so the query is ignored entirely, unknown names included (grpc-gateway
    ///   does not read it either).
    /// - Anything else is an error for a 400: an unknown field (as Envoy's transcoder and
    ///   grpc-gateway v2 reject), a map or a repeated message on the way, a message as a leaf.
    public func queryParameters(_ query: Substring, for match: HTTPBindingMatch) throws(TranscodeError)
        -> [QueryParameter] {
        let binding = match.binding
        if let body = binding.bodyField, body.isEmpty { return [] }
        if query.isEmpty { return [] }
        var query = query
        let result = query.withUTF8 { utf8 -> Result<[QueryParameter], TranscodeError> in
            do throws(TranscodeError) {
                return .success(try Self.parseQuery(UnsafeRawBufferPointer(utf8), binding: binding))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func parseQuery(_ bytes: UnsafeRawBufferPointer,
                                   binding: HTTPBinding) throws(TranscodeError) -> [QueryParameter] {
        var parameters: [QueryParameter] = []
        var singular: [[FieldDescriptor]] = []  // singular leaves set so far
        var entries: [([FieldDescriptor], String)] = []  // map entries set so far
        var start = 0
        while start <= bytes.count {
            var stop = start
            while stop < bytes.count && bytes[stop] != UInt8(ascii: "&") { stop += 1 }
            defer { start = stop + 1 }
            if stop == start { continue }
            var equals = start
            while equals < stop && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
            let rawKey = UnsafeRawBufferPointer(rebasing: bytes[start..<equals])
            let rawValue = UnsafeRawBufferPointer(rebasing: bytes[min(equals + 1, stop)..<stop])
            let key: String
            do {
                key = try PercentDecoding.decode(rawKey, plusAsSpace: true)
            } catch {
                throw TranscodeError(message: Self.decodingProblem(error, "query parameter name \"\(String(decoding: rawKey, as: UTF8.self))\""))
            }
            let value: String
            do {
                value = try PercentDecoding.decode(rawValue, plusAsSpace: true)
            } catch {
                throw TranscodeError(message: Self.decodingProblem(error, "the value of query parameter \"\(key)\""), fieldPath: key)
            }
            // `name[key]`: an entry of the map `name`.
            var fieldKey = key[...]
            var mapKey: String?
            if key.hasSuffix("]"), let open = key.lastIndex(of: "[") {
                fieldKey = key[..<open]
                mapKey = String(key[key.index(after: open) ..< key.index(before: key.endIndex)])
            }
            guard let path = try resolve(String(fieldKey), shown: key, entry: mapKey != nil, binding: binding) else { continue }
            let leaf = path[path.count - 1]
            if let mapKey {
                if entries.contains(where: { $0.1 == mapKey && $0.0.elementsEqual(path, by: ===) }) {
                    throw TranscodeError(message: "query parameter \"\(key)\" is given more than once (one value per map key)",
                                         fieldPath: key)
                }
                entries.append((path, mapKey))
            } else if !leaf.isRepeated {
                if singular.contains(where: { $0.elementsEqual(path, by: ===) }) {
                    let owner = path.count > 1 ? path[path.count - 2].messageType?.fullName ?? "?" : binding.method.inputType.fullName
                    throw TranscodeError(
                        message: "query parameter \"\(key)\" is given more than once, but \(owner).\(leaf.name) is not repeated",
                        fieldPath: key)
                }
                singular.append(path)
            }
            parameters.append(QueryParameter(path: path, mapKey: mapKey, value: value))
        }
        return parameters
    }

    private static func decodingProblem(_ failure: PercentDecoding.Failure, _ what: String) -> String {
        switch failure {
        case .invalidEscape: "invalid percent-encoding in \(what)"
        case .invalidUTF8: "\(what) is not UTF-8 once percent-decoded"
        }
    }

    /// The field path `key` names, or nil when the path template or the body already sets it;
    /// `entry`: it must end at a map (the parameter was `key[mapKey]`, shown as `shown`).
    private static func resolve(_ key: String, shown: String, entry: Bool,
                                binding: HTTPBinding) throws(TranscodeError) -> [FieldDescriptor]? {
        let request: MessageDescriptor = binding.method.inputType
        var message = request
        var path: [FieldDescriptor] = []
        let names = key.split(separator: ".", omittingEmptySubsequences: false)
        for (index, name) in names.enumerated() {
            guard let field = message.field(named: String(name)) else {
                throw TranscodeError(message: "unknown query parameter \"\(shown)\" for \(request.fullName)", fieldPath: shown)
            }
            path.append(field)
            if binding.isBound(path) { return nil }
            let qualified = "\(message.fullName).\(field.name)"
            let last = index == names.count - 1
            if field.isMap {
                guard last, entry else {
                    throw TranscodeError(
                        message: "query parameter \"\(shown)\": \(qualified) is a map; set one entry per parameter as \"\(names[...index].joined(separator: "."))[key]=value\"",
                        fieldPath: shown)
                }
                guard let value = field.messageType?.field(number: 2), value.isStringConvertibleLeaf else {
                    throw TranscodeError(
                        message: "query parameter \"\(shown)\": the values of \(qualified) are messages, which query parameters cannot set",
                        fieldPath: shown)
                }
                return path
            }
            if last && entry {
                throw TranscodeError(message: "query parameter \"\(shown)\": \(qualified) is not a map (\"name[key]=value\" sets a map entry)",
                                     fieldPath: shown)
            }
            if last {
                guard field.isStringConvertibleLeaf else {
                    throw TranscodeError(
                        message: "query parameter \"\(shown)\" names a message (\(field.messageType?.fullName ?? "?")), not a value; set its fields as \"\(shown).<field>\"",
                        fieldPath: shown)
                }
            } else {
                guard field.kind == .message || field.kind == .group, let next = field.messageType else {
                    throw TranscodeError(message: "query parameter \"\(shown)\": \(qualified) is not a message", fieldPath: shown)
                }
                if field.isRepeated {
                    throw TranscodeError(
                        message: "query parameter \"\(shown)\": \(qualified) is repeated, and query parameters cannot set fields inside a repeated message",
                        fieldPath: shown)
                }
                message = next
            }
        }
        return path
    }
}

extension HTTPBinding {
    /// Whether the path template or the body field sets exactly this field path.
    func isBound(_ path: [FieldDescriptor]) -> Bool {
        if let body = bodyField, body.count == 1, body[0] === path[0], path.count == 1 { return true }
        return variablePaths.contains { $0.elementsEqual(path, by: ===) }
    }
}

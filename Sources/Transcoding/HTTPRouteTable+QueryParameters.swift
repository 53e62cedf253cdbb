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
    /// - A parameter whose path is, or runs inside, a field bound by the path template or filled
    ///   by a body field is ignored: the path and the body win (grpc-gateway's filter).
    /// - With body `*` (the default `POST /pkg.Service/Method` binding among them) the body is the
    ///   whole message, so the query is ignored entirely, unknown names included (grpc-gateway
    ///   does not read it either).
    /// - Anything else is an error for a 400: an unknown field (as Envoy's transcoder and
    ///   grpc-gateway v2 reject), a map or a repeated message on the way, a message as a leaf.
    public func queryParameters(_ query: Substring, for match: HTTPBindingMatch) throws(TranscodeError)
        -> [(path: [FieldDescriptor], value: String)] {
        let binding = match.binding
        if let body = binding.bodyField, body.isEmpty { return [] }
        if query.isEmpty { return [] }
        var query = query
        let result = query.withUTF8 { utf8 -> Result<[(path: [FieldDescriptor], value: String)], TranscodeError> in
            do throws(TranscodeError) {
                return .success(try Self.parseQuery(UnsafeRawBufferPointer(utf8), binding: binding))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func parseQuery(_ bytes: UnsafeRawBufferPointer,
                                   binding: HTTPBinding) throws(TranscodeError) -> [(path: [FieldDescriptor], value: String)] {
        var parameters: [(path: [FieldDescriptor], value: String)] = []
        var singular: [[FieldDescriptor]] = []  // singular leaves set so far
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
            guard let path = try resolve(key, binding: binding) else { continue }
            let leaf = path[path.count - 1]
            if !leaf.isRepeated {
                if singular.contains(where: { $0.elementsEqual(path, by: ===) }) {
                    let owner = path.count > 1 ? path[path.count - 2].messageType?.fullName ?? "?" : binding.method.inputType.fullName
                    throw TranscodeError(
                        message: "query parameter \"\(key)\" is given more than once, but \(owner).\(leaf.name) is not repeated",
                        fieldPath: key)
                }
                singular.append(path)
            }
            parameters.append((path, value))
        }
        return parameters
    }

    private static func decodingProblem(_ failure: PercentDecoding.Failure, _ what: String) -> String {
        switch failure {
        case .invalidEscape: "invalid percent-encoding in \(what)"
        case .invalidUTF8: "\(what) is not UTF-8 once percent-decoded"
        }
    }

    /// The field path `key` names, or nil when the path template or the body already sets it.
    private static func resolve(_ key: String, binding: HTTPBinding) throws(TranscodeError) -> [FieldDescriptor]? {
        let request: MessageDescriptor = binding.method.inputType
        var message = request
        var path: [FieldDescriptor] = []
        let names = key.split(separator: ".", omittingEmptySubsequences: false)
        for (index, name) in names.enumerated() {
            guard let field = message.field(named: String(name)) else {
                throw TranscodeError(message: "unknown query parameter \"\(key)\" for \(request.fullName)", fieldPath: key)
            }
            path.append(field)
            if binding.isBound(path) { return nil }
            let qualified = "\(message.fullName).\(field.name)"
            if field.isMap {
                throw TranscodeError(message: "query parameter \"\(key)\": \(qualified) is a map, which query parameters cannot set",
                                     fieldPath: key)
            }
            if index == names.count - 1 {
                guard field.isStringConvertibleLeaf else {
                    throw TranscodeError(
                        message: "query parameter \"\(key)\" names a message (\(field.messageType?.fullName ?? "?")), not a value; set its fields as \"\(key).<field>\"",
                        fieldPath: key)
                }
            } else {
                guard field.kind == .message || field.kind == .group, let next = field.messageType else {
                    throw TranscodeError(message: "query parameter \"\(key)\": \(qualified) is not a message", fieldPath: key)
                }
                if field.isRepeated {
                    throw TranscodeError(
                        message: "query parameter \"\(key)\": \(qualified) is repeated, and query parameters cannot set fields inside a repeated message",
                        fieldPath: key)
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

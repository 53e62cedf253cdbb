/// A service from the registry.
public final class ServiceDescriptor: @unchecked Sendable {
    /// Without a leading dot: `trestle.demo.v1.Echo`.
    public let fullName: String
    public let methods: [MethodDescriptor]

    init(fullName: String, methods: [MethodDescriptor]) {
        self.fullName = fullName
        self.methods = methods
    }

    public func method(named name: String) -> MethodDescriptor? {
        methods.first { $0.name == name }
    }
}

/// A method: its message types, its call type and its `google.api.http` rules.
public final class MethodDescriptor: @unchecked Sendable {
    public let name: String
    /// The service's full name.
    public let serviceName: String
    /// The gRPC `:path`: `/trestle.demo.v1.Echo/Echo`.
    public let path: String
    public let clientStreaming: Bool
    public let serverStreaming: Bool
    /// The `google.api.http` option, when the method declares one.
    public let httpRule: HTTPRule?
    let inputTypeName: String
    let outputTypeName: String

    public internal(set) unowned(unsafe) var inputType: MessageDescriptor!
    public internal(set) unowned(unsafe) var outputType: MessageDescriptor!

    init(name: String, serviceName: String, clientStreaming: Bool, serverStreaming: Bool, httpRule: HTTPRule?,
         inputTypeName: String, outputTypeName: String) {
        self.name = name
        self.serviceName = serviceName
        self.path = "/\(serviceName)/\(name)"
        self.clientStreaming = clientStreaming
        self.serverStreaming = serverStreaming
        self.httpRule = httpRule
        self.inputTypeName = inputTypeName
        self.outputTypeName = outputTypeName
    }
}

/// A `google.api.http` rule as declared (google/api/http.proto `HttpRule`), before compilation.
public struct HTTPRule: Sendable, Equatable {
    /// `GET`, `PUT`, `POST`, `DELETE`, `PATCH`, or a custom kind as written.
    public var method: String
    /// The path template: `/v1/{name=shelves/*/books/*}`.
    public var pattern: String
    /// `""` (no body), `"*"`, or a top-level field name.
    public var body: String
    /// `""` (the whole response) or a top-level field name.
    public var responseBody: String
    public var additionalBindings: [HTTPRule]

    public init(method: String, pattern: String, body: String = "", responseBody: String = "",
                additionalBindings: [HTTPRule] = []) {
        self.method = method
        self.pattern = pattern
        self.body = body
        self.responseBody = responseBody
        self.additionalBindings = additionalBindings
    }

    /// The extension number of `google.api.http` on `MethodOptions`.
    static let extensionNumber: Int32 = 72_295_728

    /// Finds the `google.api.http` extension among a `MethodOptions`' unknown fields and decodes it.
    static func fromMethodOptions(unknownFields bytes: [UInt8]) throws(TranscodeError) -> HTTPRule? {
        let result = bytes.withUnsafeBytes { raw -> Result<HTTPRule?, TranscodeError> in
            do throws(TranscodeError) {
                var reader = ProtoReader(raw)
                var rule: HTTPRule?
                while let (number, wireType) = try reader.readTag() {
                    if number == extensionNumber && wireType == .lengthDelimited {
                        rule = try decode(reader.readLengthDelimited(), depth: 0)
                    } else {
                        try reader.skip(wireType, number: number)
                    }
                }
                return .success(rule)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, depth: Int) throws(TranscodeError) -> HTTPRule {
        var rule = HTTPRule(method: "", pattern: "")
        var reader = ProtoReader(bytes)
        while let (number, wireType) = try reader.readTag() {
            func text() throws(TranscodeError) -> String {
                String(decoding: try reader.readLengthDelimited(), as: UTF8.self)
            }
            switch (number, wireType) {
            case (2, .lengthDelimited): rule.method = "GET"; rule.pattern = try text()
            case (3, .lengthDelimited): rule.method = "PUT"; rule.pattern = try text()
            case (4, .lengthDelimited): rule.method = "POST"; rule.pattern = try text()
            case (5, .lengthDelimited): rule.method = "DELETE"; rule.pattern = try text()
            case (6, .lengthDelimited): rule.method = "PATCH"; rule.pattern = try text()
            case (7, .lengthDelimited): rule.body = try text()
            case (12, .lengthDelimited): rule.responseBody = try text()
            case (8, .lengthDelimited):  // CustomHttpPattern { kind = 1; path = 2; }
                var custom = ProtoReader(try reader.readLengthDelimited())
                while let (n, w) = try custom.readTag() {
                    switch (n, w) {
                    case (1, .lengthDelimited): rule.method = String(decoding: try custom.readLengthDelimited(), as: UTF8.self)
                    case (2, .lengthDelimited): rule.pattern = String(decoding: try custom.readLengthDelimited(), as: UTF8.self)
                    default: try custom.skip(w, number: n)
                    }
                }
            case (11, .lengthDelimited):
                // additional_bindings may not nest further (http.proto); one level is all we keep.
                let nested = try decode(try reader.readLengthDelimited(), depth: depth + 1)
                if depth == 0 { rule.additionalBindings.append(nested) }
            default:
                try reader.skip(wireType, number: number)
            }
        }
        return rule
    }
}

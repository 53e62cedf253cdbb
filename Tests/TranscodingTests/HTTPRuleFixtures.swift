import SwiftProtobuf
import Transcoding

/// Descriptor sets built in code for the path-template, route-table and query-parameter tests:
/// one file of messages in `trestle.test.v1`, a few well-known types, and services whose methods
/// carry `google.api.http` rules encoded the way protoc leaves them (an unknown extension field in
/// `MethodOptions`).
enum HTTPRuleFixtures {
    static let package = "trestle.test.v1"

    /// One method of a test service; `input` / `output` are message names in `trestle.test.v1`.
    struct Method {
        var service: String
        var name: String
        var input: String
        var output: String
        var rule: HTTPRule?

        init(_ service: String, _ name: String, _ input: String, _ output: String = "Book", _ rule: HTTPRule? = nil) {
            self.service = service
            self.name = name
            self.input = input
            self.output = output
            self.rule = rule
        }
    }

    static func registry(_ methods: [Method]) throws -> DescriptorRegistry {
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [wellKnownFile(), try libraryFile(methods)]
        return try DescriptorRegistry(fileDescriptorSets: [("test.pb", try set.serializedBytes())])
    }

    static func table(_ methods: [Method], services: (String) -> Bool = { _ in true }) throws -> HTTPRouteTable {
        try HTTPRouteTable(registry: registry(methods), services: services)
    }

    /// The error text compiling `methods` fails with, or nil when it compiles.
    static func compileError(_ methods: [Method]) throws -> String? {
        let registry = try registry(methods)
        do {
            _ = try HTTPRouteTable(registry: registry, services: { _ in true })
            return nil
        } catch {
            return error.message
        }
    }

    // MARK: - Messages

    private enum Kind {
        case string, int32, int64, bool, bytes
        case message(String)  // full name with a leading dot
        case enumeration(String)
    }

    private static func field(_ name: String, _ number: Int32, _ kind: Kind,
                              repeated: Bool = false) -> Google_Protobuf_FieldDescriptorProto {
        var f = Google_Protobuf_FieldDescriptorProto()
        f.name = name
        f.number = number
        f.label = repeated ? .repeated : .optional
        switch kind {
        case .string: f.type = .string
        case .int32: f.type = .int32
        case .int64: f.type = .int64
        case .bool: f.type = .bool
        case .bytes: f.type = .bytes
        case .message(let type): f.type = .message; f.typeName = type
        case .enumeration(let type): f.type = .enum; f.typeName = type
        }
        return f
    }

    private static func message(_ name: String, _ fields: [Google_Protobuf_FieldDescriptorProto],
                                nested: [Google_Protobuf_DescriptorProto] = []) -> Google_Protobuf_DescriptorProto {
        var m = Google_Protobuf_DescriptorProto()
        m.name = name
        m.field = fields
        m.nestedType = nested
        return m
    }

    private static func t(_ name: String) -> Kind { .message(".trestle.test.v1.\(name)") }
    private static func wkt(_ name: String) -> Kind { .message(".google.protobuf.\(name)") }

    private static func wellKnownFile() -> Google_Protobuf_FileDescriptorProto {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "google/protobuf/well_known.proto"
        file.package = "google.protobuf"
        file.syntax = "proto3"
        file.messageType = [
            message("FieldMask", [field("paths", 1, .string, repeated: true)]),
            message("Timestamp", [field("seconds", 1, .int64), field("nanos", 2, .int32)]),
            message("Int32Value", [field("value", 1, .int32)]),
            message("Struct", []),
            message("Empty", []),
        ]
        return file
    }

    private static func libraryFile(_ methods: [Method]) throws -> Google_Protobuf_FileDescriptorProto {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "trestle/test/v1/library.proto"
        file.package = package
        file.syntax = "proto3"
        file.dependency = ["google/protobuf/well_known.proto"]
        var genre = Google_Protobuf_EnumDescriptorProto()
        genre.name = "Genre"
        let values: [(String, Int32)] = [("GENRE_UNSPECIFIED", 0), ("FICTION", 1), ("POETRY", 2)]
        genre.value = values.map { name, number in
            var v = Google_Protobuf_EnumValueDescriptorProto()
            v.name = name
            v.number = number
            return v
        }
        file.enumType = [genre]
        var labelsEntry = message("LabelsEntry", [field("key", 1, .string), field("value", 2, .string)])
        labelsEntry.options.mapEntry = true
        file.messageType = [
            message("Author", [field("name", 1, .string), field("display_name", 2, .string)]),
            message("Book", [
                field("name", 1, .string), field("title", 2, .string), field("id", 3, .int64),
                field("author", 4, t("Author")), field("tags", 5, .string, repeated: true),
                field("genre", 6, .enumeration(".trestle.test.v1.Genre")),
            ]),
            message("Shelf", [field("name", 1, .string), field("books", 2, t("Book"), repeated: true)]),
            message("Range", [field("min", 1, .int32), field("max", 2, .int32)]),
            message("Filter", [
                field("author", 1, .string), field("pages", 2, t("Range")),
                field("examples", 3, t("Book"), repeated: true),
            ]),
            message("GetBookRequest", [field("name", 1, .string)]),
            message("ListBooksRequest", [
                field("parent", 1, .string), field("page_size", 2, .int32), field("page_token", 3, .string),
                field("tags", 4, .string, repeated: true), field("genre", 5, .enumeration(".trestle.test.v1.Genre")),
                field("read_mask", 6, wkt("FieldMask")), field("filter", 7, t("Filter")),
                field("labels", 8, t("ListBooksRequest.LabelsEntry"), repeated: true),
                field("books", 9, t("Book"), repeated: true), field("min_pages", 10, wkt("Int32Value")),
                field("since", 11, wkt("Timestamp")), field("cursor", 12, .bytes), field("include_deleted", 13, .bool),
                field("extra", 14, wkt("Struct")), field("ids", 15, .int32, repeated: true),
            ], nested: [labelsEntry]),
            message("ListBooksResponse", [field("books", 1, t("Book"), repeated: true), field("next_page_token", 2, .string)]),
            message("CreateBookRequest", [field("parent", 1, .string), field("book", 2, t("Book")), field("book_id", 3, .string)]),
            message("UpdateBookRequest", [field("book", 1, t("Book")), field("update_mask", 2, wkt("FieldMask"))]),
            message("GetResourceRequest", [
                field("name", 1, .string), field("path", 2, .string), field("id", 3, .string),
                field("version", 4, wkt("Int32Value")), field("book", 5, t("Book")),
                field("tags", 6, .string, repeated: true), field("shelf", 7, t("Shelf")),
                field("extra", 8, wkt("Struct")), field("at", 9, wkt("Timestamp")),
            ]),
        ]
        var services: [String: Google_Protobuf_ServiceDescriptorProto] = [:]
        var order: [String] = []
        for m in methods {
            var method = Google_Protobuf_MethodDescriptorProto()
            method.name = m.name
            method.inputType = m.input.hasPrefix(".") ? m.input : ".trestle.test.v1.\(m.input)"
            method.outputType = m.output.hasPrefix(".") ? m.output : ".trestle.test.v1.\(m.output)"
            if let rule = m.rule {
                var options = ProtoWriter()
                options.appendTag(72_295_728, .lengthDelimited)
                options.appendLengthDelimited(encode(rule))
                method.options = try Google_Protobuf_MethodOptions(serializedBytes: options.bytes)
            }
            if services[m.service] == nil {
                order.append(m.service)
                var service = Google_Protobuf_ServiceDescriptorProto()
                service.name = m.service
                services[m.service] = service
            }
            services[m.service]!.method.append(method)
        }
        file.service = order.map { services[$0]! }
        return file
    }

    /// google/api/http.proto `HttpRule`, as protoc encodes it.
    static func encode(_ rule: HTTPRule) -> [UInt8] {
        var w = ProtoWriter()
        func string(_ number: Int32, _ text: String) {
            w.appendTag(number, .lengthDelimited)
            w.appendLengthDelimited(Array(text.utf8))
        }
        switch rule.method {
        case "": break
        case "GET": string(2, rule.pattern)
        case "PUT": string(3, rule.pattern)
        case "POST": string(4, rule.pattern)
        case "DELETE": string(5, rule.pattern)
        case "PATCH": string(6, rule.pattern)
        default:
            var custom = ProtoWriter()
            custom.appendTag(1, .lengthDelimited)
            custom.appendLengthDelimited(Array(rule.method.utf8))
            custom.appendTag(2, .lengthDelimited)
            custom.appendLengthDelimited(Array(rule.pattern.utf8))
            w.appendTag(8, .lengthDelimited)
            w.appendLengthDelimited(custom.bytes)
        }
        if !rule.body.isEmpty { string(7, rule.body) }
        if !rule.responseBody.isEmpty { string(12, rule.responseBody) }
        for binding in rule.additionalBindings {
            w.appendTag(11, .lengthDelimited)
            w.appendLengthDelimited(encode(binding))
        }
        return w.bytes
    }
}

extension HTTPRouteMatch {
    /// A one-line summary for table-driven expectations:
    /// `Library/GetBook name=shelves/s1/books/b1`, `405 GET,POST`, `404`, `400 <message>`.
    var summary: String {
        switch self {
        case .matched(let m):
            let variables = m.variables.map { v in
                v.path.map(\.name).joined(separator: ".") + "=" + v.value
            }
            let owner = m.method.serviceName.split(separator: ".").last.map(String.init) ?? m.method.serviceName
            return ([owner + "/" + m.method.name] + variables).joined(separator: " ")
        case .methodNotAllowed(let allowed):
            return "405 " + allowed.joined(separator: ",")
        case .notFound:
            return "404"
        case .invalidPath(let error):
            return "400 " + error.message
        }
    }

    var bindingMatch: HTTPBindingMatch? {
        if case .matched(let m) = self { return m }
        return nil
    }
}

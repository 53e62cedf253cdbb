import SwiftProtobuf

/// Every service, method, message and enum of a config's FileDescriptorSets, built once when the
/// config loads and shared read-only by all workers, plus the built-in google.rpc error types
/// (`builtinFiles`). It owns every descriptor; descriptors point at each other without reference
/// counting, so a descriptor must not outlive its registry.
public final class DescriptorRegistry: @unchecked Sendable {
    public let services: [String: ServiceDescriptor]
    public let messages: [String: MessageDescriptor]
    public let enums: [String: EnumDescriptor]
    /// `/pkg.Service/Method` → method.
    public let methodsByPath: [String: MethodDescriptor]

    /// A registry of the built-in types only (a config without `descriptors:`).
    public convenience init() {
        var builder = Builder()
        for file in Self.builtinFiles { try! builder.add(file) }  // checked by the tests
        try! builder.resolve()
        self.init(services: builder.services, messages: builder.messages, enums: builder.enums)
    }

    /// google/rpc/status.proto and google/rpc/error_details.proto with their imports
    /// (google/protobuf/any.proto, duration.proto), embedded (`BuiltinDescriptors`,
    /// scripts/gen-error-details-descriptors), in dependency order: every registry knows
    /// `google.rpc.Status`, `google.protobuf.Any` and the standard error details (ErrorInfo,
    /// RetryInfo, DebugInfo, QuotaFailure, PreconditionFailure, BadRequest, RequestInfo,
    /// ResourceInfo, Help, LocalizedMessage), so that an error body decodes them whatever the
    /// routes file's sets hold. Parsed once per process.
    static let builtinFiles: [Google_Protobuf_FileDescriptorProto] = {
        var bytes: [UInt8] = []
        _ = Array(BuiltinDescriptors.base64.utf8).withUnsafeBytes { Base64.decode($0, into: &bytes) }
        return (try? Google_Protobuf_FileDescriptorSet(serializedBytes: bytes))?.file ?? []
    }()

    private init(services: [String: ServiceDescriptor], messages: [String: MessageDescriptor],
                 enums: [String: EnumDescriptor]) {
        self.services = services
        self.messages = messages
        self.enums = enums
        var byPath: [String: MethodDescriptor] = [:]
        for service in services.values {
            for method in service.methods { byPath[method.path] = method }
        }
        self.methodsByPath = byPath
    }

    public func message(named fullName: String) -> MessageDescriptor? { messages[fullName] }

    public func method(path: String) -> MethodDescriptor? { methodsByPath[path] }

    /// The message an `Any` type URL names: the part after the last `/`
    /// (`type.googleapis.com/google.rpc.BadRequest`).
    public func message(forTypeURL url: String) -> MessageDescriptor? {
        guard let slash = url.lastIndex(of: "/") else { return nil }
        return messages[String(url[url.index(after: slash)...])]
    }

    /// Builds the registry from serialized FileDescriptorSets (`protoc --include_imports
    /// --descriptor_set_out`). `sources` pairs each set with a name used in error messages.
    /// A file that appears in several sets (google/protobuf/*.proto, typically) is read once.
    public convenience init(fileDescriptorSets sources: [(name: String, bytes: [UInt8])]) throws(DescriptorError) {
        var files: [Google_Protobuf_FileDescriptorProto] = []
        var seenFiles = Set<String>()
        for source in sources {
            let set: Google_Protobuf_FileDescriptorSet
            do {
                set = try Google_Protobuf_FileDescriptorSet(serializedBytes: source.bytes)
            } catch {
                throw DescriptorError("\(source.name): not a FileDescriptorSet (\(error)); make it with protoc --include_imports --descriptor_set_out")
            }
            for file in set.file where seenFiles.insert(file.name).inserted { files.append(file) }
        }
        var builder = Builder()
        for file in files { try builder.add(file) }
        // The built-in files the sets lack. One whose types a set already defines under another
        // file name is left out: the user's definition stands.
        for file in Self.builtinFiles where !seenFiles.contains(file.name) && !builder.definesAny(of: file) {
            try builder.add(file)
        }
        try builder.resolve()
        self.init(services: builder.services, messages: builder.messages, enums: builder.enums)
    }

    /// Collects descriptors file by file, then links type names to descriptors.
    private struct Builder {
        var services: [String: ServiceDescriptor] = [:]
        var messages: [String: MessageDescriptor] = [:]
        var enums: [String: EnumDescriptor] = [:]
        var fileOf: [String: String] = [:]

        mutating func add(_ file: Google_Protobuf_FileDescriptorProto) throws(DescriptorError) {
            let prefix = file.package.isEmpty ? "" : file.package + "."
            let isProto3 = file.syntax == "proto3"
            for message in file.messageType {
                try addMessage(message, prefix: prefix, isProto3: isProto3, file: file.name)
            }
            for e in file.enumType { try addEnum(e, prefix: prefix, file: file.name) }
            for service in file.service {
                let fullName = prefix + service.name
                var methods: [MethodDescriptor] = []
                for m in service.method {
                    let rule: HTTPRule?
                    do {
                        rule = try HTTPRule.fromMethodOptions(unknownFields: [UInt8](m.options.unknownFields.data))
                    } catch {
                        throw DescriptorError("\(file.name): method \(fullName).\(m.name): unreadable google.api.http option: \(error)")
                    }
                    methods.append(MethodDescriptor(
                        name: m.name, serviceName: fullName, clientStreaming: m.clientStreaming,
                        serverStreaming: m.serverStreaming, httpRule: rule,
                        inputTypeName: m.inputType, outputTypeName: m.outputType))
                }
                try claim(fullName, file: file.name)
                services[fullName] = ServiceDescriptor(fullName: fullName, methods: methods)
            }
        }

        /// Whether a type of `file` (top level) is defined already.
        func definesAny(of file: Google_Protobuf_FileDescriptorProto) -> Bool {
            let prefix = file.package.isEmpty ? "" : file.package + "."
            return file.messageType.contains { fileOf[prefix + $0.name] != nil }
                || file.enumType.contains { fileOf[prefix + $0.name] != nil }
        }

        private mutating func claim(_ fullName: String, file: String) throws(DescriptorError) {
            if let other = fileOf[fullName] {
                throw DescriptorError("\(file): \(fullName) is already defined in \(other)")
            }
            fileOf[fullName] = file
        }

        private mutating func addEnum(_ e: Google_Protobuf_EnumDescriptorProto, prefix: String, file: String) throws(DescriptorError) {
            let fullName = prefix + e.name
            try claim(fullName, file: file)
            enums[fullName] = EnumDescriptor(fullName: fullName, values: e.value.map { ($0.name, $0.number) })
        }

        private mutating func addMessage(_ m: Google_Protobuf_DescriptorProto, prefix: String, isProto3: Bool,
                                         file: String) throws(DescriptorError) {
            let fullName = prefix + m.name
            try claim(fullName, file: file)
            for nested in m.nestedType {
                try addMessage(nested, prefix: fullName + ".", isProto3: isProto3, file: file)
            }
            for e in m.enumType { try addEnum(e, prefix: fullName + ".", file: file) }
            let fields = m.field.map { f -> FieldDescriptor in
                let kind = FieldKind(rawValue: UInt8(f.type.rawValue)) ?? .bytes
                let repeated = f.label == .repeated
                let packed = repeated && kind.isPackable && (f.options.hasPacked ? f.options.packed : isProto3)
                let synthetic = f.proto3Optional
                let oneof = f.hasOneofIndex && !synthetic ? Int(f.oneofIndex) : nil
                let presence = !repeated && (kind == .message || kind == .group || oneof != nil || synthetic || !isProto3)
                return FieldDescriptor(
                    name: f.name, jsonName: f.hasJsonName ? f.jsonName : Self.lowerCamelCase(f.name),
                    number: f.number, kind: kind, isRepeated: repeated, isPacked: packed, hasPresence: presence,
                    oneofIndex: oneof, typeName: f.typeName)
            }
            messages[fullName] = MessageDescriptor(
                fullName: fullName, fields: fields, oneofs: m.oneofDecl.map { OneofDescriptor(name: $0.name) },
                isMapEntry: m.options.mapEntry, isProto3: isProto3)
        }

        /// protoc's `ToJsonName`: drop underscores, capitalising the letter after each.
        static func lowerCamelCase(_ name: String) -> String {
            var out = ""
            var upper = false
            for c in name {
                if c == "_" { upper = true; continue }
                out.append(upper ? Character(c.uppercased()) : c)
                upper = false
            }
            return out
        }

        private func lookup(_ typeName: String) -> Substring {
            typeName.hasPrefix(".") ? typeName.dropFirst() : typeName[...]
        }

        func resolve() throws(DescriptorError) {
            for message in messages.values {
                for field in message.fields where field.kind == .message || field.kind == .group || field.kind == .enumeration {
                    let name = String(lookup(field.typeName))
                    if field.kind == .enumeration {
                        guard let e = enums[name] else {
                            throw DescriptorError("\(fileOf[message.fullName] ?? "?"): field \(message.fullName).\(field.name) has type \(name), which no descriptor defines; build the set with --include_imports")
                        }
                        field.enumType = e
                    } else {
                        guard let m = messages[name] else {
                            throw DescriptorError("\(fileOf[message.fullName] ?? "?"): field \(message.fullName).\(field.name) has type \(name), which no descriptor defines; build the set with --include_imports")
                        }
                        field.messageType = m
                    }
                }
            }
            for message in messages.values { message.codec.link() }  // the JSON codec's table
            for service in services.values {
                for method in service.methods {
                    for (typeName, isInput) in [(method.inputTypeName, true), (method.outputTypeName, false)] {
                        let name = String(lookup(typeName))
                        guard let m = messages[name] else {
                            throw DescriptorError("\(fileOf[service.fullName] ?? "?"): method \(method.path) uses \(name), which no descriptor defines; build the set with --include_imports")
                        }
                        if isInput { method.inputType = m } else { method.outputType = m }
                    }
                }
            }
        }
    }
}

/// A descriptor set that cannot be used; the message names the file and what is wrong with it.
public struct DescriptorError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

import SwiftProtobuf
import Testing
import Transcoding

/// The google.rpc types every registry knows (`DescriptorRegistry.builtinFiles`): an error body's
/// standard details decode to JSON whatever the routes file's sets hold.
@Suite struct BuiltinErrorDetailsTests {
    static let detailTypes = ["ErrorInfo", "RetryInfo", "DebugInfo", "QuotaFailure", "PreconditionFailure",
                              "BadRequest", "RequestInfo", "ResourceInfo", "Help", "LocalizedMessage"]

    @Test func emptyRegistryKnowsStatusAnyAndEveryDetail() {
        let registry = DescriptorRegistry()
        for name in ["google.rpc.Status", "google.protobuf.Any", "google.protobuf.Duration"]
            + Self.detailTypes.map({ "google.rpc." + $0 })
        {
            #expect(registry.message(named: name) != nil, "\(name)")
        }
        #expect(registry.services.isEmpty)
    }

    @Test func userSetWithoutErrorDetailsGetsThem() throws {
        let registry = try DescriptorRegistry(fileDescriptorSets: [("user.pb", try Self.userSet(defining: "acme.Thing"))])
        #expect(registry.message(named: "acme.Thing") != nil)
        #expect(registry.message(named: "google.rpc.BadRequest.FieldViolation") != nil)
    }

    /// A user's own `google.rpc.Status` in a file of another name stands; no "already defined".
    @Test func userDefinitionOfABuiltinTypeStands() throws {
        let registry = try DescriptorRegistry(fileDescriptorSets: [("user.pb", try Self.userSet(defining: "google.rpc.Status"))])
        let status = try #require(registry.message(named: "google.rpc.Status"))
        #expect(status.fields.map(\.name) == ["only"])
        #expect(registry.message(named: "google.rpc.ErrorInfo") != nil)
    }

    /// Every detail type in one status, decoded with a registry of the built-ins only.
    @Test func everyDetailDecodesInAStatusBody() {
        let details: [(String, [UInt8])] = [
            ("ErrorInfo", str(1, "QUOTA") + str(2, "acme.example") + ld(3, str(1, "k") + str(2, "v"))),
            ("RetryInfo", ld(1, varint(1, 2) + varint(2, 500_000_000))),
            ("DebugInfo", str(1, "a.go:1") + str(1, "b.go:2") + str(2, "boom")),
            ("QuotaFailure", ld(1, str(1, "project:1") + str(2, "daily limit"))),
            ("PreconditionFailure", ld(1, str(1, "TOS") + str(2, "google.com/cloud") + str(3, "not accepted"))),
            ("BadRequest", ld(1, str(1, "name") + str(2, "must not be empty"))),
            ("RequestInfo", str(1, "req-1") + str(2, "xyz")),
            ("ResourceInfo", str(1, "book") + str(2, "shelves/1") + str(3, "me") + str(4, "gone")),
            ("Help", ld(1, str(1, "docs") + str(2, "https://docs.example"))),
            ("LocalizedMessage", str(1, "de-DE") + str(2, "Fehler")),
        ]
        var status = varint(1, 9) + str(2, "m")
        for (name, value) in details {
            status += ld(3, str(1, "type.googleapis.com/google.rpc." + name) + ld(2, value))
        }
        status += ld(3, str(1, "type.googleapis.com/acme.Unknown") + ld(2, [1, 2, 3]))
        let body = Self.body(status)
        let expected = #"{"code":9,"message":"x","details":["#
            + #"{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA","domain":"acme.example","metadata":{"k":"v"}},"#
            + #"{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.500s"},"#
            + #"{"@type":"type.googleapis.com/google.rpc.DebugInfo","stackEntries":["a.go:1","b.go:2"],"detail":"boom"},"#
            + #"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"project:1","description":"daily limit"}]},"#
            + #"{"@type":"type.googleapis.com/google.rpc.PreconditionFailure","violations":[{"type":"TOS","subject":"google.com/cloud","description":"not accepted"}]},"#
            + #"{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"name","description":"must not be empty"}]},"#
            + #"{"@type":"type.googleapis.com/google.rpc.RequestInfo","requestId":"req-1","servingData":"xyz"},"#
            + #"{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resourceType":"book","resourceName":"shelves/1","owner":"me","description":"gone"},"#
            + #"{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"docs","url":"https://docs.example"}]},"#
            + #"{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"de-DE","message":"Fehler"},"#
            + #"{"@type":"type.googleapis.com/acme.Unknown","value":"AQID"}]}"#
        #expect(body == expected)
    }

    // MARK: helpers

    static func body(_ status: [UInt8]) -> String {
        let registry = DescriptorRegistry()
        var bin: [UInt8] = []
        status.withUnsafeBytes { Base64.encode($0, into: &bin) }
        var out: [UInt8] = []
        bin.withUnsafeBytes {
            StatusJSON.write(code: 9, message: "x", detailsBin: $0, transcoder: JSONTranscoder(registry: registry),
                             registry: registry, into: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A set of one file, `user.proto`, with one message `fullName` (one string field `only`).
    static func userSet(defining fullName: String) throws -> [UInt8] {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "user.proto"
        file.syntax = "proto3"
        let dot = fullName.lastIndex(of: ".")!
        file.package = String(fullName[..<dot])
        var message = Google_Protobuf_DescriptorProto()
        message.name = String(fullName[fullName.index(after: dot)...])
        var field = Google_Protobuf_FieldDescriptorProto()
        field.name = "only"
        field.number = 1
        field.type = .string
        field.label = .optional
        message.field = [field]
        file.messageType = [message]
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [file]
        return try set.serializedBytes()
    }
}

private func varint(_ number: Int, _ value: UInt64) -> [UInt8] {
    var w = ProtoWriter()
    w.appendTag(Int32(number), .varint)
    w.appendVarint(value)
    return w.bytes
}

private func ld(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
    var w = ProtoWriter()
    w.appendTag(Int32(number), .lengthDelimited)
    w.appendLengthDelimited(payload)
    return w.bytes
}

private func str(_ number: Int, _ text: String) -> [UInt8] { ld(number, Array(text.utf8)) }

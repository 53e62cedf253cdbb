/// How `JSONTranscoder` writes protobuf messages as JSON: the printer options of the proto3 JSON
/// mapping ("JSON Options"), all off by default. Input accepts every form regardless.
public struct JSONOutputOptions: Sendable, Equatable {
    /// Write fields without presence (implicit-presence scalars as their default, repeated fields
    /// as `[]`, maps as `{}`) even when unset. Fields with presence (messages, oneof members,
    /// proto3 `optional`) are still left out when unset.
    public var emitDefaults: Bool
    /// Write enum values as numbers instead of names.
    public var enumsAsNumbers: Bool
    /// Use the proto field names (`page_size`) instead of the JSON names (`pageSize`).
    public var useProtoNames: Bool

    public init(emitDefaults: Bool = false, enumsAsNumbers: Bool = false, useProtoNames: Bool = false) {
        self.emitDefaults = emitDefaults
        self.enumsAsNumbers = enumsAsNumbers
        self.useProtoNames = useProtoNames
    }
}

/// A field's declared type (`FieldDescriptorProto.Type`; raw values are the descriptor's numbers).
public enum FieldKind: UInt8, Sendable {
    case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message, bytes
    case uint32, enumeration, sfixed32, sfixed64, sint32, sint64

    /// The wire type of one value of this kind (unpacked).
    public var wireType: WireType {
        switch self {
        case .double, .fixed64, .sfixed64: .fixed64
        case .float, .fixed32, .sfixed32: .fixed32
        case .int64, .uint64, .int32, .bool, .uint32, .enumeration, .sint32, .sint64: .varint
        case .string, .bytes, .message: .lengthDelimited
        case .group: .startGroup
        }
    }

    /// Scalars that a repeated field may carry packed (every kind but string, bytes, message, group).
    public var isPackable: Bool {
        switch self {
        case .string, .bytes, .message, .group: false
        default: true
        }
    }
}

/// One field of a message, from its `FieldDescriptorProto`. Immutable after the registry is built;
/// `messageType` / `enumType` point into the registry, which owns every descriptor and outlives
/// every user of them (a config snapshot holds its registry).
public final class FieldDescriptor: @unchecked Sendable {
    /// The proto field name (`page_size`).
    public let name: String
    /// The JSON name (`pageSize`, or the `json_name` option).
    public let jsonName: String
    public let number: Int32
    public let kind: FieldKind
    public let isRepeated: Bool
    /// Whether repeated values of this field are written packed (proto3's default for scalars).
    public let isPacked: Bool
    /// Whether an unset field is distinguishable from its default: message fields, oneof members,
    /// proto3 `optional`, proto2 `optional`.
    public let hasPresence: Bool
    /// The index into the message's `oneofs`, for members of a real (not synthetic) oneof.
    public let oneofIndex: Int?
    /// `"name"` with quotes and a colon, as written on output with original names.
    public let quotedName: [UInt8]
    /// `"jsonName"` with quotes and a colon, as written on output by default.
    public let quotedJSONName: [UInt8]
    /// The type name as declared (`.pkg.Message`), for message and enum fields.
    let typeName: String

    /// The message type of a message (or map) field. Set once while the registry is built.
    public internal(set) unowned(unsafe) var messageType: MessageDescriptor?
    /// The enum type of an enum field. Set once while the registry is built.
    public internal(set) unowned(unsafe) var enumType: EnumDescriptor?

    init(name: String, jsonName: String, number: Int32, kind: FieldKind, isRepeated: Bool, isPacked: Bool,
         hasPresence: Bool, oneofIndex: Int?, typeName: String) {
        self.name = name
        self.jsonName = jsonName
        self.number = number
        self.kind = kind
        self.isRepeated = isRepeated
        self.isPacked = isPacked
        self.hasPresence = hasPresence
        self.oneofIndex = oneofIndex
        self.typeName = typeName
        self.quotedName = Array("\"\(name)\":".utf8)
        self.quotedJSONName = Array("\"\(jsonName)\":".utf8)
    }

    /// A map field: repeated, of a synthesized `*Entry` message (key = 1, value = 2).
    public var isMap: Bool { isRepeated && messageType?.isMapEntry == true }
}

/// A oneof declared in a message (synthetic oneofs of proto3 `optional` are not listed).
public struct OneofDescriptor: Sendable {
    public let name: String
}

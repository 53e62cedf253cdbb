/// The well-known types whose JSON form is special (proto3 JSON mapping, "JSON Mapping" table).
public enum WellKnownType: Sendable, Equatable {
    case any, timestamp, duration, fieldMask, structValue, value, listValue, empty
    case doubleValue, floatValue, int64Value, uint64Value, int32Value, uint32Value, boolValue, stringValue, bytesValue

    init?(fullName: String) {
        switch fullName {
        case "google.protobuf.Any": self = .any
        case "google.protobuf.Timestamp": self = .timestamp
        case "google.protobuf.Duration": self = .duration
        case "google.protobuf.FieldMask": self = .fieldMask
        case "google.protobuf.Struct": self = .structValue
        case "google.protobuf.Value": self = .value
        case "google.protobuf.ListValue": self = .listValue
        case "google.protobuf.Empty": self = .empty
        case "google.protobuf.DoubleValue": self = .doubleValue
        case "google.protobuf.FloatValue": self = .floatValue
        case "google.protobuf.Int64Value": self = .int64Value
        case "google.protobuf.UInt64Value": self = .uint64Value
        case "google.protobuf.Int32Value": self = .int32Value
        case "google.protobuf.UInt32Value": self = .uint32Value
        case "google.protobuf.BoolValue": self = .boolValue
        case "google.protobuf.StringValue": self = .stringValue
        case "google.protobuf.BytesValue": self = .bytesValue
        default: return nil
        }
    }

    /// The wrapper types (`google.protobuf.*Value` holding one scalar `value = 1`).
    public var isWrapper: Bool {
        switch self {
        case .doubleValue, .floatValue, .int64Value, .uint64Value, .int32Value, .uint32Value,
             .boolValue, .stringValue, .bytesValue: true
        default: false
        }
    }
}

/// A message type from the registry: its fields in declaration order, looked up by number (wire
/// input) or by either JSON or proto name (JSON input) without allocating.
public final class MessageDescriptor: @unchecked Sendable {
    /// Without a leading dot: `trestle.demo.v1.EchoRequest`.
    public let fullName: String
    public let fields: [FieldDescriptor]
    public let oneofs: [OneofDescriptor]
    /// A synthesized map entry (`option map_entry = true`).
    public let isMapEntry: Bool
    public let wellKnown: WellKnownType?
    /// `syntax = "proto3"` (implicit presence for scalars) rather than proto2.
    public let isProto3: Bool

    /// What the JSON codec reads per field on its hot paths (memory owned here, freed in deinit).
    let codec: CodecTable

    /// field number → index into `fields`, for numbers below `denseLimit`; others use `sparse`.
    private let dense: [Int16]
    private let sparse: [Int32: Int]
    private let names: NameTable

    private static let denseLimit: Int32 = 256

    init(fullName: String, fields: [FieldDescriptor], oneofs: [OneofDescriptor], isMapEntry: Bool, isProto3: Bool) {
        self.fullName = fullName
        self.fields = fields
        self.oneofs = oneofs
        self.isMapEntry = isMapEntry
        self.isProto3 = isProto3
        self.wellKnown = WellKnownType(fullName: fullName)
        let maxDense = fields.lazy.map(\.number).filter { $0 < Self.denseLimit }.max() ?? -1
        var dense = [Int16](repeating: -1, count: Int(maxDense) + 1)
        var sparse: [Int32: Int] = [:]
        for (i, f) in fields.enumerated() {
            if f.number < Self.denseLimit { dense[Int(f.number)] = Int16(i) } else { sparse[f.number] = i }
        }
        self.dense = dense
        self.sparse = sparse
        var names = NameTable(capacity: fields.count * 2)
        for (i, f) in fields.enumerated() {
            names.insert(Array(f.jsonName.utf8), i)
            if f.name != f.jsonName { names.insert(Array(f.name.utf8), i) }
        }
        self.names = names
        codec = CodecTable(fields: fields)
    }

    deinit { codec.deallocate() }

    /// The field with this number, or nil (an unknown field).
    @inline(__always)
    public func field(number: Int32) -> FieldDescriptor? {
        if number >= 0 && Int(number) < dense.count {
            let i = dense[Int(number)]
            return i < 0 ? nil : fields[Int(i)]
        }
        return sparse[number].map { fields[$0] }
    }

    /// The field whose JSON name or proto name is exactly `name` (UTF-8 bytes), or nil.
    public func field(named name: UnsafeRawBufferPointer) -> FieldDescriptor? {
        names.lookup(name).map { fields[$0] }
    }

    public func field(named name: String) -> FieldDescriptor? {
        var name = name
        return name.withUTF8 { field(named: UnsafeRawBufferPointer($0)) }
    }

    /// The index into `fields` of the field with this number, or -1 (the JSON codec keeps
    /// per-field state in arrays indexed like `fields`).
    @inline(__always)
    func fieldIndex(number: Int32) -> Int {
        if number >= 0 && Int(number) < dense.count { return Int(dense[Int(number)]) }
        return sparse[number] ?? -1
    }

    /// The index into `fields` of the field whose JSON or proto name is exactly `name`, or nil.
    @inline(__always)
    func fieldIndex(named name: UnsafeRawBufferPointer) -> Int? {
        names.lookup(name)
    }
}

/// An open-addressing table from UTF-8 names to small integers, looked up by borrowed bytes.
struct NameTable: Sendable {
    private var keys: [[UInt8]?]
    private var values: [Int]
    private let mask: Int

    init(capacity: Int) {
        var size = 4
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: nil, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
        return Int(h)
    }

    mutating func insert(_ key: [UInt8], _ value: Int) {
        var slot = key.withUnsafeBytes { Self.hash($0) } & mask
        while let existing = keys[slot] {
            if existing == key { return }  // the first declaration wins
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = value
    }

    func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        var slot = Self.hash(key) & mask
        while let existing = keys[slot] {
            if existing.count == key.count && existing.withUnsafeBytes({ $0.elementsEqual(key) }) {
                return values[slot]
            }
            slot = (slot + 1) & mask
        }
        return nil
    }
}

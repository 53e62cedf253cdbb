/// The facts about one field that the JSON codec reads for every field of every message on its
/// hot paths. Plain values and unretained references: reading them touches no reference count,
/// unlike reading `FieldDescriptor`'s properties. Kept by `MessageDescriptor` in its `CodecTable`.
struct CodecFieldInfo {
    var number: Int32
    var kind: FieldKind
    /// A singular scalar outside any oneof, of a kind that needs nothing but its bits: not a
    /// message, group or enum (enums need their names), not repeated. The codec's fast path.
    var isPlainScalar: Bool
    var hasPresence: Bool
    /// A singular message field outside any oneof (its type is `messageType`, once linked).
    var isPlainMessage: Bool
    /// Bit `w` is set when wire type `w` is this field's: its kind's, and length-delimited too
    /// for a repeated scalar (packed or not). Other wire types make an occurrence unknown.
    var acceptedWireTypes: UInt8
    /// In the table's key bytes: `keyStart..<jsonKeyEnd` is `"jsonName":`, `jsonKeyEnd..<protoKeyEnd`
    /// is `"name":`.
    var keyStart: Int32
    var jsonKeyEnd: Int32
    var protoKeyEnd: Int32
    /// The field, and its message type once the registry has linked types (nil before, and for
    /// other kinds). Unretained: the registry owns every descriptor and outlives its users.
    var field: Unmanaged<FieldDescriptor>
    var messageType: Unmanaged<MessageDescriptor>?
}

/// A message's `CodecFieldInfo`s (indexed like its `fields`) and the bytes of its fields' quoted
/// keys, in memory its `MessageDescriptor` owns and frees: a value of plain pointers, so that
/// reading it costs no reference counting. Built with the descriptor; `link()` adds the message
/// types once the registry has resolved them, before the registry is shared.
struct CodecTable {
    let infos: UnsafeMutablePointer<CodecFieldInfo>
    let count: Int
    let keys: UnsafeMutablePointer<UInt8>

    init(fields: [FieldDescriptor]) {
        var keyBytes: [UInt8] = []
        infos = .allocate(capacity: max(fields.count, 1))
        count = fields.count
        for (i, field) in fields.enumerated() {
            var accepted: UInt8 = 1 << field.kind.wireType.rawValue
            if field.isRepeated && field.kind.isPackable { accepted |= 1 << WireType.lengthDelimited.rawValue }
            let start = Int32(keyBytes.count)
            keyBytes += field.quotedJSONName
            let jsonEnd = Int32(keyBytes.count)
            keyBytes += field.quotedName
            let plain = !field.isRepeated && field.oneofIndex == nil
                && field.kind != .message && field.kind != .group && field.kind != .enumeration
            let plainMessage = !field.isRepeated && field.oneofIndex == nil && field.kind == .message
            (infos + i).initialize(to: CodecFieldInfo(
                number: field.number, kind: field.kind, isPlainScalar: plain, hasPresence: field.hasPresence,
                isPlainMessage: plainMessage,
                acceptedWireTypes: accepted, keyStart: start, jsonKeyEnd: jsonEnd, protoKeyEnd: Int32(keyBytes.count),
                field: .passUnretained(field), messageType: nil))
        }
        keys = .allocate(capacity: max(keyBytes.count, 1))
        keys.initialize(from: keyBytes, count: keyBytes.count)
    }

    /// Notes each message field's type (set on its `FieldDescriptor` by the registry).
    func link() {
        for i in 0..<count {
            if let type = infos[i].field.takeUnretainedValue().messageType {
                infos[i].messageType = .passUnretained(type)
            }
        }
    }

    func deallocate() {
        infos.deallocate()
        keys.deallocate()
    }

    @inline(__always)
    subscript(i: Int) -> CodecFieldInfo { infos[i] }

    /// `"jsonName":` or `"name":` of field `i`.
    @inline(__always)
    func key(_ i: Int, protoNames: Bool) -> UnsafeRawBufferPointer {
        let info = infos[i]
        let start = protoNames ? Int(info.jsonKeyEnd) : Int(info.keyStart)
        let end = protoNames ? Int(info.protoKeyEnd) : Int(info.jsonKeyEnd)
        return UnsafeRawBufferPointer(start: keys + start, count: end - start)
    }
}

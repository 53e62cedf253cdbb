/// An enum type from the registry: value names by number (output) and numbers by name (input).
public final class EnumDescriptor: @unchecked Sendable {
    /// Without a leading dot: `trestle.test.v1.Color`.
    public let fullName: String
    /// Values in declaration order (aliases included).
    public let values: [(name: String, number: Int32)]
    /// `google.protobuf.NullValue`, whose JSON form is `null`.
    public let isNullValue: Bool

    private let quotedByNumber: [Int32: [UInt8]]
    private let names: NameTable

    init(fullName: String, values: [(name: String, number: Int32)]) {
        self.fullName = fullName
        self.values = values
        self.isNullValue = fullName == "google.protobuf.NullValue"
        var quoted: [Int32: [UInt8]] = [:]
        var names = NameTable(capacity: values.count)
        for (i, v) in values.enumerated() {
            if quoted[v.number] == nil { quoted[v.number] = Array("\"\(v.name)\"".utf8) }  // first alias wins
            names.insert(Array(v.name.utf8), i)
        }
        self.quotedByNumber = quoted
        self.names = names
    }

    /// `"NAME"` with quotes for a known number, nil for a number the enum does not declare.
    @inline(__always)
    public func quotedName(of number: Int32) -> [UInt8]? { quotedByNumber[number] }

    /// The number of the value named `name` (UTF-8 bytes), or nil.
    public func number(named name: UnsafeRawBufferPointer) -> Int32? {
        names.lookup(name).map { values[$0].number }
    }

    public func number(named name: String) -> Int32? {
        var name = name
        return name.withUTF8 { number(named: UnsafeRawBufferPointer($0)) }
    }
}

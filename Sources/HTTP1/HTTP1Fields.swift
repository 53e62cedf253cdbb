/// An ordered list of header or trailer fields (RFC 9110 §5): (name, value) byte strings, names
/// kept exactly as sent, duplicates kept in order, looked up ignoring ASCII case.
///
/// All names and values live in one byte array, so a parsed header section costs two
/// allocations however many fields it has. A value type: copies share storage until written.
///
/// Fields produced by `HTTP1RequestParser` are valid: names are tokens, values hold no control
/// character other than HTAB and have no leading or trailing whitespace. Fields appended by a
/// caller are not checked here; `HTTP1ResponseWriter` checks them before writing anything.
public struct HTTP1Fields: Sendable, Equatable, RandomAccessCollection, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One field line. `nameBytes` and `valueBytes` are the exact bytes (views of the shared
    /// storage); `name` and `value` decode them as UTF-8, replacing ill-formed sequences
    /// (obs-text in a value) with U+FFFD.
    public struct Field: Sendable, Equatable, CustomStringConvertible {
        public var nameBytes: ArraySlice<UInt8>
        public var valueBytes: ArraySlice<UInt8>

        public var name: String { String(decoding: nameBytes, as: UTF8.self) }
        public var value: String { String(decoding: valueBytes, as: UTF8.self) }
        public var description: String { "\(name): \(value)" }
    }

    /// Where one field's name and value sit in `storage`: name `start..<nameEnd`, value
    /// `nameEnd..<end`.
    private struct Span: Sendable {
        var start: Int
        var nameEnd: Int
        var end: Int
    }

    private var storage: [UInt8] = []
    private var spans: [Span] = []

    /// An empty list; allocates nothing until the first field is appended.
    public init() {}

    /// Fields in the literal's order; repeated names are allowed: `["Vary": "a", "Vary": "b"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    /// An empty list with room for about `count` fields of `bytes` bytes in all.
    init(reservingCount count: Int, bytes: Int) {
        spans.reserveCapacity(count)
        storage.reserveCapacity(bytes)
    }

    /// Calls `body` with each field's name and value bytes, in order, without copying them.
    public func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        storage.withUnsafeBytes { raw in
            for span in spans {
                body(UnsafeRawBufferPointer(rebasing: raw[span.start..<span.nameEnd]),
                     UnsafeRawBufferPointer(rebasing: raw[span.nameEnd..<span.end]))
            }
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { spans.count }

    public subscript(position: Int) -> Field {
        let span = spans[position]
        return Field(nameBytes: storage[span.start..<span.nameEnd], valueBytes: storage[span.nameEnd..<span.end])
    }

    /// Appends a field at the end, after any with the same name.
    public mutating func append(name: String, value: String) {
        let start = storage.count
        storage.append(contentsOf: name.utf8)
        let nameEnd = storage.count
        storage.append(contentsOf: value.utf8)
        spans.append(Span(start: start, nameEnd: nameEnd, end: storage.count))
    }

    /// Appends a field from raw bytes (the parser's path: no String is made).
    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let start = storage.count
        storage.append(contentsOf: name)
        let nameEnd = storage.count
        storage.append(contentsOf: value)
        spans.append(Span(start: start, nameEnd: nameEnd, end: storage.count))
    }

    /// The value of the first field called `name` (ASCII case ignored), or nil.
    public func first(_ name: String) -> String? {
        spans.first { matches($0, name) }.map { String(decoding: storage[$0.nameEnd..<$0.end], as: UTF8.self) }
    }

    /// The values of every field called `name` (ASCII case ignored), in order.
    public func values(_ name: String) -> [String] {
        spans.filter { matches($0, name) }.map { String(decoding: storage[$0.nameEnd..<$0.end], as: UTF8.self) }
    }

    /// True when a field called `name` (ASCII case ignored) is present.
    public func contains(_ name: String) -> Bool {
        spans.contains { matches($0, name) }
    }

    /// Fields compare equal when they hold the same names and values in the same order; names
    /// compare byte for byte (case included), as they were sent.
    public static func == (lhs: HTTP1Fields, rhs: HTTP1Fields) -> Bool {
        lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0 == $1 }
    }

    /// `[Name: value, Name: value]`, for logs and test failures.
    public var description: String {
        "[" + map(\.description).joined(separator: ", ") + "]"
    }

    private func matches(_ span: Span, _ name: String) -> Bool {
        guard span.nameEnd - span.start == name.utf8.count else { return false }
        var index = span.start
        for byte in name.utf8 {
            if HTTP1Syntax.lowercased(storage[index]) != HTTP1Syntax.lowercased(byte) { return false }
            index += 1
        }
        return true
    }
}

/// A bound on one decoded header list (a request head, a response head, trailers), counted as
/// HTTP/2 counts SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2: name + value + 32 bytes per
/// field) and in fields. An HPACK block can reference one large table entry many times, so a
/// small frame may decode into a huge list: the list is counted as it is decoded, and once over
/// the limit nothing more of it is kept (the caller answers 431 / resets; memory stays bounded).
public struct HeaderListLimit: Sendable {
    /// Defaults as nghttpx's and Envoy's: 64 KiB, 100 fields.
    public static let defaultMaxBytes = 64 * 1024
    public static let defaultMaxFields = 100

    public let maxBytes: Int
    public let maxFields: Int
    /// Bytes and fields counted so far.
    @inlinable public var bytes: Int { counted }
    @inlinable public var fields: Int { countedFields }
    @usableFromInline var counted = 0
    @usableFromInline var countedFields = 0

    public init(maxBytes: Int = HeaderListLimit.defaultMaxBytes, maxFields: Int = HeaderListLimit.defaultMaxFields) {
        self.maxBytes = maxBytes
        self.maxFields = maxFields
    }

    /// Counts one field; false once the list is over the limit (it stays over).
    @inlinable @inline(__always)
    public mutating func admit(nameCount: Int, valueCount: Int) -> Bool {
        counted &+= nameCount &+ valueCount &+ 32
        countedFields &+= 1
        return counted <= maxBytes && countedFields <= maxFields
    }

    public var isExceeded: Bool { bytes > maxBytes || fields > maxFields }

    /// What was exceeded, for messages.
    public var description: String {
        fields > maxFields ? "\(fields) header fields, more than the limit of \(maxFields)"
            : "a header list of \(bytes) bytes or more, more than the limit of \(maxBytes)"
    }

    public mutating func reset() {
        counted = 0
        countedFields = 0
    }
}

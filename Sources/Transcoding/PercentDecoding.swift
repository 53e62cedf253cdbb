import Channel

/// Percent-decoding (RFC 3986 §2.1) of path-template variables and query parameters, from borrowed
/// bytes into the one `String` a caller keeps.
enum PercentDecoding {
    enum Failure: Error {
        /// A `%` not followed by two hexadecimal digits, at this byte offset of the input.
        case invalidEscape(offset: Int)
        /// The decoded bytes are not UTF-8.
        case invalidUTF8
    }

    /// Decodes every `%XX` of `input`.
    ///
    /// - `keepingEncodedSlash`: `%2F` and `%2f` are copied unchanged — http.proto's rule for a
    ///   variable that spans several segments, so that a decoded `/` is always a separator.
    /// - `plusAsSpace`: `+` becomes a space (`application/x-www-form-urlencoded`, query strings).
    static func decode(_ input: UnsafeRawBufferPointer, keepingEncodedSlash: Bool = false,
                       plusAsSpace: Bool = false) throws(Failure) -> String {
        // Most values carry nothing to decode: validate and copy once.
        if !input.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            guard let text = String(validating: input, as: UTF8.self) else { throw .invalidUTF8 }
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "+") && plusAsSpace {
                out.append(UInt8(ascii: " "))
                i += 1
            } else if byte == UInt8(ascii: "%") {
                guard i + 2 < input.count, let high = ASCII.hexValue(input[i + 1]), let low = ASCII.hexValue(input[i + 2]) else {
                    throw .invalidEscape(offset: i)
                }
                let decoded = high << 4 | low
                if keepingEncodedSlash && decoded == UInt8(ascii: "/") {
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + 3)]))
                } else {
                    out.append(decoded)
                }
                i += 3
            } else {
                out.append(byte)
                i += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }
}

/// The protocol version of a message (RFC 9112 §2.3). A message that announces `HTTP/1.x` with a
/// minor version above 1 is processed as `http11` (RFC 9110 §2.5); any other major version is
/// refused with 505.
public enum HTTP1Version: Sendable, Equatable, CustomStringConvertible {
    case http10
    case http11

    /// `HTTP/1.0` or `HTTP/1.1`, as on the wire.
    public var description: String {
        switch self {
        case .http10: "HTTP/1.0"
        case .http11: "HTTP/1.1"
        }
    }
}

extension HTTP1Version {
    /// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). HTTP/1.x with
    /// x > 1 is read as HTTP/1.1, as RFC 9110 §2.5 asks of a recipient that implements the
    /// major version; any other major version gets 505.
    init(parsing bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        guard bytes.count == 8,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
              HTTP1Syntax.isDigit(bytes[5]), HTTP1Syntax.isDigit(bytes[7])
        else { throw .badRequest("invalid HTTP version \(HTTP1Syntax.quoted(bytes))") }
        guard bytes[5] == UInt8(ascii: "1") else {
            throw HTTP1ParseError(status: 505, message: "unsupported HTTP version \(HTTP1Syntax.quoted(bytes))")
        }
        self = bytes[7] == UInt8(ascii: "0") ? .http10 : .http11
    }
}

/// Why a request was refused, or a response could not be read: the status to answer with and
/// what was wrong, in words fit for the response body and the log (input bytes are quoted and
/// escaped, so the text is printable ASCII).
///
/// The connection is over after one: the parser stays failed. A server answers a refused request
/// with `status` and `Connection: close` (`HTTP1ResponseWriter.writeError`), then closes; a
/// client closes, and a gateway answers its own client with the 502.
public struct HTTP1ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// For a request: 400 (malformed or ambiguous), 414 (request line too long), 431 (header or
    /// trailer section too large), 501 (unsupported transfer coding) or 505 (unsupported
    /// version). For a response: 502, whatever was wrong.
    public var status: Int
    /// What was wrong, e.g. `both Content-Length and Transfer-Encoding`.
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    /// `400 Bad Request: both Content-Length and Transfer-Encoding`.
    public var description: String {
        "\(status) \(HTTP1ResponseWriter.reasonPhrase(for: status)): \(message)"
    }

    static func badRequest(_ message: String) -> HTTP1ParseError {
        HTTP1ParseError(status: 400, message: message)
    }
}

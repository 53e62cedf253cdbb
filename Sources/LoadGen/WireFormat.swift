import Channel

/// A wire format: how one call's request messages are put in an HTTP body and what its response
/// means. The connections (`HTTP2LoadConnection`, `HTTP1LoadConnection`) do the HTTP; a format
/// only says which fields to send, how a message is framed, and how to read the answer — so
/// gRPC-Web or Connect is one more conforming type (and a case in `LoadCommand`), not a rewrite.
///
/// Values are immutable and shared by all workers. Everything a format computes for a run
/// (fields, framed message) is computed once, before the first call.
public protocol WireFormat: Sendable {
    /// The name on the command line and in reports: `grpc`, `json`.
    var name: String { get }
    /// The transports this format can run on; the first is the default.
    var transports: [LoadTransport] { get }
    /// Request header fields besides the method, path, scheme, authority and body framing
    /// (lower-case names), e.g. `content-type: application/grpc`, `te: trailers`.
    func requestFields(scenario: LoadScenario) -> [(String, String)]
    /// The body bytes one request message occupies (gRPC: the 5-byte prefix and the message;
    /// JSON: the text, with a newline when the request is a stream).
    func frame(message: [UInt8], scenario: LoadScenario) -> [UInt8]
    /// A reader for one call slot; it is `reset()` before every call made on that slot.
    func makeReader(scenario: LoadScenario) -> ResponseReader
}

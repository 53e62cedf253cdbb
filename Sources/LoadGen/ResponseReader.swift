import Channel

/// Reads one response at a time, as its parts arrive; owned by one call slot, loop-thread only.
/// Nothing here allocates per call: state is reset, not rebuilt.
public protocol ResponseReader: AnyObject {
    func reset()
    /// The HTTP status (`:status` or the status line), 0 until it arrives.
    var httpStatus: Int { get set }
    /// One response header field (`trailer` false) or trailer field (true). Names are lower case
    /// on HTTP/2; on HTTP/1.1 they are as received.
    func field(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, trailer: Bool)
    /// Body bytes, valid only during the call. Returns how many response messages these bytes
    /// completed.
    func body(_ bytes: UnsafeRawBufferPointer) -> Int
    /// The response ended normally: the call's status as its client would report it.
    func finish() -> CallResult
}

/// How one call ended.
public struct CallResult: Sendable {
    public var code: GRPCStatusCode
    /// Response messages completed only by the end of the body (a JSON unary body, which has no
    /// delimiter of its own).
    public var trailingMessages: Int
    /// The response carried no status of its own (no `grpc-status`): `code` is inferred.
    public var missingStatus: Bool

    public init(code: GRPCStatusCode, trailingMessages: Int = 0, missingStatus: Bool = false) {
        self.code = code
        self.trailingMessages = trailingMessages
        self.missingStatus = missingStatus
    }
}

/// The mappings between gRPC status codes and HTTP: one `switch` per direction.
extension GRPCStatusCode {
    /// The HTTP status a JSON (or other non-gRPC) client gets for this code.
    ///
    /// This is the README's table, which is grpc-gateway's `HTTPStatusFromCode`
    /// (`runtime/errors.go`) and google.rpc.Code's documented mapping.
    public var httpStatus: Int {
        switch self {
        case .ok: 200
        case .cancelled: 499  // nginx's "client closed request"; no standard code says "cancelled"
        case .unknown: 500
        case .invalidArgument: 400
        case .deadlineExceeded: 504
        case .notFound: 404
        case .alreadyExists: 409
        case .permissionDenied: 403
        case .resourceExhausted: 429
        case .failedPrecondition: 400  // not 412: that is about HTTP conditional headers
        case .aborted: 409
        case .outOfRange: 400
        case .unimplemented: 501
        case .internalError: 500
        case .unavailable: 503
        case .dataLoss: 500
        case .unauthenticated: 401
        }
    }

    /// The status of a call whose HTTP/2 stream was reset with RST_STREAM `code`
    /// (gRPC PROTOCOL-HTTP2.md, "Errors").
    ///
    /// `code` is the raw value from the wire: codes that `HTTP2ErrorCode` does not name occur
    /// there too (RFC 9113 §7: they MUST NOT trigger special behaviour), and end the call as
    /// INTERNAL. STREAM_CLOSED and HTTP_1_1_REQUIRED have no entry in gRPC's table either.
    public static func fromHTTP2ErrorCode(_ code: UInt32) -> GRPCStatusCode {
        switch HTTP2ErrorCode(rawValue: code) {
        case .noError?,  // the server reset before sending a status
             .protocolError?, .internalError?, .flowControlError?, .settingsTimeout?, .frameSizeError?,
             .compressionError?, .connectError?:
            .internalError
        case .refusedStream?: .unavailable  // nothing was processed, so the call may be retried
        case .cancel?: .cancelled
        case .enhanceYourCalm?: .resourceExhausted
        case .inadequateSecurity?: .permissionDenied
        case .streamClosed?, .http11Required?, nil: .internalError
        }
    }

    /// The status of a response with a non-200 HTTP status and no `grpc-status`
    /// (gRPC `doc/http-grpc-status-mapping.md`).
    ///
    /// Every status not in that table, 200 included, gives UNKNOWN: the caller treats a 200
    /// without `grpc-status` itself.
    public static func fromHTTPStatus(_ status: Int) -> GRPCStatusCode {
        switch status {
        case 400: .internalError
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }
}

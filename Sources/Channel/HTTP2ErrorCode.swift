/// HTTP/2 error codes (RFC 9113 §7), as carried by RST_STREAM and GOAWAY. Vocabulary: the
/// status mapping (`GRPCStatusCode.fromHTTP2ErrorCode`) and the transport both name them here.
/// Codes this table does not know still occur on the wire: receivers take a raw `UInt32`.
public enum HTTP2ErrorCode: UInt32, Sendable, CaseIterable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case settingsTimeout = 0x4
    case streamClosed = 0x5
    case frameSizeError = 0x6
    case refusedStream = 0x7
    case cancel = 0x8
    case compressionError = 0x9
    case connectError = 0xa
    case enhanceYourCalm = 0xb
    case inadequateSecurity = 0xc
    case http11Required = 0xd
}

import Channel
import Testing

@Suite struct GRPCStatusCodeTests {
    static let table: [(GRPCStatusCode, UInt8, String, Int)] = [
        (.ok, 0, "OK", 200),
        (.cancelled, 1, "CANCELLED", 499),
        (.unknown, 2, "UNKNOWN", 500),
        (.invalidArgument, 3, "INVALID_ARGUMENT", 400),
        (.deadlineExceeded, 4, "DEADLINE_EXCEEDED", 504),
        (.notFound, 5, "NOT_FOUND", 404),
        (.alreadyExists, 6, "ALREADY_EXISTS", 409),
        (.permissionDenied, 7, "PERMISSION_DENIED", 403),
        (.resourceExhausted, 8, "RESOURCE_EXHAUSTED", 429),
        (.failedPrecondition, 9, "FAILED_PRECONDITION", 400),
        (.aborted, 10, "ABORTED", 409),
        (.outOfRange, 11, "OUT_OF_RANGE", 400),
        (.unimplemented, 12, "UNIMPLEMENTED", 501),
        (.internalError, 13, "INTERNAL", 500),
        (.unavailable, 14, "UNAVAILABLE", 503),
        (.dataLoss, 15, "DATA_LOSS", 500),
        (.unauthenticated, 16, "UNAUTHENTICATED", 401),
    ]

    @Test func tableCoversEveryCode() {
        #expect(GRPCStatusCode.allCases.count == 17)
        #expect(Self.table.map(\.0) == GRPCStatusCode.allCases)
    }

    @Test(arguments: table)
    func rawValueNameHTTPStatusAndText(code: GRPCStatusCode, raw: UInt8, name: String, http: Int) {
        #expect(code.rawValue == raw)
        #expect(code.name == name)
        #expect(code.httpStatus == http)
        #expect(code.decimalText == String(raw))
        #expect(GRPCStatusCode(decimalText: code.decimalText) == code)
        #expect(code.description == "\(raw) \(name)")
    }

    @Test(arguments: ["", "17", "00", "01", "-1", "+1", " 1", "1 ", "a", "123"])
    func decimalTextRejectsMalformed(text: String) {
        #expect(GRPCStatusCode(decimalText: text) == nil)
    }

    /// gRPC PROTOCOL-HTTP2.md, "Errors": RST_STREAM codes to status, by name.
    @Test(arguments: [
        (HTTP2ErrorCode.noError, GRPCStatusCode.internalError),
        (.protocolError, .internalError),
        (.internalError, .internalError),
        (.flowControlError, .internalError),
        (.settingsTimeout, .internalError),
        (.streamClosed, .internalError),  // not in gRPC's table
        (.frameSizeError, .internalError),
        (.refusedStream, .unavailable),
        (.cancel, .cancelled),
        (.compressionError, .internalError),
        (.connectError, .internalError),
        (.enhanceYourCalm, .resourceExhausted),
        (.inadequateSecurity, .permissionDenied),
        (.http11Required, .internalError),  // not in gRPC's table
    ])
    func fromHTTP2ErrorCode(code: HTTP2ErrorCode, expected: GRPCStatusCode) {
        #expect(GRPCStatusCode.fromHTTP2ErrorCode(code.rawValue) == expected)
    }

    /// Codes RFC 9113 does not define still arrive on the wire: they end the call as INTERNAL.
    @Test(arguments: [UInt32(0xe), 0xff, 0x1000, UInt32.max])
    func fromUnknownHTTP2ErrorCode(code: UInt32) {
        #expect(HTTP2ErrorCode(rawValue: code) == nil)
        #expect(GRPCStatusCode.fromHTTP2ErrorCode(code) == .internalError)
    }

    @Test(arguments: [
        (400, GRPCStatusCode.internalError),
        (401, .unauthenticated),
        (403, .permissionDenied),
        (404, .unimplemented),
        (429, .unavailable),
        (502, .unavailable),
        (503, .unavailable),
        (504, .unavailable),
        (200, .unknown),
        (302, .unknown),
        (405, .unknown),
        (500, .unknown),
        (501, .unknown),
        (0, .unknown),
    ])
    func fromHTTPStatus(status: Int, expected: GRPCStatusCode) {
        #expect(GRPCStatusCode.fromHTTPStatus(status) == expected)
    }
}

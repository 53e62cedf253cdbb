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

    @Test(arguments: [
        (UInt32(0x0), GRPCStatusCode.internalError),  // NO_ERROR
        (0x1, .internalError),  // PROTOCOL_ERROR
        (0x2, .internalError),  // INTERNAL_ERROR
        (0x3, .internalError),  // FLOW_CONTROL_ERROR
        (0x4, .internalError),  // SETTINGS_TIMEOUT
        (0x5, .internalError),  // STREAM_CLOSED: not in the table
        (0x6, .internalError),  // FRAME_SIZE_ERROR
        (0x7, .unavailable),  // REFUSED_STREAM
        (0x8, .cancelled),  // CANCEL
        (0x9, .internalError),  // COMPRESSION_ERROR
        (0xa, .internalError),  // CONNECT_ERROR
        (0xb, .resourceExhausted),  // ENHANCE_YOUR_CALM
        (0xc, .permissionDenied),  // INADEQUATE_SECURITY
        (0xd, .internalError),  // HTTP_1_1_REQUIRED: not in the table
        (0xff, .internalError),
        (UInt32.max, .internalError),
    ])
    func fromHTTP2ErrorCode(code: UInt32, expected: GRPCStatusCode) {
        #expect(GRPCStatusCode.fromHTTP2ErrorCode(code) == expected)
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

import Channel
import Testing

@Suite struct HTTP2ErrorCodeTests {
    /// RFC 9113 §7, in its order: the name as the RFC spells it and the code on the wire.
    static let table: [(HTTP2ErrorCode, String, UInt32)] = [
        (.noError, "NO_ERROR", 0x0),
        (.protocolError, "PROTOCOL_ERROR", 0x1),
        (.internalError, "INTERNAL_ERROR", 0x2),
        (.flowControlError, "FLOW_CONTROL_ERROR", 0x3),
        (.settingsTimeout, "SETTINGS_TIMEOUT", 0x4),
        (.streamClosed, "STREAM_CLOSED", 0x5),
        (.frameSizeError, "FRAME_SIZE_ERROR", 0x6),
        (.refusedStream, "REFUSED_STREAM", 0x7),
        (.cancel, "CANCEL", 0x8),
        (.compressionError, "COMPRESSION_ERROR", 0x9),
        (.connectError, "CONNECT_ERROR", 0xa),
        (.enhanceYourCalm, "ENHANCE_YOUR_CALM", 0xb),
        (.inadequateSecurity, "INADEQUATE_SECURITY", 0xc),
        (.http11Required, "HTTP_1_1_REQUIRED", 0xd),
    ]

    @Test func tableCoversEveryCode() {
        #expect(Self.table.map(\.0) == HTTP2ErrorCode.allCases)
    }

    @Test(arguments: table)
    func rawValueIsTheRFCsCode(code: HTTP2ErrorCode, rfcName: String, wire: UInt32) {
        #expect(code.rawValue == wire, "\(rfcName)")
        #expect(HTTP2ErrorCode(rawValue: wire) == code, "\(rfcName)")
    }
}

/// The chunked transfer coding (RFC 9112 §7.1):
///
///     chunked-body = *chunk last-chunk trailer-section CRLF
///     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///     last-chunk   = 1*("0") [ chunk-ext ] CRLF
///
/// Chunk data is reported as `.body` views of the input (in `parse`); chunk lines and trailer
/// lines are bounded by `maxChunkLine` and `maxTrailerBytes`. Chunk extensions are checked
/// against their grammar and dropped (RFC 9112 §7.1.1: a recipient MUST ignore unrecognised ones).
extension HTTP1MessageParser {
    /// chunk-size [ chunk-ext ], the CRLF already removed. The size must be 1*HEXDIG that fits an
    /// Int; whatever follows must be chunk extensions:
    /// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
    mutating func parseChunkLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        var sizeEnd = 0
        while sizeEnd < line.count, line[sizeEnd] != HTTP1Syntax.semicolon, !HTTP1Syntax.isWhitespace(line[sizeEnd]) {
            sizeEnd += 1
        }
        let sizeText = HTTP1Syntax.slice(line, 0..<sizeEnd)
        var size = 0
        for byte in sizeText {
            guard let digit = HTTP1Syntax.hexValue(byte) else {
                throw .badRequest("invalid chunk size \(HTTP1Syntax.quoted(sizeText))")
            }
            let (times16, overflow) = size.multipliedReportingOverflow(by: 16)
            guard !overflow else { throw .badRequest("chunk size \(HTTP1Syntax.quoted(sizeText)) too large") }
            size = times16 + digit  // times16 is a multiple of 16 below Int.max: no overflow
        }
        guard !sizeText.isEmpty else { throw .badRequest("invalid chunk size \(HTTP1Syntax.quoted(sizeText))") }

        var index = sizeEnd
        let extensions = HTTP1Syntax.scanParameters(line, &index, valueRequired: false)
        guard extensions.ok, index == line.count else {
            throw .badRequest("invalid chunk extension \(HTTP1Syntax.quoted(HTTP1Syntax.slice(line, sizeEnd..<line.count)))")
        }

        if size == 0 {
            state = .trailerLine
            sectionBytes = 0
            fields = HTTP1Fields()
        } else {
            remaining = size
            state = .chunkData
        }
    }

    /// One byte of the CRLF that must follow a chunk's data.
    mutating func chunkDataEnd(_ byte: UInt8) throws(HTTP1ParseError) {
        if state == .chunkDataCR, byte == HTTP1Syntax.cr {
            state = .chunkDataLF
        } else if state == .chunkDataLF, byte == HTTP1Syntax.lf {
            state = .chunkLine
        } else {
            throw .badRequest("chunk data not followed by CRLF")
        }
    }

    /// The empty line after the trailer section: reports the trailers, if any, and `.end`.
    mutating func finishTrailers(_ onEvent: (Head.Event) -> Void) -> Progress {
        if !fields.isEmpty {
            let trailers = fields
            fields = HTTP1Fields()
            onEvent(.trailers(trailers))
        }
        return endMessage(onEvent)
    }
}

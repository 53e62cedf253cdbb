/// The part of parsing an HTTP/1.1 message that is the same for a request and a response
/// (RFC 9112 §2, §5, §6, §7.1): lines cut anywhere by the input, field lines, the body framed by
/// `Content-Length`, chunked coding with trailers, or (a response only) the connection's close;
/// limits; errors that stay. `HTTP1RequestParser` and `HTTP1ResponseParser` are each one of these
/// with their own `Head`: the start line, the fields only one side reads, and how a complete head
/// decides the body.
///
/// The rules every message shares, and their messages, are here and in
/// `HTTP1MessageParser+Chunked.swift` and `HTTP1FramingFields.swift`.
struct HTTP1MessageParser<Head: HTTP1HeadParser>: Sendable {
    let limits: HTTP1Limits
    var head: Head

    /// Where the parser is in the message (RFC 9112 §2.1 message, §7.1 chunked-body).
    enum State: Sendable {
        /// Before a start line; a request skips empty lines here (RFC 9112 §2.2).
        case startLine
        case headerLine
        /// In a `Content-Length` body; `remaining` bytes to go.
        case body
        case chunkLine
        /// In a chunk's data; `remaining` bytes to go.
        case chunkData
        /// After a chunk's data: its CR, then its LF.
        case chunkDataCR
        case chunkDataLF
        case trailerLine
        /// In a body that the connection's close ends (a response only, RFC 9112 §6.3 rule 8).
        case untilClose
        /// A message that ends the connection has ended (RFC 9112 §9.6); input is discarded.
        case closed
    }

    /// What processing a line or a piece of body led to.
    enum Progress {
        case inMessage
        /// The message's `.end` was reported.
        case ended
        /// The message's `.end` was reported and `feed` must return now (connection closing,
        /// or an upgrade offered or accepted).
        case endedMustStop
    }

    var state = State.startLine
    /// Body or chunk-data bytes still to come.
    var remaining = 0
    /// The start of the current line, when an earlier buffer ended inside it.
    var lineBuffer: [UInt8] = []
    /// Bytes of the current section so far: empty lines before a request line, the header
    /// section, or the trailer section (each against its limit).
    var sectionBytes = 0
    /// The header fields, then (after the head) the trailer fields.
    var fields = HTTP1Fields()
    var framing = HTTP1FramingFields()
    /// Decided with the head: the connection carries another message after this one, and
    /// `feed` returns after this one's `.end` however it was called.
    var keepAlive = true
    var stopAfterMessage = false

    var failure: HTTP1ParseError?

    init(limits: HTTP1Limits, head: Head) {
        self.limits = limits
        self.head = head
    }

    /// True between messages, before any byte of the next one.
    var isIdle: Bool {
        failure == nil && state == .startLine && sectionBytes == 0 && lineBuffer.isEmpty
    }

    /// See `HTTP1RequestParser.feed(_:stopAfterEnd:_:)`: the same contract for either side.
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool,
        _ onEvent: (Head.Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        if let failure { throw failure }
        do {
            return try parse(bytes, stopAfterEnd: stopAfterEnd, onEvent)
        } catch {
            throw fail(error)
        }
    }

    /// See `feed(_:stopAfterEnd:_:)` on a buffer.
    mutating func feed(
        _ bytes: [UInt8],
        stopAfterEnd: Bool,
        _ onEvent: (Head.Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTP1ParseError) -> Int in try feed(buffer, stopAfterEnd: stopAfterEnd, onEvent) }
        }.get()
    }

    /// The peer closed the connection: ends a body delimited by the close (`.end`); between
    /// messages, or after one that closed the connection, nothing happens.
    ///
    /// - Throws: when the close cuts a message short (RFC 9112 §8: an incomplete message), and
    ///   the error the parser already failed with.
    mutating func connectionClosed(_ onEvent: (Head.Event) -> Void) throws(HTTP1ParseError) {
        if let failure { throw failure }
        switch state {
        case .untilClose:
            _ = endMessage(onEvent)
        case .closed:
            break
        case .startLine where isIdle:
            break
        default:
            throw fail(.badRequest("connection closed before the end of the \(Head.messageName)"))
        }
    }

    /// Makes `error` the parser's last word: it keeps nothing of the message.
    private mutating func fail(_ error: HTTP1ParseError) -> HTTP1ParseError {
        let error = Head.failure(error)
        failure = error
        lineBuffer = []
        fields = HTTP1Fields()
        framing = HTTP1FramingFields()
        return error
    }

    private mutating func parse(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool,
        _ onEvent: (Head.Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        let count = bytes.count
        var index = 0
        while index < count {
            var progress = Progress.inMessage
            switch state {
            case .closed:
                return count

            case .startLine, .headerLine, .chunkLine, .trailerLine:
                // A line may be at most `window` more bytes, its LF included; only that far is
                // searched, so a line without an end fails at its limit, however it is cut.
                let start = index
                let window = lineBudget - lineBuffer.count
                let searchEnd = start + max(0, min(window, count - start))
                var lf = start
                while lf < searchEnd, bytes[lf] != HTTP1Syntax.lf { lf += 1 }
                if lf == searchEnd {
                    guard count - start < window else { throw lineTooLong }
                    lineBuffer.append(contentsOf: HTTP1Syntax.slice(bytes, start..<count))
                    return count
                }
                index = lf + 1
                if lineBuffer.isEmpty {
                    progress = try processLine(HTTP1Syntax.slice(bytes, start..<lf), onEvent)
                } else {
                    lineBuffer.append(contentsOf: HTTP1Syntax.slice(bytes, start..<lf))
                    progress = try processBufferedLine(onEvent)
                }

            case .body:
                let take = min(remaining, count - index)
                onEvent(.body(HTTP1Syntax.slice(bytes, index..<(index + take))))
                index += take
                remaining -= take
                if remaining == 0 { progress = endMessage(onEvent) }

            case .chunkData:
                let take = min(remaining, count - index)
                onEvent(.body(HTTP1Syntax.slice(bytes, index..<(index + take))))
                index += take
                remaining -= take
                if remaining == 0 { state = .chunkDataCR }

            case .chunkDataCR, .chunkDataLF:
                try chunkDataEnd(bytes[index])
                index += 1

            case .untilClose:
                onEvent(.body(HTTP1Syntax.slice(bytes, index..<count)))
                return count
            }
            switch progress {
            case .inMessage: break
            case .ended: if stopAfterEnd { return index }
            case .endedMustStop: return index
            }
        }
        return count
    }

    /// How many more bytes the current line may have, its CRLF included.
    private var lineBudget: Int {
        switch state {
        case .startLine: min(Head.startLineLimit(limits), Int.max - 2) + 2 - sectionBytes
        case .headerLine: limits.maxHeaderBytes - sectionBytes
        case .chunkLine: min(limits.maxChunkLine, Int.max - 2) + 2
        case .trailerLine: limits.maxTrailerBytes - sectionBytes
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    private var lineTooLong: HTTP1ParseError {
        switch state {
        case .startLine: Head.startLineTooLong(limits)
        case .headerLine: HTTP1ParseError(status: 431, message: "header section larger than \(limits.maxHeaderBytes) bytes")
        case .chunkLine: .badRequest("chunk line longer than \(limits.maxChunkLine) bytes")
        case .trailerLine: HTTP1ParseError(status: 431, message: "trailer section larger than \(limits.maxTrailerBytes) bytes")
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    private var lineName: String {
        switch state {
        case .startLine: Head.startLineName
        case .headerLine: "header section"
        case .chunkLine: "chunk line"
        case .trailerLine: "trailer section"
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    /// Processes the line gathered in `lineBuffer` and empties the buffer, keeping its capacity.
    private mutating func processBufferedLine(_ onEvent: (Head.Event) -> Void) throws(HTTP1ParseError) -> Progress {
        var line = lineBuffer
        lineBuffer = []  // `line` is now the only reference: no copy below
        defer {
            line.removeAll(keepingCapacity: true)
            lineBuffer = line
        }
        return try line.withUnsafeBytes { raw in
            Result { () throws(HTTP1ParseError) -> Progress in try processLine(raw, onEvent) }
        }.get()
    }

    /// Processes one line, `raw` being its bytes before the LF.
    ///
    /// RFC 9112 §2.2 lets a recipient accept a bare LF as a line end and a bare CR as space; a
    /// strict parser refuses both, because another parser on the path may not agree.
    private mutating func processLine(_ raw: UnsafeRawBufferPointer, _ onEvent: (Head.Event) -> Void) throws(HTTP1ParseError) -> Progress {
        guard raw.last == HTTP1Syntax.cr else { throw .badRequest("bare LF in \(lineName)") }
        let line = HTTP1Syntax.slice(raw, 0..<(raw.count - 1))
        guard !line.contains(HTTP1Syntax.cr) else { throw .badRequest("bare CR in \(lineName)") }
        switch state {
        case .startLine:
            if line.isEmpty && Head.skipsEmptyLinesBeforeStartLine {
                // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
                // request line (an old client's CRLF after a POST body). They count against the
                // start line's limit, so a stream of them ends.
                sectionBytes += raw.count + 1
            } else {
                try head.parseStartLine(line)
                state = .headerLine
                sectionBytes = 0
                fields = HTTP1Fields(reservingCount: 16, bytes: 512)
                framing = HTTP1FramingFields()
            }
        case .headerLine:
            sectionBytes += raw.count + 1
            if line.isEmpty { return try finishHead(onEvent) }
            let (name, value) = try parseFieldLine(line, inTrailers: false)
            try framing.note(name: name, value: value)
            try head.noteField(name: name, value: value)
        case .chunkLine:
            try parseChunkLine(line)
        case .trailerLine:
            sectionBytes += raw.count + 1
            if line.isEmpty { return finishTrailers(onEvent) }
            _ = try parseFieldLine(line, inTrailers: true)
        default:
            preconditionFailure("no line is read in state \(state)")
        }
        return .inMessage
    }

    // MARK: Field lines

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), for the header section or
    /// (`inTrailers`) the trailer section: checked, appended to `fields`, and returned (views of
    /// `line`).
    private mutating func parseFieldLine(
        _ line: UnsafeRawBufferPointer,
        inTrailers: Bool
    ) throws(HTTP1ParseError) -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let section = inTrailers ? "trailer" : "header"
        if HTTP1Syntax.isWhitespace(line[0]) {
            // RFC 9112 §2.2 (before the first field) and §5.2 (obs-fold): a recipient MUST reject
            // the message or discard/replace the line; we reject.
            if fields.isEmpty { throw .badRequest("whitespace before the first \(section) field") }
            throw .badRequest("obs-fold: \(section) line starts with whitespace")
        }
        guard let colon = line.firstIndex(of: HTTP1Syntax.colon) else {
            throw .badRequest("\(section) line without a colon: \(HTTP1Syntax.quoted(line))")
        }
        let name = HTTP1Syntax.slice(line, 0..<colon)
        guard let lastNameByte = name.last else { throw .badRequest("empty \(section) field name") }
        // RFC 9112 §5.1: whitespace between the field name and the colon MUST be rejected.
        if HTTP1Syntax.isWhitespace(lastNameByte) {
            throw .badRequest("whitespace between \(section) field name and colon")
        }
        for byte in name where !HTTP1Syntax.isTokenByte(byte) {
            throw .badRequest("invalid character \(HTTP1Syntax.byteName(byte)) in \(section) field name \(HTTP1Syntax.quoted(name))")
        }
        // RFC 9110 §5.5: CR, LF and NUL MUST be rejected (or replaced); other controls and DEL
        // may be kept, and are refused here too.
        let value = HTTP1Syntax.trimmingWhitespace(HTTP1Syntax.slice(line, (colon + 1)..<line.count))
        for byte in value where !HTTP1Syntax.isFieldValueByte(byte) {
            throw .badRequest("control character \(HTTP1Syntax.byteName(byte)) in \(section) field \(HTTP1Syntax.quoted(name))")
        }
        guard fields.count < limits.maxHeaderCount else {
            throw HTTP1ParseError(status: 431, message: "more than \(limits.maxHeaderCount) \(section) fields")
        }
        fields.append(name: name, value: value)
        return (name, value)
    }

    // MARK: The head and the end

    /// The head is complete: `Head` judges it and says what comes next (RFC 9112 §6.3).
    private mutating func finishHead(_ onEvent: (Head.Event) -> Void) throws(HTTP1ParseError) -> Progress {
        let decision = try head.finishHead(headers: fields, framing: framing)
        fields = HTTP1Fields()  // the event holds the only reference now
        framing = HTTP1FramingFields()
        switch decision {
        case .interim(let event):
            state = .startLine
            sectionBytes = 0
            onEvent(event)
            return .inMessage
        case .message(let event, let body, let keepAlive, let stopAfter):
            self.keepAlive = keepAlive
            stopAfterMessage = stopAfter
            onEvent(event)
            switch body {
            case .none, .contentLength(0):
                return endMessage(onEvent)
            case .contentLength(let length):
                remaining = length
                state = .body
            case .chunked:
                state = .chunkLine
            case .untilClose:
                state = .untilClose
            }
            return .inMessage
        }
    }

    /// Reports `.end` and makes ready for the next message, or for none.
    mutating func endMessage(_ onEvent: (Head.Event) -> Void) -> Progress {
        onEvent(.end)
        let mustStop = !keepAlive || stopAfterMessage
        state = keepAlive ? .startLine : .closed
        remaining = 0
        sectionBytes = 0
        fields = HTTP1Fields()
        framing = HTTP1FramingFields()
        stopAfterMessage = false
        head.messageEnded()
        return mustStop ? .endedMustStop : .ended
    }
}

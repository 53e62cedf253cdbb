/// A strict, incremental HTTP/1.1 request parser (RFC 9112) for the server side of one
/// connection: bytes in, `HTTP1Event`s out, no sockets.
///
/// **Incremental.** `feed` takes bytes as they were read, cut anywhere (one byte at a time
/// works); the events are the same however the input is cut, except that a body arrives in as
/// many pieces as the input does.
///
/// **Zero-copy bodies.** `.body` events are views of the buffer passed to `feed`, valid only
/// during the callback. The head (request line and header fields) and the trailers are copied
/// into the `HTTP1Fields` handed over with `.head` and `.trailers`; a line cut by the end of a
/// buffer is kept until its end arrives. All of that is bounded by `limits`: a parser holds at
/// most one partial line and the fields of one head (or trailer section), each within its limit.
///
/// **Pipelining** (RFC 9112 §9.3.2). Several requests in one buffer are parsed one after another.
/// `feed(_:stopAfterEnd:_:)` returns how many bytes it consumed: with `stopAfterEnd` it returns
/// right after a request's `.end`, and the caller feeds the rest when it is ready for the next
/// request (responses must go out in order). It always stops after the `.end` of a request that
/// offered an upgrade (the bytes after it may not be HTTP/1.1) and of one that does not keep the
/// connection alive; after the latter the parser takes nothing more (RFC 9112 §9.6: it must not
/// process further requests) and discards whatever is fed to it.
///
/// **Strict.** Anything ambiguous about framing is refused, never guessed (request smuggling,
/// RFC 9112 §11.2): both `Content-Length` and `Transfer-Encoding`, differing `Content-Length`s,
/// a `Transfer-Encoding` other than a final `chunked`, bad chunk lines, bare CR or LF, obs-fold,
/// whitespace before a colon, control characters. The rules and their messages are in
/// `HTTP1RequestParser+Head.swift` and `HTTP1RequestParser+Chunked.swift`.
///
/// **Errors are final.** The first violation throws an `HTTP1ParseError` after the events of the
/// bytes before it; every later `feed` throws the same error. The caller answers with its status
/// and `Connection: close` (`HTTP1ResponseWriter.writeError`), and closes.
///
/// A value owned by one connection on its loop thread. `onEvent` must not touch the parser.
public struct HTTP1RequestParser: Sendable {
    public let limits: HTTP1Limits

    /// Where the parser is in the request (RFC 9112 §2.1 message, §7.1 chunked-body).
    enum State: Sendable {
        /// Before a request line; empty lines are skipped here (RFC 9112 §2.2).
        case requestLine
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
        /// A request that ends the connection has ended (RFC 9112 §9.6); input is discarded.
        case closed
    }

    /// What processing a line or a piece of body led to.
    enum Progress {
        case inRequest
        /// The request's `.end` was reported.
        case ended
        /// The request's `.end` was reported and `feed` must return now (connection closing,
        /// or an upgrade offered).
        case endedMustStop
    }

    var state = State.requestLine
    /// Body or chunk-data bytes still to come.
    var remaining = 0
    /// The start of the current line, when an earlier buffer ended inside it.
    var lineBuffer: [UInt8] = []
    /// Bytes of the current section so far: empty lines before a request line, the header
    /// section, or the trailer section (each against its limit).
    var sectionBytes = 0

    // The request being parsed.
    var method = ""
    var target = ""
    var version = HTTP1Version.http11
    /// The header fields, then (after `.head`) the trailer fields.
    var fields = HTTP1Fields()
    var facts = HeadFacts()
    var keepAlive = true
    var upgradeOffered = false

    var failure: HTTP1ParseError?

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// True between requests, before any byte of the next one: closing the connection here
    /// loses nothing.
    public var isIdle: Bool {
        failure == nil && state == .requestLine && sectionBytes == 0 && lineBuffer.isEmpty
    }

    /// True from the first byte of a request until its `.head`: the time a header timeout
    /// (slowloris) should bound.
    public var isReadingHead: Bool {
        failure == nil && (state == .headerLine || (state == .requestLine && !isIdle))
    }

    /// True once a request that does not keep the connection alive has ended: nothing more will
    /// be parsed on this connection.
    public var isClosed: Bool {
        state == .closed
    }

    /// The error the parser failed with, if it has.
    public var error: HTTP1ParseError? {
        failure
    }

    /// Parses `bytes`, reporting events in order through `onEvent`, and returns how many bytes
    /// it consumed: all of them, unless it stopped after a request's `.end` (see the type's
    /// doc: `stopAfterEnd`, an upgrade offered); then the caller feeds `bytes[consumed...]` later.
    /// Bytes consumed are never needed again: a cut line is copied before `feed` returns.
    ///
    /// `.body` events point into `bytes` and are valid only during the callback.
    ///
    /// - Throws: the first violation, after the events of the bytes before it. The parser stays
    ///   failed; every later call throws the same error.
    @discardableResult
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        if let failure { throw failure }
        do {
            return try parse(bytes, stopAfterEnd: stopAfterEnd, onEvent)
        } catch {
            failure = error
            lineBuffer = []
            fields = HTTP1Fields()
            facts = HeadFacts()
            throw error
        }
    }

    /// Parses `bytes`; see `feed(_:stopAfterEnd:_:)` on a buffer. `.body` views are valid only
    /// during the callback.
    @discardableResult
    public mutating func feed(
        _ bytes: [UInt8],
        stopAfterEnd: Bool = false,
        _ onEvent: (HTTP1Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTP1ParseError) -> Int in try feed(buffer, stopAfterEnd: stopAfterEnd, onEvent) }
        }.get()
    }

    private mutating func parse(
        _ bytes: UnsafeRawBufferPointer,
        stopAfterEnd: Bool,
        _ onEvent: (HTTP1Event) -> Void
    ) throws(HTTP1ParseError) -> Int {
        let count = bytes.count
        var index = 0
        while index < count {
            var progress = Progress.inRequest
            switch state {
            case .closed:
                return count

            case .requestLine, .headerLine, .chunkLine, .trailerLine:
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
                if remaining == 0 { progress = endRequest(onEvent) }

            case .chunkData:
                let take = min(remaining, count - index)
                onEvent(.body(HTTP1Syntax.slice(bytes, index..<(index + take))))
                index += take
                remaining -= take
                if remaining == 0 { state = .chunkDataCR }

            case .chunkDataCR, .chunkDataLF:
                try chunkDataEnd(bytes[index])
                index += 1
            }
            switch progress {
            case .inRequest: break
            case .ended: if stopAfterEnd { return index }
            case .endedMustStop: return index
            }
        }
        return count
    }

    /// How many more bytes the current line may have, its CRLF included.
    private var lineBudget: Int {
        switch state {
        case .requestLine: min(limits.maxRequestLine, Int.max - 2) + 2 - sectionBytes
        case .headerLine: limits.maxHeaderBytes - sectionBytes
        case .chunkLine: min(limits.maxChunkLine, Int.max - 2) + 2
        case .trailerLine: limits.maxTrailerBytes - sectionBytes
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    private var lineTooLong: HTTP1ParseError {
        switch state {
        case .requestLine: HTTP1ParseError(status: 414, message: "request line longer than \(limits.maxRequestLine) bytes")
        case .headerLine: HTTP1ParseError(status: 431, message: "header section larger than \(limits.maxHeaderBytes) bytes")
        case .chunkLine: .badRequest("chunk line longer than \(limits.maxChunkLine) bytes")
        case .trailerLine: HTTP1ParseError(status: 431, message: "trailer section larger than \(limits.maxTrailerBytes) bytes")
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    private var lineName: String {
        switch state {
        case .requestLine: "request line"
        case .headerLine: "header section"
        case .chunkLine: "chunk line"
        case .trailerLine: "trailer section"
        default: preconditionFailure("no line is read in state \(state)")
        }
    }

    /// Processes the line gathered in `lineBuffer` and empties the buffer, keeping its capacity.
    private mutating func processBufferedLine(_ onEvent: (HTTP1Event) -> Void) throws(HTTP1ParseError) -> Progress {
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
    private mutating func processLine(_ raw: UnsafeRawBufferPointer, _ onEvent: (HTTP1Event) -> Void) throws(HTTP1ParseError) -> Progress {
        guard raw.last == HTTP1Syntax.cr else { throw .badRequest("bare LF in \(lineName)") }
        let line = HTTP1Syntax.slice(raw, 0..<(raw.count - 1))
        guard !line.contains(HTTP1Syntax.cr) else { throw .badRequest("bare CR in \(lineName)") }
        switch state {
        case .requestLine:
            if line.isEmpty {
                // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
                // request line (an old client's CRLF after a POST body). They count against
                // `maxRequestLine`, so a stream of them ends.
                sectionBytes += raw.count + 1
            } else {
                try parseRequestLine(line)
            }
        case .headerLine:
            sectionBytes += raw.count + 1
            if line.isEmpty { return try finishHead(onEvent) }
            try parseFieldLine(line, inTrailers: false)
        case .chunkLine:
            try parseChunkLine(line)
        case .trailerLine:
            sectionBytes += raw.count + 1
            if line.isEmpty { return finishTrailers(onEvent) }
            try parseFieldLine(line, inTrailers: true)
        default:
            preconditionFailure("no line is read in state \(state)")
        }
        return .inRequest
    }

    /// Reports `.end` and makes ready for the next request, or for none.
    mutating func endRequest(_ onEvent: (HTTP1Event) -> Void) -> Progress {
        onEvent(.end)
        let mustStop = !keepAlive || upgradeOffered
        state = keepAlive ? .requestLine : .closed
        remaining = 0
        sectionBytes = 0
        fields = HTTP1Fields()
        facts = HeadFacts()
        upgradeOffered = false
        return mustStop ? .endedMustStop : .ended
    }
}

import Channel

/// What an `HTTP1ResponseParser` reports, in order, for each response.
protocol HTTP1ResponseHandler: AnyObject {
    func responseStatus(_ status: Int)
    /// A header field (`trailer` false) or a chunked trailer field (true); valid during the call.
    func responseField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, trailer: Bool)
    /// Body bytes (chunked coding removed); valid during the call.
    func responseBody(_ bytes: UnsafeRawBufferPointer)
    /// The response is complete. `close`: the server will close the connection (`Connection:
    /// close`, HTTP/1.0, or a body delimited by the close).
    func responseEnd(close: Bool)
}

/// An incremental HTTP/1.1 response parser for the load generator's client side (RFC 9112 §4,
/// §6, §7.1): status line, header fields, a body framed by Content-Length, chunked coding (with
/// trailers) or the connection's close. Interim 1xx responses are skipped. Bytes may arrive in
/// any split. Not a general-purpose parser: it trusts the server's syntax where getting it wrong
/// can only miscount a response, and it fails on framing it cannot follow.
///
/// The head is collected in a buffer that is reused (one copy of ~100–300 bytes per response);
/// body bytes are passed through in place.
struct HTTP1ResponseParser {
    enum State {
        case head, body, chunkSize, chunkData, chunkDataEnd, trailers, untilClose, done
    }

    static let maxHeadBytes = 64 * 1024

    private(set) var state = State.head
    private var buffer: [UInt8] = []
    private var remaining = 0
    private var chunkSize = 0
    private var chunkSizeDigits = 0
    private var inChunkExtension = false
    private var close = false
    private var status = 0
    private(set) var error: String?

    init() { buffer.reserveCapacity(1024) }

    /// Ready for the next response (after `responseEnd`).
    mutating func reset() {
        state = .head
        buffer.removeAll(keepingCapacity: true)
        remaining = 0
        close = false
        status = 0
    }

    /// The body runs until the connection closes: the close ends the response.
    var endsAtClose: Bool { state == .untilClose }

    /// The connection closed: ends a close-delimited body.
    mutating func connectionClosed(_ handler: some HTTP1ResponseHandler) {
        if state == .untilClose {
            state = .done
            handler.responseEnd(close: true)
        }
    }

    /// Consumes bytes of the current response; returns how many were used. Fewer than given
    /// means the response ended (state `.done`) or an error (`error` set).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handler: some HTTP1ResponseHandler) -> Int {
        var i = 0
        let n = bytes.count
        while i < n && error == nil {
            switch state {
            case .done:
                return i
            case .head, .trailers:
                // Collect until the empty line; search only the new bytes (and 3 before them).
                let searchFrom = max(0, buffer.count - 3)
                let take = min(n - i, HTTP1ResponseParser.maxHeadBytes + 4 - buffer.count)
                guard take > 0 else { error = "response head larger than \(HTTP1ResponseParser.maxHeadBytes) bytes"; return i }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i ..< i + take]))
                if state == .trailers && buffer.count >= 2 && buffer[0] == 0x0D && buffer[1] == 0x0A {
                    // No trailers: the last chunk's CRLF ends the body.
                    i += 2 - (buffer.count - take)
                    buffer.removeAll(keepingCapacity: true)
                    finish(handler)
                    continue
                }
                guard let end = findBlankLine(from: searchFrom) else {
                    i += take
                    continue
                }
                // Bytes after the blank line belong to the body: give them back.
                let used = take - (buffer.count - end)
                i += used
                buffer.removeSubrange(end...)
                if state == .head { parseHead(handler) } else { parseTrailers(handler) }
            case .body:
                let take = min(remaining, n - i)
                handler.responseBody(UnsafeRawBufferPointer(rebasing: bytes[i ..< i + take]))
                i += take
                remaining -= take
                if remaining == 0 { finish(handler) }
            case .untilClose:
                handler.responseBody(UnsafeRawBufferPointer(rebasing: bytes[i...]))
                i = n
            case .chunkSize:
                let b = bytes[i]
                i += 1
                if b == 0x0A {
                    guard chunkSizeDigits > 0 else { error = "chunk without a size"; return i }
                    if chunkSize == 0 {
                        state = .trailers
                        buffer.removeAll(keepingCapacity: true)
                    } else {
                        remaining = chunkSize
                        state = .chunkData
                    }
                    chunkSize = 0
                    chunkSizeDigits = 0
                    inChunkExtension = false
                } else if inChunkExtension || b == 0x0D {
                    continue
                } else if b == UInt8(ascii: ";") || b == 0x20 || b == 0x09 {
                    inChunkExtension = true
                } else if let d = hexValue(b), chunkSizeDigits < 15 {
                    chunkSize = chunkSize << 4 | d
                    chunkSizeDigits += 1
                } else {
                    error = "invalid chunk size"
                    return i
                }
            case .chunkData:
                let take = min(remaining, n - i)
                handler.responseBody(UnsafeRawBufferPointer(rebasing: bytes[i ..< i + take]))
                i += take
                remaining -= take
                if remaining == 0 { state = .chunkDataEnd; remaining = 2 }
            case .chunkDataEnd:
                let b = bytes[i]
                i += 1
                if b == 0x0A { state = .chunkSize } else if b != 0x0D { error = "missing CRLF after chunk data"; return i }
            }
        }
        return i
    }

    private func findBlankLine(from start: Int) -> Int? {
        guard buffer.count >= 4 else { return nil }
        var j = start
        while j + 3 < buffer.count {
            if buffer[j] == 0x0D && buffer[j + 1] == 0x0A && buffer[j + 2] == 0x0D && buffer[j + 3] == 0x0A { return j + 4 }
            j += 1
        }
        return nil
    }

    private mutating func finish(_ handler: some HTTP1ResponseHandler) {
        state = .done
        handler.responseEnd(close: close)
    }

    private mutating func parseHead(_ handler: some HTTP1ResponseHandler) {
        var contentLength: Int?
        var chunked = false
        var http10 = false
        var parsedStatus = 0
        var closeRequested = false
        var failure: String?
        buffer.withUnsafeBytes { head in
            var lineStart = 0
            var first = true
            var j = 0
            while j + 1 < head.count {
                guard head[j] == 0x0D && head[j + 1] == 0x0A else { j += 1; continue }
                let line = UnsafeRawBufferPointer(rebasing: head[lineStart ..< j])
                j += 2
                lineStart = j
                if line.isEmpty { break }
                if first {
                    first = false
                    // HTTP/1.x SP 3DIGIT SP reason
                    guard line.count >= 12, line.starts(with: "HTTP/1.".utf8), line[8] == 0x20,
                          let code = ASCII.decimalValue(UnsafeRawBufferPointer(rebasing: line[9 ..< 12])) else {
                        failure = "malformed status line"
                        return
                    }
                    http10 = line[7] == UInt8(ascii: "0")
                    parsedStatus = code
                    continue
                }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { failure = "malformed header field"; return }
                let name = UnsafeRawBufferPointer(rebasing: line[0 ..< colon])
                let value = trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
                if ASCII.equalsIgnoringCase(name, "content-length") {
                    guard let v = ASCII.decimalValue(value) else { failure = "invalid Content-Length"; return }
                    contentLength = v
                } else if ASCII.equalsIgnoringCase(name, "transfer-encoding") {
                    chunked = ASCII.equalsIgnoringCase(value, "chunked")
                } else if ASCII.equalsIgnoringCase(name, "connection") {
                    if ASCII.equalsIgnoringCase(value, "close") { closeRequested = true }
                }
                handler.responseField(name: name, value: value, trailer: false)
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure { error = failure; return }
        if closeRequested { close = true }
        if parsedStatus < 200 {
            // 1xx: an interim response; the final one follows.
            state = .head
            return
        }
        status = parsedStatus
        if http10 { close = true }
        handler.responseStatus(parsedStatus)
        if parsedStatus == 204 || parsedStatus == 304 {
            finish(handler)
        } else if chunked {
            state = .chunkSize
        } else if let contentLength {
            if contentLength == 0 { finish(handler) } else { remaining = contentLength; state = .body }
        } else {
            close = true
            state = .untilClose
        }
    }

    private mutating func parseTrailers(_ handler: some HTTP1ResponseHandler) {
        buffer.withUnsafeBytes { block in
            var lineStart = 0
            var j = 0
            while j + 1 < block.count {
                guard block[j] == 0x0D && block[j + 1] == 0x0A else { j += 1; continue }
                let line = UnsafeRawBufferPointer(rebasing: block[lineStart ..< j])
                j += 2
                lineStart = j
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                handler.responseField(name: UnsafeRawBufferPointer(rebasing: line[0 ..< colon]),
                                      value: trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])), trailer: true)
            }
        }
        buffer.removeAll(keepingCapacity: true)
        finish(handler)
    }

    private func trim(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var s = 0, e = v.count
        while s < e && (v[s] == 0x20 || v[s] == 0x09) { s += 1 }
        while e > s && (v[e - 1] == 0x20 || v[e - 1] == 0x09) { e -= 1 }
        return UnsafeRawBufferPointer(rebasing: v[s ..< e])
    }

    private func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30 ... 0x39: Int(b - 0x30)
        case 0x41 ... 0x46: Int(b - 0x41 + 10)
        case 0x61 ... 0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }
}

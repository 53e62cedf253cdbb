/// Finds the top-level values in a stream of JSON values — newline-delimited (NDJSON) or just
/// concatenated, with whitespace between — as the bytes arrive, without copying them: the body of
/// a client-streaming JSON call. It reports where each complete value lies; the caller keeps the
/// bytes and hands each value to the codec.
///
/// It scans each byte once and keeps its state between calls (inside a string? how deep? which
/// brackets?), so feeding a value in any number of pieces costs the same as feeding it whole. It
/// checks only what it needs to split: strings and escapes, brackets that match, nesting up to
/// `maxDepth`, and nothing but whitespace between values; what lies inside a value is the codec's
/// to check. Top-level numbers and literals end at the first byte that cannot continue them (or
/// at `finish()`). A bound on one value's size is the caller's: `valueStart` says where the value
/// being scanned began.
///
/// Positions are stream offsets: byte 0 is the first byte of the body. A caller with an array
/// that it trims from the front passes the stream offset of its first byte; a caller with a ring
/// buffer or a chain of chunks calls `next` once per contiguous region, in order.
///
///     var splitter = JSONValueSplitter()
///     // after appending a read to `buffer`, whose first byte is at stream offset `bufferStart`:
///     while let range = try splitter.next(in: buffer, at: bufferStart) {
///         handle(buffer[(range.lowerBound - bufferStart)..<(range.upperBound - bufferStart)])
///     }
///     // bytes before splitter.valueStart ?? splitter.scannedCount may now be dropped
///     // at the end of the body: if let range = try splitter.finish() { handle(...) }
///
/// A value type with no references; one splitter serves one stream, on one thread at a time.
public struct JSONValueSplitter: Sendable {
    /// Stream offset of the next byte to scan: every byte before it has been scanned.
    public private(set) var scannedCount = 0
    /// Where the value being scanned began, nil between values.
    public private(set) var valueStart: Int?
    /// The deepest nesting of objects and arrays accepted (at most 128).
    public let maxDepth: Int

    private enum State: UInt8 {
        case between, container, string, escape, scalar
    }

    private var state = State.between
    private var depth = 0
    /// One bit per open bracket, innermost at bit `depth - 1`: 1 for `{`, 0 for `[`.
    private var brackets: (UInt64, UInt64) = (0, 0)
    private var failure: TranscodeError?

    public init(maxDepth: Int = JSONTranscoder.maxDepth) {
        precondition(maxDepth >= 1 && maxDepth <= 128, "JSONValueSplitter supports nesting up to 128 levels")
        self.maxDepth = maxDepth
    }

    /// Scans `buffer` — the stream bytes from offset `bufferStart`, which must include offset
    /// `scannedCount` or end at it — from where the last call stopped, up to the end of the next
    /// complete value, and returns that value's range (stream offsets; whitespace around it left
    /// out). Nil when the buffer ends first. After an error every call throws the same error.
    public mutating func next(in buffer: UnsafeRawBufferPointer, at bufferStart: Int) throws(TranscodeError) -> Range<Int>? {
        if let failure { throw failure }
        precondition(bufferStart <= scannedCount && scannedCount <= bufferStart + buffer.count,
                     "JSONValueSplitter: the buffer must include the next byte to scan")
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let end = buffer.count
        var i = scannedCount - bufferStart
        defer { scannedCount = bufferStart + i }
        while i < end {
            switch state {
            case .between:
                let b = base[i]
                switch b {
                case 0x20, 0x0A, 0x0D, 0x09:
                    i += 1
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    valueStart = bufferStart + i
                    state = .container
                    depth = 0
                    try open(b, at: bufferStart + i)
                    i += 1
                case UInt8(ascii: "\""):
                    valueStart = bufferStart + i
                    state = .string
                    depth = 0
                    i += 1
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "t"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"):
                    valueStart = bufferStart + i
                    state = .scalar
                    i += 1
                default:
                    throw fail(at: bufferStart + i, "unexpected \(Self.describe(b)) between JSON values")
                }
            case .container:
                // Skip what cannot change the state.
                while i < end {
                    let b = base[i]
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "{") || b == UInt8(ascii: "[")
                        || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") { break }
                    i += 1
                }
                guard i < end else { break }
                let b = base[i]
                if b == UInt8(ascii: "\"") {
                    state = .string
                    i += 1
                } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    try open(b, at: bufferStart + i)
                    i += 1
                } else {
                    try close(b, at: bufferStart + i)
                    i += 1
                    if depth == 0 { return complete(at: bufferStart + i) }
                }
            case .string:
                while i < end {
                    let b = base[i]
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { break }
                    i += 1
                }
                guard i < end else { break }
                if base[i] == UInt8(ascii: "\\") {
                    state = .escape
                    i += 1
                } else {
                    i += 1
                    if depth == 0 { return complete(at: bufferStart + i) }
                    state = .container
                }
            case .escape:
                state = .string
                i += 1
            case .scalar:
                while i < end && Self.continuesScalar(base[i]) { i += 1 }
                guard i < end else { break }
                return complete(at: bufferStart + i)
            }
        }
        return nil
    }

    // MARK: For a caller that keeps the body in an array and drops taken bytes from the front

    /// Bytes the caller has dropped from the front of its buffer (`consumed(_:)`): the stream
    /// offset of the buffer's first byte, for `nextValue(in:from:)`.
    public private(set) var consumedTotal = 0

    /// The caller dropped `count` bytes from the front of its buffer (values already taken; never
    /// bytes of the value being scanned, nor unscanned ones).
    public mutating func consumed(_ count: Int) {
        precondition(consumedTotal + count <= (valueStart ?? scannedCount), "JSONValueSplitter: dropped bytes not yet taken")
        consumedTotal += count
    }

    /// `next(in:at:)` for a buffer whose first byte is at stream offset `consumedTotal`, with the
    /// range relative to the buffer. `start` is where the last value returned ended (0 at first):
    /// the scan resumes where it stopped, which is never before it.
    public mutating func nextValue(in buffer: UnsafeRawBufferPointer, from start: Int = 0) throws(TranscodeError) -> Range<Int>? {
        precondition(consumedTotal + start <= scannedCount, "JSONValueSplitter: the scan is already past that point")
        guard let range = try next(in: buffer, at: consumedTotal) else { return nil }
        return (range.lowerBound - consumedTotal)..<(range.upperBound - consumedTotal)
    }

    public mutating func nextValue(in buffer: [UInt8], from start: Int = 0) throws(TranscodeError) -> Range<Int>? {
        let result = buffer.withUnsafeBytes { raw -> Result<Range<Int>?, TranscodeError> in
            do throws(TranscodeError) { return .success(try nextValue(in: raw, from: start)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Whether the bytes after the last value taken hold anything but whitespace: a value begun
    /// and not finished, or bytes not scanned yet. (A top-level number or literal still open
    /// counts; `finish()` would complete it.) `buffer` starts at stream offset `consumedTotal`.
    public func hasPartialValue(_ buffer: [UInt8]) -> Bool {
        if state != .between { return true }
        let from = max(0, scannedCount - consumedTotal)
        guard from < buffer.count else { return false }
        return buffer[from...].contains { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
    }

    /// At the end of the stream: the last value if it was a number or literal still open (nil
    /// when the stream ended between values); an error when it ended inside a value.
    public mutating func finish() throws(TranscodeError) -> Range<Int>? {
        if let failure { throw failure }
        switch state {
        case .between: return nil
        case .scalar: return complete(at: scannedCount)
        default: throw fail(at: scannedCount, "the body ends inside a JSON value (started at byte \(valueStart ?? 0))")
        }
    }

    private mutating func complete(at end: Int) -> Range<Int> {
        let start = valueStart!
        valueStart = nil
        state = .between
        depth = 0
        return start..<end
    }

    private mutating func open(_ b: UInt8, at offset: Int) throws(TranscodeError) {
        guard depth < maxDepth else { throw fail(at: offset, "nesting deeper than \(maxDepth) levels") }
        let bit: UInt64 = b == UInt8(ascii: "{") ? 1 : 0
        if depth < 64 {
            brackets.0 = brackets.0 & ~(1 << UInt64(depth)) | bit << UInt64(depth)
        } else {
            brackets.1 = brackets.1 & ~(1 << UInt64(depth - 64)) | bit << UInt64(depth - 64)
        }
        depth += 1
    }

    private mutating func close(_ b: UInt8, at offset: Int) throws(TranscodeError) {
        depth -= 1
        let top = depth < 64 ? brackets.0 >> UInt64(depth) & 1 : brackets.1 >> UInt64(depth - 64) & 1
        let expected: UInt8 = top == 1 ? UInt8(ascii: "}") : UInt8(ascii: "]")
        guard b == expected else { throw fail(at: offset, "'\(Character(Unicode.Scalar(b)))' does not close '\(top == 1 ? "{" : "[")'") }
    }

    private static func continuesScalar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private static func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
    }

    private mutating func fail(at offset: Int, _ text: String) -> TranscodeError {
        let error = TranscodeError(message: "invalid JSON at byte \(offset): \(text)", offset: offset)
        failure = error
        return error
    }
}

import HTTP1

/// The UTF-8 bytes of `text`: messages in tests are written as string literals.
func bytes(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

/// A parser's event with its body copied out, so that events can be kept and compared. `Head`
/// is `HTTP1RequestHead` or `HTTP1ResponseHead`; only responses have `informational` heads.
enum RecordedEvent<Head: Equatable>: Equatable, CustomStringConvertible {
    case informational(Head)
    case head(Head)
    case body([UInt8])
    case trailers(HTTP1Fields)
    case end

    var description: String {
        switch self {
        case .informational(let head): "informational(\(head))"
        case .head(let head): "head(\(head))"
        case .body(let body): "body(\(String(decoding: body, as: UTF8.self).debugDescription))"
        case .trailers(let fields): "trailers(\(fields))"
        case .end: "end"
        }
    }
}

typealias Recorded = RecordedEvent<HTTP1RequestHead>
typealias RecordedResponse = RecordedEvent<HTTP1ResponseHead>

/// What parsing an input gave: the events, consecutive body pieces joined, and the error if one
/// ended it.
struct ParseOutcome<Head: Equatable>: Equatable, CustomStringConvertible {
    var events: [RecordedEvent<Head>] = []
    var error: HTTP1ParseError?

    var description: String {
        "\(events)" + (error.map { " error: \($0)" } ?? "")
    }

    /// Keeps one event; a body piece is joined to the one before it.
    mutating func append(_ event: RecordedEvent<Head>) {
        if case .body(let piece) = event {
            precondition(!piece.isEmpty, "the parser reported an empty body piece")
            if case .body(let earlier)? = events.last {
                events[events.count - 1] = .body(earlier + piece)
                return
            }
        }
        events.append(event)
    }

    /// The final heads among the events.
    var heads: [Head] {
        events.compactMap { if case .head(let head) = $0 { head } else { nil } }
    }
}

typealias Outcome = ParseOutcome<HTTP1RequestHead>
typealias ResponseOutcome = ParseOutcome<HTTP1ResponseHead>

extension ParseOutcome where Head == HTTP1RequestHead {
    mutating func record(_ event: HTTP1Event) {
        switch event {
        case .head(let head): append(.head(head))
        case .body(let piece): append(.body(Array(piece)))
        case .trailers(let fields): append(.trailers(fields))
        case .end: append(.end)
        }
    }
}

extension ParseOutcome where Head == HTTP1ResponseHead {
    mutating func record(_ event: HTTP1ResponseEvent) {
        switch event {
        case .informational(let head): append(.informational(head))
        case .head(let head): append(.head(head))
        case .body(let piece): append(.body(Array(piece)))
        case .trailers(let fields): append(.trailers(fields))
        case .end: append(.end)
        }
    }
}

/// Feeds `input` cut into pieces of `sizes` (cycled; empty means whole) to `feed`, feeding again
/// whatever a call did not consume; returns the error that stopped it, if one did.
func feedInPieces(
    _ input: [UInt8],
    sizes: [Int],
    _ feed: ([UInt8]) throws(HTTP1ParseError) -> Int
) -> HTTP1ParseError? {
    var start = 0
    var sizeIndex = 0
    while start < input.count {
        let size = sizes.isEmpty ? input.count : sizes[sizeIndex % sizes.count]
        sizeIndex += 1
        var piece = Array(input[start..<min(start + size, input.count)])
        start += piece.count
        while !piece.isEmpty {
            do {
                let consumed = try feed(piece)
                precondition(consumed > 0, "feed consumed nothing of a non-empty buffer")
                piece.removeFirst(consumed)
            } catch {
                return error
            }
        }
    }
    return nil
}

/// Feeds `input` to a new request parser cut into pieces of `sizes` and returns what came out.
func parse(_ input: [UInt8], pieces sizes: [Int] = [], limits: HTTP1Limits = HTTP1Limits()) -> Outcome {
    var parser = HTTP1RequestParser(limits: limits)
    var outcome = Outcome()
    outcome.error = feedInPieces(input, sizes: sizes) { (piece) throws(HTTP1ParseError) in
        try parser.feed(piece) { outcome.record($0) }
    }
    return outcome
}

/// Feeds `input` to a new response parser cut into pieces of `sizes`, then, with `closed`, tells
/// it the connection closed; returns what came out. `toHEAD`: every response answers a HEAD.
func parseResponse(
    _ input: [UInt8],
    pieces sizes: [Int] = [],
    closed: Bool = false,
    toHEAD: Bool = false,
    limits: HTTP1Limits = HTTP1Limits()
) -> ResponseOutcome {
    var parser = HTTP1ResponseParser(limits: limits)
    var outcome = ResponseOutcome()
    parser.nextResponseIsToHEAD = toHEAD
    outcome.error = feedInPieces(input, sizes: sizes) { (piece) throws(HTTP1ParseError) in
        let consumed = try parser.feed(piece, stopAfterEnd: true) { outcome.record($0) }
        parser.nextResponseIsToHEAD = toHEAD
        return consumed
    }
    if outcome.error == nil, closed {
        do {
            try parser.connectionClosed { outcome.record($0) }
        } catch {
            outcome.error = error
        }
    }
    return outcome
}

/// A small deterministic generator (SplitMix64), so that random splits are the same every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

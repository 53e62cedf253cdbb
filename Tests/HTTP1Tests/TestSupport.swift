import HTTP1

/// The UTF-8 bytes of `text`: requests in tests are written as string literals.
func bytes(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

/// An `HTTP1Event` with its body copied out, so that events can be kept and compared.
enum Recorded: Equatable, CustomStringConvertible {
    case head(HTTP1RequestHead)
    case body([UInt8])
    case trailers(HTTP1Fields)
    case end

    var description: String {
        switch self {
        case .head(let head): "head(\(head.method) \(head.target) \(head.version) \(head.headers) \(head.body))"
        case .body(let body): "body(\(String(decoding: body, as: UTF8.self).debugDescription))"
        case .trailers(let fields): "trailers(\(fields))"
        case .end: "end"
        }
    }
}

/// What parsing an input gave: the events, consecutive body pieces joined, and the error if one
/// ended it.
struct Outcome: Equatable, CustomStringConvertible {
    var events: [Recorded] = []
    var error: HTTP1ParseError?

    var description: String {
        "\(events)" + (error.map { " error: \($0)" } ?? "")
    }

    mutating func record(_ event: HTTP1Event) {
        switch event {
        case .head(let head): events.append(.head(head))
        case .body(let piece):
            precondition(!piece.isEmpty, "the parser reported an empty body piece")
            if case .body(let earlier)? = events.last {
                events[events.count - 1] = .body(earlier + Array(piece))
            } else {
                events.append(.body(Array(piece)))
            }
        case .trailers(let fields): events.append(.trailers(fields))
        case .end: events.append(.end)
        }
    }

    /// The heads among the events.
    var heads: [HTTP1RequestHead] {
        events.compactMap { if case .head(let head) = $0 { head } else { nil } }
    }
}

/// Feeds `input` to a new parser cut into pieces of `sizes` (cycled; empty means whole), feeding
/// again whatever a call did not consume, and returns what came out.
func parse(_ input: [UInt8], pieces sizes: [Int] = [], limits: HTTP1Limits = HTTP1Limits()) -> Outcome {
    var parser = HTTP1RequestParser(limits: limits)
    var outcome = Outcome()
    var start = 0
    var sizeIndex = 0
    while start < input.count {
        let size = sizes.isEmpty ? input.count : sizes[sizeIndex % sizes.count]
        sizeIndex += 1
        var piece = Array(input[start..<min(start + size, input.count)])
        start += piece.count
        while !piece.isEmpty {
            do {
                let consumed = try parser.feed(piece) { outcome.record($0) }
                precondition(consumed > 0, "feed consumed nothing of a non-empty buffer")
                piece.removeFirst(consumed)
            } catch {
                outcome.error = error
                return outcome
            }
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

import Channel
import Testing

/// One event into the machine, as a table can spell it.
private enum Event: Sendable, CustomStringConvertible {
    case clientHead(CallStateMachine.ResponseCardinality)
    case clientMessage
    case clientEnd
    case clientReset
    case upstreamHead
    case upstreamMessage
    /// Trailers after a response head.
    case trailers(GRPCStatusCode?, String = "", insideMessage: Bool = false)
    /// A trailers-only response.
    case trailersOnly(GRPCStatusCode?, String = "")
    case upstreamReset(UInt32, canRetry: Bool = false)
    case upstreamFailed(GRPCStatusCode, String)
    case deadline(String)
    case fail(GRPCStatusCode, String)

    var description: String {
        switch self {
        case .clientHead(let c): "clientHead(\(c))"
        case .clientMessage: "clientMessage"
        case .clientEnd: "clientEnd"
        case .clientReset: "clientReset"
        case .upstreamHead: "upstreamHead"
        case .upstreamMessage: "upstreamMessage"
        case .trailers(let s, _, let inside): "trailers(\(s.map(\.name) ?? "nil")\(inside ? ", inside" : ""))"
        case .trailersOnly(let s, _): "trailersOnly(\(s.map(\.name) ?? "nil"))"
        case .upstreamReset(let code, let retry): "upstreamReset(\(code)\(retry ? ", canRetry" : ""))"
        case .upstreamFailed(let s, _): "upstreamFailed(\(s.name))"
        case .deadline: "deadline"
        case .fail(let s, _): "fail(\(s.name))"
        }
    }

    func apply(to m: inout CallStateMachine) -> CallStateMachine.Action {
        switch self {
        case .clientHead(let c): m.clientHead(cardinality: c)
        case .clientMessage: m.clientMessage()
        case .clientEnd: m.clientEnd()
        case .clientReset: m.clientReset()
        case .upstreamHead: m.upstreamHead()
        case .upstreamMessage: m.upstreamMessage()
        case .trailers(let s, let text, let inside):
            m.upstreamEnd(status: s, message: text, insideMessage: inside, trailersOnly: false)
        case .trailersOnly(let s, let text):
            m.upstreamEnd(status: s, message: text, insideMessage: false, trailersOnly: true)
        case .upstreamReset(let code, let retry): m.upstreamReset(errorCode: code, canRetry: retry)
        case .upstreamFailed(let s, let text): m.upstreamFailed(s, text)
        case .deadline(let text): m.deadlineExpired(text)
        case .fail(let s, let text): m.fail(s, text)
        }
    }
}

/// The machine's `Ending`, rebuilt here: its memberwise initialiser is internal to Channel.
private struct End: Equatable, Sendable, CustomStringConvertible {
    var code: GRPCStatusCode
    var message: String
    var source: CallStateMachine.StatusSource
    var resetUpstream: Bool

    init(_ code: GRPCStatusCode, _ message: String, _ source: CallStateMachine.StatusSource, reset: Bool) {
        self.code = code
        self.message = message
        self.source = source
        self.resetUpstream = reset
    }

    init(_ e: CallStateMachine.Ending) {
        self.init(e.code, e.message, e.source, reset: e.resetUpstream)
    }

    var description: String { "\(code.name) \"\(message)\" \(source)\(resetUpstream ? " reset" : "")" }
}

/// The machine's `Action`, comparable with an `End`.
private enum Act: Equatable, Sendable, CustomStringConvertible {
    case none, openUpstream, forward, retry
    case finish(End)
    case invalid(String)

    init(_ a: CallStateMachine.Action) {
        switch a {
        case .none: self = .none
        case .openUpstream: self = .openUpstream
        case .forward: self = .forward
        case .retry: self = .retry
        case .finish(let e): self = .finish(End(e))
        case .invalid(let text): self = .invalid(text)
        }
    }

    var description: String {
        switch self {
        case .none: "none"
        case .openUpstream: "openUpstream"
        case .forward: "forward"
        case .retry: "retry"
        case .finish(let e): "finish(\(e))"
        case .invalid(let text): "invalid(\(text))"
        }
    }
}

/// One row: events in, the action each returns, and where the machine ends up.
private struct Flow: Sendable, CustomTestStringConvertible {
    var name: String
    var maxRetries = 1
    var steps: [(Event, Act)]
    var state: CallStateMachine.State
    /// The recorded ending; nil: none.
    var ending: End?
    var responseMessages: Int?
    var attempts: Int?
    var responseStarted: Bool?

    var testDescription: String { name }
}

// Messages the machine writes itself, spelled once.
private let moreThanOne = "upstream answered a single-response method with more than one message"
private let noMessage = "upstream answered a single-response method with no message"
private let noStatus = "upstream ended the response without a valid grpc-status"
private let truncated = "upstream ended the response inside a message (a truncated gRPC frame)"
private let noTrailers = "upstream closed the stream without trailers"
private let cancelled = "the client cancelled the call"

private func ok(_ source: CallStateMachine.StatusSource = .upstream) -> Act {
    .finish(End(.ok, "", source, reset: false))
}

private func resetText(_ code: UInt32) -> String { "upstream reset the stream (HTTP/2 error code \(code))" }

private func run(_ flow: Flow) -> CallStateMachine {
    var m = CallStateMachine()
    m.maxRetries = flow.maxRetries
    for (index, (event, expected)) in flow.steps.enumerated() {
        let got = Act(event.apply(to: &m))
        #expect(got == expected, "step \(index) \(event)")
    }
    #expect(m.state == flow.state)
    #expect(m.ending.map(End.init) == flow.ending)
    #expect(m.isFinished == (flow.ending != nil))
    if let n = flow.responseMessages { #expect(m.responseMessages == n) }
    if let n = flow.attempts { #expect(m.attempts == n) }
    if let started = flow.responseStarted { #expect(m.responseStarted == started) }
    return m
}

@Suite struct CallStateMachineTests {
    // MARK: the four call types and trailers-only

    fileprivate static let normalFlows: [Flow] = [
        Flow(name: "unary", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false),
             responseMessages: 1, attempts: 1, responseStarted: true),
        Flow(name: "unary, response head before the request ends", steps: [
            (.clientHead(.one), .openUpstream),
            (.upstreamHead, .forward),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 1),
        Flow(name: "server streaming", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 3),
        Flow(name: "server streaming, no message", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 0),
        Flow(name: "client streaming", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientMessage, .forward),
            (.clientMessage, .forward),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 1),
        Flow(name: "bidi, interleaved", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamHead, .forward),
            (.clientMessage, .forward),
            (.upstreamMessage, .forward),
            (.clientMessage, .forward),
            (.upstreamMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 3),
        Flow(name: "bidi, the server ends first: later request messages are dropped", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
            (.clientMessage, .none),
            (.clientMessage, .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 1),
        Flow(name: "unknown cardinality: any number of messages, none included", steps: [
            (.clientHead(.unknown), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 0),
        Flow(name: "unknown cardinality: two messages", steps: [
            (.clientHead(.unknown), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 2),
        Flow(name: "upstream's non-OK status relayed with its message", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.notFound, "no such user"), .finish(End(.notFound, "no such user", .upstream, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.notFound, "no such user", .upstream, reset: false)),
        // Trailers-only.
        Flow(name: "trailers-only after the request", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.trailersOnly(.unimplemented, "unknown method Get"),
             .finish(End(.unimplemented, "unknown method Get", .upstream, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unimplemented, "unknown method Get", .upstream, reset: false),
             responseMessages: 0, responseStarted: false),
        Flow(name: "trailers-only before the request ends: the rest of the request is dropped", steps: [
            (.clientHead(.many), .openUpstream),
            (.trailersOnly(.permissionDenied, "no"), .finish(End(.permissionDenied, "no", .upstream, reset: false))),
            (.clientMessage, .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.permissionDenied, "no", .upstream, reset: false)),
        Flow(name: "trailers-only OK, streaming method", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.trailersOnly(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false)),
        Flow(name: "trailers-only OK, single-response method: INTERNAL", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.trailersOnly(.ok), .finish(End(.internalError, noMessage, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noMessage, .gateway, reset: false)),
        Flow(name: "trailers-only without a status: INTERNAL", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.trailersOnly(nil), .finish(End(.internalError, noStatus, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noStatus, .gateway, reset: false)),
    ]

    @Test(arguments: normalFlows)
    fileprivate func normal(_ flow: Flow) { _ = run(flow) }

    // MARK: the first cause wins

    fileprivate static let firstCause: [Flow] = [
        Flow(name: "deadline, then the upstream's trailers", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.deadline("deadline of 1s exceeded"),
             .finish(End(.deadlineExceeded, "deadline of 1s exceeded", .gateway, reset: true))),
            (.upstreamMessage, .none),
            (.trailers(.ok), .none),
            (.upstreamReset(0x8), .none),
        ], state: .clientClosedServerClosed,
             ending: End(.deadlineExceeded, "deadline of 1s exceeded", .gateway, reset: true), responseMessages: 0),
        Flow(name: "deadline before the response head: a late head is dropped", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientMessage, .forward),
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: true))),
            (.upstreamHead, .none),
            (.trailersOnly(.ok), .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: true),
             responseStarted: false),
        Flow(name: "the upstream's trailers, then the deadline", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.aborted, "conflict"), .finish(End(.aborted, "conflict", .upstream, reset: false))),
            (.deadline("deadline of 1s exceeded"), .none),
            (.fail(.internalError, "x"), .none),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed, ending: End(.aborted, "conflict", .upstream, reset: false)),
        Flow(name: "client reset, then upstream events", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.clientReset, .finish(End(.cancelled, cancelled, .client, reset: true))),
            (.upstreamMessage, .none),
            (.trailers(.ok), .none),
            (.upstreamReset(0x8), .none),
            (.upstreamFailed(.unavailable, "lost"), .none),
            (.deadline("late"), .none),
            (.clientReset, .none),
            (.clientMessage, .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, cancelled, .client, reset: true),
             responseMessages: 1),
        Flow(name: "client reset before the response head", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.clientReset, .finish(End(.cancelled, cancelled, .client, reset: true))),
            (.upstreamHead, .none),
            (.trailersOnly(.ok), .none),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, cancelled, .client, reset: true)),
        Flow(name: "local failure, then everything else is none", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.fail(.resourceExhausted, "request message larger than 4194304 bytes"),
             .finish(End(.resourceExhausted, "request message larger than 4194304 bytes", .gateway, reset: true))),
            (.clientMessage, .none),
            (.upstreamHead, .none),
            (.upstreamMessage, .none),
            (.trailers(.ok), .none),
            (.trailersOnly(.ok), .none),
            (.upstreamReset(0x7, canRetry: true), .none),
            (.upstreamFailed(.unavailable, "lost"), .none),
            (.deadline("late"), .none),
            (.fail(.internalError, "second"), .none),
            (.clientEnd, .none),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed,
             ending: End(.resourceExhausted, "request message larger than 4194304 bytes", .gateway, reset: true),
             responseMessages: 0, attempts: 1),
        Flow(name: "local failure instead of the request head (no route): nothing to reset", steps: [
            (.fail(.unimplemented, "no route for /a.B/C"),
             .finish(End(.unimplemented, "no route for /a.B/C", .gateway, reset: false))),
            (.clientMessage, .none),
            (.clientEnd, .none),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed, ending: End(.unimplemented, "no route for /a.B/C", .gateway, reset: false),
             attempts: 0),
        Flow(name: "local failure instead of the request head, then a request head: invalid", steps: [
            (.fail(.unimplemented, "no route"), .finish(End(.unimplemented, "no route", .gateway, reset: false))),
            (.clientHead(.one), .invalid("request head in state clientOpenServerClosed")),
        ], state: .clientOpenServerClosed, ending: End(.unimplemented, "no route", .gateway, reset: false)),
        Flow(name: "upstream reset, then the deadline", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamReset(0x2), .finish(End(.internalError, resetText(2), .gateway, reset: false))),
            (.deadline("late"), .none),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed, ending: End(.internalError, resetText(2), .gateway, reset: false)),
        Flow(name: "upstream failure, then the client resets", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamFailed(.unavailable, "connection lost"),
             .finish(End(.unavailable, "connection lost", .gateway, reset: false))),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, "connection lost", .gateway, reset: false)),
    ]

    @Test(arguments: firstCause)
    fileprivate func firstCauseWins(_ flow: Flow) { _ = run(flow) }

    // MARK: cardinality, truncation, missing status

    fileprivate static let responseChecks: [Flow] = [
        Flow(name: "one: two messages end the call with INTERNAL and reset the upstream", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .finish(End(.internalError, moreThanOne, .gateway, reset: true))),
            (.upstreamMessage, .none),
            (.trailers(.ok), .none),
        ], state: .clientClosedServerClosed, ending: End(.internalError, moreThanOne, .gateway, reset: true),
             responseMessages: 2),
        Flow(name: "one: two messages before the request ends", steps: [
            (.clientHead(.one), .openUpstream),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .finish(End(.internalError, moreThanOne, .gateway, reset: true))),
            (.clientMessage, .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.internalError, moreThanOne, .gateway, reset: true)),
        Flow(name: "one: no message and OK is INTERNAL", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.ok), .finish(End(.internalError, noMessage, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noMessage, .gateway, reset: false)),
        Flow(name: "one: no message and a non-OK status is that status", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.notFound, "missing"), .finish(End(.notFound, "missing", .upstream, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.notFound, "missing", .upstream, reset: false)),
        Flow(name: "many: two messages are fine", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false)),
        Flow(name: "truncated last message and OK is INTERNAL", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok, insideMessage: true), .finish(End(.internalError, truncated, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, truncated, .gateway, reset: false)),
        Flow(name: "truncated, single-response method, no whole message", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.ok, insideMessage: true), .finish(End(.internalError, truncated, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, truncated, .gateway, reset: false)),
        // The current rule: a cut message outranks the upstream's own non-OK status.
        Flow(name: "truncated and a non-OK status is INTERNAL too", steps: [
            (.clientHead(.unknown), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(.unavailable, "shutting down", insideMessage: true),
             .finish(End(.internalError, truncated, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, truncated, .gateway, reset: false)),
        Flow(name: "trailers without a status are INTERNAL", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(nil, "whatever"), .finish(End(.internalError, noStatus, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noStatus, .gateway, reset: false)),
        Flow(name: "no status outranks a truncated message", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailers(nil, insideMessage: true), .finish(End(.internalError, noStatus, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noStatus, .gateway, reset: false)),
    ]

    @Test(arguments: responseChecks)
    fileprivate func responseIsChecked(_ flow: Flow) { _ = run(flow) }

    // MARK: upstream resets, retries, failures

    fileprivate static let upstreamEndings: [Flow] = [
        Flow(name: "CANCEL after the head is CANCELLED", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamReset(0x8), .finish(End(.cancelled, resetText(8), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, resetText(8), .gateway, reset: false)),
        Flow(name: "REFUSED_STREAM without canRetry is UNAVAILABLE", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x7), .finish(End(.unavailable, resetText(7), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, resetText(7), .gateway, reset: false),
             attempts: 1),
        Flow(name: "REFUSED_STREAM with canRetry before a head: retry, then the call succeeds", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientMessage, .forward),
            (.clientEnd, .forward),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false),
             responseMessages: 1, attempts: 2, responseStarted: true),
        Flow(name: "REFUSED_STREAM retried while the request is still open", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.clientMessage, .forward),
        ], state: .clientOpenServerIdle, ending: nil, attempts: 2, responseStarted: false),
        Flow(name: "REFUSED_STREAM twice with maxRetries 1: UNAVAILABLE", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.upstreamReset(0x7, canRetry: true), .finish(End(.unavailable, resetText(7), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, resetText(7), .gateway, reset: false),
             attempts: 2),
        Flow(name: "REFUSED_STREAM with maxRetries 0: no retry", maxRetries: 0, steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x7, canRetry: true), .finish(End(.unavailable, resetText(7), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, resetText(7), .gateway, reset: false),
             attempts: 1),
        Flow(name: "REFUSED_STREAM with maxRetries 3: three retries, then UNAVAILABLE", maxRetries: 3, steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.upstreamReset(0x7, canRetry: true), .finish(End(.unavailable, resetText(7), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, resetText(7), .gateway, reset: false),
             attempts: 4),
        Flow(name: "REFUSED_STREAM with canRetry after a head is UNAVAILABLE", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamReset(0x7, canRetry: true), .finish(End(.unavailable, resetText(7), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.unavailable, resetText(7), .gateway, reset: false),
             attempts: 1),
        Flow(name: "a retried attempt is open: the deadline resets it", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x7, canRetry: true), .retry),
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: true))),
        ], state: .clientClosedServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: true)),
        Flow(name: "code 0 is INTERNAL: closed without trailers", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.upstreamReset(0), .finish(End(.internalError, noTrailers, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noTrailers, .gateway, reset: false)),
        Flow(name: "code 0 with canRetry before a head is not retried", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0, canRetry: true), .finish(End(.internalError, noTrailers, .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, noTrailers, .gateway, reset: false),
             attempts: 1),
        Flow(name: "CANCEL with canRetry before a head is not retried", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamReset(0x8, canRetry: true), .finish(End(.cancelled, resetText(8), .gateway, reset: false))),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, resetText(8), .gateway, reset: false)),
        Flow(name: "reset while the request is open: later request messages are dropped", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientMessage, .forward),
            (.upstreamHead, .forward),
            (.upstreamReset(0xb), .finish(End(.resourceExhausted, resetText(11), .gateway, reset: false))),
            (.clientMessage, .none),
            (.clientEnd, .none),
        ], state: .clientClosedServerClosed, ending: End(.resourceExhausted, resetText(11), .gateway, reset: false)),
        Flow(name: "upstream failure before a head", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamFailed(.unavailable, "no healthy endpoint in cluster \"billing\""),
             .finish(End(.unavailable, "no healthy endpoint in cluster \"billing\"", .gateway, reset: false))),
        ], state: .clientClosedServerClosed,
             ending: End(.unavailable, "no healthy endpoint in cluster \"billing\"", .gateway, reset: false)),
        Flow(name: "upstream failure after a head, request still open", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamHead, .forward),
            (.upstreamFailed(.unavailable, "upstream connection lost"),
             .finish(End(.unavailable, "upstream connection lost", .gateway, reset: false))),
            (.clientMessage, .none),
        ], state: .clientOpenServerClosed, ending: End(.unavailable, "upstream connection lost", .gateway, reset: false)),
    ]

    @Test(arguments: upstreamEndings)
    fileprivate func upstreamEnds(_ flow: Flow) { _ = run(flow) }

    /// Every RST_STREAM code after a response head: the status of `fromHTTP2ErrorCode` and the
    /// code in the message (decimal), except NO_ERROR, which has a message of its own.
    @Test(arguments: HTTP2ErrorCode.allCases.map(\.rawValue) + [0xe, 0x1234, UInt32.max])
    func resetCodeMapping(code: UInt32) {
        var m = CallStateMachine()
        _ = m.clientHead(cardinality: .many)
        _ = m.upstreamHead()
        let expected = code == 0
            ? End(.internalError, noTrailers, .gateway, reset: false)
            : End(GRPCStatusCode.fromHTTP2ErrorCode(code), resetText(code), .gateway, reset: false)
        #expect(Act(m.upstreamReset(errorCode: code)) == .finish(expected))
    }

    @Test(arguments: [
        (UInt32(0x1), GRPCStatusCode.internalError),
        (0x2, .internalError),
        (0x7, .unavailable),
        (0x8, .cancelled),
        (0xb, .resourceExhausted),
        (0xc, .permissionDenied),
        (0xd, .internalError),
    ] as [(UInt32, GRPCStatusCode)])
    func resetCodeStatus(code: UInt32, status: GRPCStatusCode) {
        var m = CallStateMachine()
        _ = m.clientHead(cardinality: .many)
        _ = m.upstreamHead()
        _ = m.upstreamReset(errorCode: code)
        #expect(m.ending?.code == status)
    }

    // MARK: resetUpstream: exactly when an upstream attempt is open and has not ended

    fileprivate static let resetUpstream: [Flow] = [
        Flow(name: "deadline before the request head: no upstream", steps: [
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: false))),
        ], state: .clientOpenServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: false)),
        Flow(name: "client reset before the request head: no upstream", steps: [
            (.clientReset, .finish(End(.cancelled, cancelled, .client, reset: false))),
            (.clientHead(.one), .invalid("request head in state clientClosedServerClosed")),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, cancelled, .client, reset: false)),
        Flow(name: "deadline with the request open, before a head", steps: [
            (.clientHead(.many), .openUpstream),
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: true))),
        ], state: .clientOpenServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: true)),
        Flow(name: "deadline after the request, before a head", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: true))),
        ], state: .clientClosedServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: true)),
        Flow(name: "deadline with the response open", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamHead, .forward),
            (.deadline("late"), .finish(End(.deadlineExceeded, "late", .gateway, reset: true))),
        ], state: .clientOpenServerClosed, ending: End(.deadlineExceeded, "late", .gateway, reset: true)),
        Flow(name: "local failure with the response open", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.fail(.internalError, "cannot translate"), .finish(End(.internalError, "cannot translate", .gateway, reset: true))),
        ], state: .clientClosedServerClosed, ending: End(.internalError, "cannot translate", .gateway, reset: true)),
        Flow(name: "client reset with the response open", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.clientReset, .finish(End(.cancelled, cancelled, .client, reset: true))),
        ], state: .clientClosedServerClosed, ending: End(.cancelled, cancelled, .client, reset: true)),
        Flow(name: "client reset after the call ended only closes the client half", steps: [
            (.clientHead(.many), .openUpstream),
            (.trailersOnly(.ok), ok()),
            (.clientReset, .none),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false)),
    ]

    @Test(arguments: resetUpstream)
    fileprivate func resetsUpstreamOnlyWhenOpen(_ flow: Flow) { _ = run(flow) }

    // MARK: illegal sequences

    fileprivate static let illegal: [Flow] = [
        Flow(name: "a second request head", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientHead(.one), .invalid("request head in state clientOpenServerIdle")),
        ], state: .clientOpenServerIdle, ending: nil, attempts: 1),
        Flow(name: "a second request head after the response head", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.clientHead(.many), .invalid("request head in state clientClosedServerOpen")),
        ], state: .clientClosedServerOpen, ending: nil),
        Flow(name: "response head twice", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamHead, .forward),
            (.upstreamHead, .invalid("response head in state clientOpenServerOpen")),
        ], state: .clientOpenServerOpen, ending: nil),
        Flow(name: "trailers-only after a head", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.trailersOnly(.ok), .invalid("a trailers-only response after a response head in state clientClosedServerOpen")),
        ], state: .clientClosedServerOpen, ending: nil),
        Flow(name: "trailers before a head", steps: [
            (.clientHead(.many), .openUpstream),
            (.clientEnd, .forward),
            (.trailers(.ok), .invalid("trailers before a response head in state clientClosedServerIdle")),
        ], state: .clientClosedServerIdle, ending: nil),
        Flow(name: "a response message before a head", steps: [
            (.clientHead(.many), .openUpstream),
            (.upstreamMessage, .invalid("response message in state clientOpenServerIdle")),
        ], state: .clientOpenServerIdle, ending: nil, responseMessages: 0),
        Flow(name: "request end twice", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.clientEnd, .invalid("request end in state clientClosedServerIdle")),
        ], state: .clientClosedServerIdle, ending: nil),
        Flow(name: "request end twice, response open", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.clientEnd, .invalid("request end in state clientClosedServerOpen")),
        ], state: .clientClosedServerOpen, ending: nil),
        Flow(name: "a request message after the request end", steps: [
            (.clientHead(.one), .openUpstream),
            (.clientEnd, .forward),
            (.clientMessage, .invalid("request message in state clientClosedServerIdle")),
        ], state: .clientClosedServerIdle, ending: nil),
        // Before the request head, only the gateway's own causes and the client's reset are legal.
        Flow(name: "request message before the head", steps: [
            (.clientMessage, .invalid("request message in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil),
        Flow(name: "request end before the head", steps: [
            (.clientEnd, .invalid("request end in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil),
        Flow(name: "response head before the request head", steps: [
            (.upstreamHead, .invalid("response head in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil),
        Flow(name: "response message before the request head", steps: [
            (.upstreamMessage, .invalid("response message in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil, responseMessages: 0),
        Flow(name: "trailers before the request head", steps: [
            (.trailers(.ok), .invalid("response end in state clientIdleServerIdle")),
            (.trailersOnly(.ok), .invalid("response end in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil),
        Flow(name: "upstream reset before the request head", steps: [
            (.upstreamReset(0x7, canRetry: true), .invalid("upstream reset in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil, attempts: 0),
        Flow(name: "upstream failure before the request head", steps: [
            (.upstreamFailed(.unavailable, "x"), .invalid("upstream failure in state clientIdleServerIdle")),
        ], state: .clientIdleServerIdle, ending: nil),
        Flow(name: "an invalid event changes nothing: the call goes on", steps: [
            (.clientHead(.one), .openUpstream),
            (.trailers(.ok), .invalid("trailers before a response head in state clientOpenServerIdle")),
            (.upstreamMessage, .invalid("response message in state clientOpenServerIdle")),
            (.clientEnd, .forward),
            (.upstreamHead, .forward),
            (.upstreamMessage, .forward),
            (.trailers(.ok), ok()),
        ], state: .clientClosedServerClosed, ending: End(.ok, "", .upstream, reset: false), responseMessages: 1),
    ]

    @Test(arguments: illegal)
    fileprivate func illegalSequences(_ flow: Flow) { _ = run(flow) }

    // MARK: a response head after the response ended

    /// The type's contract: "a response head after the response ended" is a caller bug,
    /// `.invalid`. However the upstream's stream ended (trailers, a trailers-only response,
    /// RST_STREAM, a lost connection), no response head can follow on it — whether the upstream's
    /// status was relayed or the gateway replaced it (truncated, no status, cardinality).
    /// After the gateway's own decision (deadline, local failure, client reset) the upstream is
    /// still open and a late head is legal: `.none` (see `firstCauseWins`).
    fileprivate static let upstreamEndedBy: [(String, [Event])] = [
        ("trailers, status relayed", [.upstreamHead, .upstreamMessage, .trailers(.ok)]),
        ("trailers-only, status relayed", [.trailersOnly(.notFound, "x")]),
        ("trailers-only OK on a single-response method (INTERNAL)", [.trailersOnly(.ok)]),
        ("trailers without a status (INTERNAL)", [.upstreamHead, .trailers(nil)]),
        ("trailers inside a message (INTERNAL)", [.upstreamHead, .upstreamMessage, .trailers(.ok, insideMessage: true)]),
        ("RST_STREAM CANCEL", [.upstreamHead, .upstreamReset(0x8)]),
        ("RST_STREAM REFUSED_STREAM before a head", [.upstreamReset(0x7)]),
        ("closed without trailers", [.upstreamHead, .upstreamReset(0)]),
        ("connection lost", [.upstreamFailed(.unavailable, "connection lost")]),
    ]

    @Test(arguments: upstreamEndedBy)
    fileprivate func responseHeadAfterTheUpstreamEndedIsInvalid(name: String, events: [Event]) {
        var m = CallStateMachine()
        _ = m.clientHead(cardinality: .one)
        _ = m.clientEnd()
        for e in events { _ = e.apply(to: &m) }
        #expect(m.state == .clientClosedServerClosed)
        #expect(Act(m.upstreamHead()) == .invalid("response head in state clientClosedServerClosed"))
    }
}

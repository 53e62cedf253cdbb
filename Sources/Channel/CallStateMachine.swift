/// The life of one call, whatever the client's wire format: a value that takes events from the
/// two halves of the call — the client (request) and the upstream server (response) — and returns
/// what to do. It decides the call's final status once (the first cause wins), enforces the
/// response cardinality of unary and client-streaming methods, and rejects events that are not
/// legal in its state. No I/O: the `Call` in Gateway carries the actions out.
///
/// States are named as the two halves (grpc-swift's convention): the client half is `idle`
/// before the request head, `open` while request messages may come, `closed` once the request
/// is complete (or no longer wanted); the server half is `idle` before the response head,
/// `open` while response messages come, `closed` once the final status is decided.
///
///     clientIdleServerIdle --clientHead--> clientOpenServerIdle --clientEnd--> clientClosedServerIdle
///     *ServerIdle --upstreamHead--> *ServerOpen
///     (after the head) --(upstream trailers | reset | failure | deadline | local failure)--> *ServerClosed
///     any --clientReset--> clientClosedServerClosed (CANCELLED)
///
/// Events that arrive after the status is decided (a late DATA frame, a late trailer) are legal
/// and answered `.none`; events that cannot happen in a state (a second request head, a response
/// head after the response ended) are bugs of the caller and answered `.invalid`.
public struct CallStateMachine: Sendable {
    public enum State: Equatable, Sendable {
        case clientIdleServerIdle
        case clientOpenServerIdle
        case clientClosedServerIdle
        case clientOpenServerOpen
        case clientClosedServerOpen
        case clientOpenServerClosed
        case clientClosedServerClosed
    }

    /// How many response messages a method may answer.
    public enum ResponseCardinality: Sendable, Equatable {
        /// Not known (native gRPC without descriptors): not checked.
        case unknown
        /// Unary and client-streaming methods: exactly one message with an OK status.
        case one
        /// Server-streaming and bidi methods: any number.
        case many
    }

    /// Who decided the final status.
    public enum StatusSource: Sendable, Equatable {
        /// The upstream's trailers (or trailers-only response), relayed as received.
        case upstream
        /// The gateway: the upstream failed, broke the protocol, or a limit or deadline hit.
        case gateway
        /// The client went away; nothing more can be sent to it.
        case client
    }

    /// How the call ends.
    public struct Ending: Sendable, Equatable {
        public var code: GRPCStatusCode
        public var message: String
        public var source: StatusSource
        /// The upstream stream is still open and must be reset (RST_STREAM CANCEL).
        public var resetUpstream: Bool
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Start an upstream attempt with the request head.
        case openUpstream
        /// Pass the event on to the other side (a message, the response head, the request's end).
        case forward
        /// End the response with this status (and reset the upstream if it says so).
        case finish(Ending)
        /// Abandon a refused attempt and start another (REFUSED_STREAM before any response,
        /// with the whole request still at hand).
        case retry
        /// The event cannot happen in this state: a bug of the caller.
        case invalid(String)
    }

    public private(set) var state = State.clientIdleServerIdle
    /// The final status, once decided.
    public private(set) var ending: Ending?
    public private(set) var responseMessages = 0
    /// The upstream's response head was passed on (so an ending goes out as trailers, not as a
    /// trailers-only response).
    public private(set) var responseStarted = false
    public private(set) var attempts = 0
    private var cardinality = ResponseCardinality.unknown
    /// An upstream attempt has been asked for and has not ended.
    private var upstreamOpen = false
    /// The upstream stream itself ended (its end, a reset, a failure): nothing more can come from it.
    private var upstreamEnded = false
    /// Attempts after the first one, at most.
    public var maxRetries = 1

    public init() {}

    public var isFinished: Bool { ending != nil }

    // MARK: client events

    /// The request head arrived and was accepted (routed): open the upstream side.
    public mutating func clientHead(cardinality: ResponseCardinality) -> Action {
        guard state == .clientIdleServerIdle else { return invalid("request head") }
        self.cardinality = cardinality
        state = .clientOpenServerIdle
        upstreamOpen = true
        attempts = 1
        return .openUpstream
    }

    /// One request message (or a run of request bytes): forward it while the upstream wants it.
    public mutating func clientMessage() -> Action {
        switch state {
        case .clientOpenServerIdle, .clientOpenServerOpen: return .forward
        case .clientOpenServerClosed, .clientClosedServerClosed: return .none  // nobody needs it
        default: return invalid("request message")
        }
    }

    /// The request is complete.
    public mutating func clientEnd() -> Action {
        switch state {
        case .clientOpenServerIdle: state = .clientClosedServerIdle; return .forward
        case .clientOpenServerOpen: state = .clientClosedServerOpen; return .forward
        case .clientOpenServerClosed: state = .clientClosedServerClosed; return .none
        case .clientClosedServerClosed: return .none  // a client gone before its request ended
        default: return invalid("request end")
        }
    }

    /// The client went away (stream reset, connection closed) before the call ended: CANCELLED,
    /// and the upstream is reset. After the call ended it only closes the client half.
    public mutating func clientReset() -> Action {
        if state == .clientClosedServerClosed { return .none }
        state = .clientClosedServerClosed
        guard ending == nil else { return .none }
        return decide(.cancelled, "the client cancelled the call", .client)
    }

    // MARK: upstream events

    /// The upstream's response headers (not trailers-only).
    public mutating func upstreamHead() -> Action {
        switch state {
        case .clientOpenServerIdle: state = .clientOpenServerOpen; responseStarted = true; return .forward
        case .clientClosedServerIdle: state = .clientClosedServerOpen; responseStarted = true; return .forward
        case .clientOpenServerClosed, .clientClosedServerClosed:
            // Late after the gateway's own decision; impossible once the upstream stream ended.
            return upstreamEnded ? invalid("response head") : .none
        default: return invalid("response head")
        }
    }

    /// One whole response message.
    public mutating func upstreamMessage() -> Action {
        switch state {
        case .clientOpenServerOpen, .clientClosedServerOpen:
            responseMessages += 1
            if cardinality == .one && responseMessages > 1 {
                return decide(.internalError, "upstream answered a single-response method with more than one message", .gateway)
            }
            return .forward
        case .clientOpenServerClosed, .clientClosedServerClosed:
            return .none
        default:
            return invalid("response message")
        }
    }

    /// The upstream ended the response: trailers after a response head, or a trailers-only
    /// response (`trailersOnly`). `status` is its `grpc-status` (nil: none, or not a number);
    /// `insideMessage`: the last message was cut short.
    public mutating func upstreamEnd(status: GRPCStatusCode?, message: String, insideMessage: Bool,
                                     trailersOnly: Bool) -> Action {
        switch state {
        case .clientOpenServerClosed, .clientClosedServerClosed:
            return .none
        case .clientOpenServerIdle, .clientClosedServerIdle:
            guard trailersOnly else { return invalid("trailers before a response head") }
        case .clientOpenServerOpen, .clientClosedServerOpen:
            guard !trailersOnly else { return invalid("a trailers-only response after a response head") }
        case .clientIdleServerIdle:
            return invalid("response end")
        }
        upstreamOpen = false
        upstreamEnded = true
        guard let status else {
            return decide(.internalError, "upstream ended the response without a valid grpc-status", .gateway)
        }
        if insideMessage {
            return decide(.internalError, "upstream ended the response inside a message (a truncated gRPC frame)", .gateway)
        }
        if status == .ok && cardinality == .one && responseMessages == 0 {
            return decide(.internalError, "upstream answered a single-response method with no message", .gateway)
        }
        return decide(status, message, .upstream)
    }

    /// The upstream stream closed or was reset before the response ended. `errorCode` is the
    /// RST_STREAM code (0: it just closed); `canRetry`: the caller still has the whole request
    /// and may send it again.
    public mutating func upstreamReset(errorCode: UInt32, canRetry: Bool = false) -> Action {
        switch state {
        case .clientOpenServerClosed, .clientClosedServerClosed: return .none
        case .clientIdleServerIdle: return invalid("upstream reset")
        default: break
        }
        upstreamOpen = false
        upstreamEnded = true
        // REFUSED_STREAM: the upstream processed nothing (RFC 9113 §8.7), so the call may go again.
        let serverIdle = state == .clientOpenServerIdle || state == .clientClosedServerIdle
        if errorCode == 0x7, serverIdle, canRetry, attempts <= maxRetries {
            attempts += 1
            upstreamOpen = true
            upstreamEnded = false
            return .retry
        }
        if errorCode == 0 {
            return decide(.internalError, "upstream closed the stream without trailers", .gateway)
        }
        return decide(GRPCStatusCode.fromHTTP2ErrorCode(errorCode),
                      "upstream reset the stream (HTTP/2 error code \(errorCode))", .gateway)
    }

    /// No upstream stream could be opened, or its connection was lost.
    public mutating func upstreamFailed(_ code: GRPCStatusCode, _ message: String) -> Action {
        switch state {
        case .clientOpenServerClosed, .clientClosedServerClosed: return .none
        case .clientIdleServerIdle: return invalid("upstream failure")
        default: break
        }
        upstreamOpen = false
        upstreamEnded = true
        return decide(code, message, .gateway)
    }

    // MARK: the gateway's own causes

    /// The deadline passed: DEADLINE_EXCEEDED, the upstream is reset.
    public mutating func deadlineExpired(_ message: String) -> Action {
        fail(.deadlineExceeded, message)
    }

    /// The gateway ends the call itself: the request head is refused (no route, bad metadata),
    /// a message cannot be translated, a limit is hit. Legal in every state but after the end.
    public mutating func fail(_ code: GRPCStatusCode, _ message: String) -> Action {
        guard ending == nil else { return .none }
        switch state {
        case .clientIdleServerIdle: state = .clientOpenServerClosed
        case .clientOpenServerIdle, .clientOpenServerOpen: state = .clientOpenServerClosed
        case .clientClosedServerIdle, .clientClosedServerOpen: state = .clientClosedServerClosed
        case .clientOpenServerClosed, .clientClosedServerClosed: return .none
        }
        return decide(code, message, .gateway)
    }

    // MARK: internals

    /// The first cause wins: records the ending and closes the server half.
    private mutating func decide(_ code: GRPCStatusCode, _ message: String, _ source: StatusSource) -> Action {
        guard ending == nil else { return .none }
        switch state {
        case .clientOpenServerIdle, .clientOpenServerOpen: state = .clientOpenServerClosed
        case .clientClosedServerIdle, .clientClosedServerOpen: state = .clientClosedServerClosed
        default: break
        }
        let e = Ending(code: code, message: message, source: source, resetUpstream: upstreamOpen)
        upstreamOpen = false
        ending = e
        return .finish(e)
    }

    private func invalid(_ event: String) -> Action {
        .invalid("\(event) in state \(state)")
    }
}

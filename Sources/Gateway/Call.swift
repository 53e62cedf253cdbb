import Channel
import RouteConfig
import Transcoding
import Upstream
import UVLoop

/// One client call, whatever its wire format (docs/ARCHITECTURE.md): the
/// `CallStateMachine`, the deadline, the config snapshot the call started on, its counters, the
/// request bytes on their way upstream, and its current `UpstreamAttempt` (by composition: a
/// retry drops one attempt and starts another). Its `Frontend` translates between the client's
/// format and the channel's; its `ClientStream` (an HTTP/2 stream, an HTTP/1.1 exchange) carries
/// the bytes. Deadlines, metadata rules, status decisions, counting and flow control are here,
/// once; a frontend writes none of them.
///
/// Lifetime: owned by its client stream, which it holds in turn until the stream lets go of it
/// (when the stream closes); it owns its frontend, and its attempt until the call
/// ends (the upstream connection holds the attempt, and the attempt this call, until the
/// upstream stream closes). Its references are `let`s so that the per-event paths need no
/// reference counting. Loop-thread only.
final class Call: UpstreamAttemptOwner {
    let worker: Worker
    /// The config this call started on: a reload does not change it.
    let snapshot: ConfigSnapshot
    /// The client side. Held strongly: the stream lets go of its call when it closes, which ends
    /// the cycle.
    let client: any ClientStream
    let frontend: any Frontend
    private(set) var machine = CallStateMachine()
    /// Changed only by `setAttempt` (which keeps `attemptRef` in step).
    private(set) var attempt: UpstreamAttempt?
    /// `attempt`, unmanaged, for the per-message paths (no reference counting; valid while
    /// `attempt` holds it).
    private var attemptRef: Unmanaged<UpstreamAttempt>?

    /// (Not a `didSet`: reading the new value there to mirror it was a retain and a release.)
    @inline(__always)
    private func setAttempt(_ a: UpstreamAttempt?) {
        attemptRef = a.map { Unmanaged.passUnretained($0) }
        attempt = a
    }
    /// The route the call took (index into the snapshot's routes), -1 before routing.
    private(set) var routeIndex = -1
    /// The head sent upstream (the frontend fills it).
    private(set) var upstreamHead: Metadata?
    /// How many fields of `upstreamHead` are the call's own (-1 until the first attempt).
    private var upstreamHeadFields = -1
    /// The head of a retry: a copy of the call's own fields (the last attempt's session may still
    /// hold `upstreamHead` unsent, and a held block never changes).
    private var retryHead: Metadata?
    private var clientTimeoutNs: UInt64?

    // Request: framed gRPC bytes waiting for the upstream.
    private var requestQueue = ByteQueue()
    /// The bytes sent upstream stay in `requestQueue` (kept, not copied) until the upstream
    /// answers, up to `retryKeepLimit`: a stream the upstream refused without processing it
    /// (RST_STREAM REFUSED_STREAM, or above the last stream of its GOAWAY: a graceful restart)
    /// goes again on another connection (README "Retries"). Counted in the worker's held bytes.
    private var keepingForRetry = true
    static let retryKeepLimit = 64 * 1024
    /// Bytes of the current attempt's request that an earlier attempt sent already: the
    /// frontend has heard of them (`requestSent`) once.
    private var resendBytes = 0
    /// Every request byte is queued (the client's request is complete).
    private(set) var requestComplete = false

    // Response, as the core follows it.
    /// Upstream window withheld while the client is slow (`responseTaken`).
    private var withheldResponse = 0
    /// Response bytes a translating frontend may leave waiting for the client before the
    /// upstream is held back.
    static let responseHighWater = 256 * 1024
    private var responseFrames = GRPCFrameTracker()
    private var upstreamStatus: GRPCStatusCode?
    private var upstreamMessage = ""
    private var upstreamHTTPStatus = 200
    /// The HTTP status of a refusal whose status is not the usual one for its frontend (a gRPC
    /// request that is not a POST: 405; a JSON path that no route names: 404, …), with the
    /// fields it needs (`Allow`).
    private(set) var refusalHTTPStatus: Int?
    private(set) var refusalFields: [(StaticString, String)] = []
    /// The upstream's final header block has no field the frontend's table drops.
    private(set) var filteredFields = true

    // Metrics and the access log (README "Metrics"): the call's series (`_unknown` until it is
    // routed), when it started, and what it moved (gRPC-framed bytes and messages, as they went
    // to and came from the upstream).
    private var series: Unmanaged<MethodSeries>
    let startNs: UInt64
    private(set) var requestBytes = 0
    private(set) var responseBytes = 0
    private(set) var requestMessages = 0
    private(set) var responseMessages = 0
    private var requestFrames = GRPCFrameTracker()
    /// The upstream endpoint the call's last attempt went to (the access log's `upstream`).
    private(set) var upstreamEndpoint: String?

    // Deadline: loop milliseconds, and the place in the worker's heap (-1: not in it).
    var deadlineMs: UInt64 = 0
    var deadlineIndex = -1
    /// About 100 years: far enough to mean "no deadline", small enough never to overflow.
    static let maxDeadlineMs: UInt64 = 100 * 365 * 24 * 3_600_000

    /// Borrowed: the caller need not make +1 copies just to hand them over.
    init(worker: borrowing Worker, client: borrowing any ClientStream, frontend: borrowing any Frontend) {
        self.worker = copy worker
        snapshot = worker.snapshot
        self.client = copy client
        self.frontend = copy frontend
        series = Unmanaged.passUnretained(worker.methods.unrouted)
        startNs = monotonicNanoseconds()
        let counters = worker.counters
        counters.add(counters.callsStarted)
        counters.add(counters.callsActive, 1)
    }

    deinit {
        // The deadline heap holds calls unretained.
        if deadlineIndex >= 0 { worker.removeDeadline(self) }
        // The attempt may outlive the call on its connection: it must not call back here.
        attempt?.cancel()
        if let upstreamHead = upstreamHead.take() { worker.giveBlock(upstreamHead) }
        if let retryHead = retryHead.take() { worker.giveBlock(retryHead) }
        if keepingForRetry { stopKeeping() }
    }

    var isFinished: Bool { machine.isFinished }
    /// Whether `block` is the head this call sends upstream (compared here: loading the
    /// reference from outside retains it).
    func hasUpstreamHead(_ block: Metadata) -> Bool { upstreamHead === block }
    /// The client has been sent a response head (read here, not through `machine`: reading a
    /// property of another object's struct copies the whole struct, its strings retained).
    var responseStarted: Bool { machine.responseStarted }
    /// The series the call counts in (for the access log's service and method).
    var metricsSeries: MethodSeries { series.takeUnretainedValue() }
    /// The request bytes queued for the upstream end inside a gRPC message.
    var requestInsideMessage: Bool { requestFrames.insideMessage }
    var route: RouteEntry? { routeIndex >= 0 ? snapshot.routes[routeIndex] : nil }

    // MARK: starting

    /// The frontend has routed the call and built its upstream head: arm the deadline (the
    /// client's `grpc-timeout`, else the route's), and open the upstream now or when the
    /// frontend asks (`openUpstream`, e.g. once a unary JSON body is complete).
    func start(route: Int, head: CallHead, cardinality: CallStateMachine.ResponseCardinality, openNow: Bool) {
        routeIndex = route
        upstreamHead = head.metadata
        series = worker.withMethods { Self.series(of: head, in: $0, snapshot: snapshot) }
        if let problem = head.problem {
            fail(.invalidArgument, problem)
            return
        }
        if worker.overBudget {
            // HTTP/1.1 requests (an HTTP/2 stream is refused when it opens, REFUSED_STREAM,
            // unless the budget was passed while its head came in): never forwarded, so the
            // client may retry it.
            worker.counters.limitHit(.bufferedPerWorker)
            fail(.unavailable, "the gateway holds more than max_buffered_per_worker (\(worker.limits.maxBufferedPerWorker) bytes) for its clients; retry later",
                 httpStatus: 503)
            return
        }
        clientTimeoutNs = head.timeoutNanoseconds
        armDeadline(routeTimeoutMs: snapshot.timeoutMs(route: route))
        let action = machine.clientHead(cardinality: cardinality)
        if openNow { act(action) }
    }

    /// The call's series, by the gRPC path its upstream head carries (native: found by the head
    /// builder; translated: the frontend's own `:path`, among the first fields).
    @inline(__always)
    private static func series(of head: CallHead, in table: MethodTable, snapshot: ConfigSnapshot) -> Unmanaged<MethodSeries> {
        let m = head.metadata
        var index = head.pathField
        if index < 0 {
            for i in 0 ..< min(m.count, 6) where m.field(i).name.equals(":path") {
                index = i
                break
            }
        }
        guard index >= 0 else { return Unmanaged.passUnretained(table.unrouted) }
        let path = m.field(index).value
        let parts: (service: Range<Int>, method: Range<Int>)?
        if index == head.pathField, let s = head.serviceRange, let mr = head.methodRange { parts = (s, mr) } else { parts = GRPCPath.split(path) }
        guard let parts else { return Unmanaged.passUnretained(table.unrouted) }
        return table.series(path: path, service: parts.service, method: parts.method) { snapshot.registry.method(path: $0) != nil }
    }

    /// Opens the upstream side of a call started with `openNow: false`.
    func openUpstream() {
        guard attempt == nil, !machine.isFinished else { return }
        startAttempt()
    }

    private func startAttempt() {
        let a = worker.newAttempt(for: self)
        setAttempt(a)
        snapshot.pool(route: routeIndex)._withUnsafeGuaranteedRef { $0.start(a) }
    }

    private func armDeadline(routeTimeoutMs: UInt64?) {
        let routeNs = routeTimeoutMs.map { $0.multipliedReportingOverflow(by: 1_000_000).overflow ? .max : $0 * 1_000_000 }
        guard let timeoutNs = clientTimeoutNs ?? routeNs else { return }
        // grpc-timeout allows up to 99999999 hours, which overflows nanoseconds: clamp (past
        // ~100 years is as good as none).
        let ms = min(timeoutNs / 1_000_000 + (timeoutNs % 1_000_000 == 0 ? 0 : 1), Self.maxDeadlineMs)
        deadlineMs = worker.now &+ ms
        worker.insertDeadline(self)
    }

    /// The deadline passed: DEADLINE_EXCEEDED, and the upstream stream is reset.
    func deadlineExpired() {
        let budget = clientTimeoutNs.map { "\($0 / 1_000_000)ms" } ?? "route timeout"
        act(machine.deadlineExpired("deadline exceeded (\(budget))"))
    }

    // MARK: client events (from the client stream)

    /// Request body bytes from the client (a view, valid during the call).
    func clientData(_ bytes: UnsafeRawBufferPointer) {
        if case .forward = machine.clientMessage() {
            frontend.requestBody(self, bytes)
        } else {
            client.requestTaken(bytes.count)  // nobody will take them: give the window back now
        }
    }

    /// The client's request is complete.
    func clientEnd() {
        if case .forward = machine.clientEnd() { frontend.requestEnd(self) }
    }

    /// The client went away (stream reset, connection closed).
    func clientGone() {
        act(machine.clientReset())
        attempt?.cancel()
        setAttempt(nil)
        if keepingForRetry { stopKeeping() }
        requestQueue.removeAll()
        worker.removeDeadline(self)
    }

    /// The client stream wrote `count` response bytes out: window withheld by `responseTaken`
    /// goes back once the backlog is below the mark, and the frontend hears of it.
    func responseWritten(_ count: Int) {
        if withheldResponse > 0, client.responseBacklog < Self.responseHighWater {
            let n = withheldResponse
            withheldResponse = 0
            consumeResponse(n)
        }
        frontend.responseWritten(self, count)
    }

    /// A translating frontend has dealt with `count` upstream response bytes (written its own
    /// bytes for them, or kept them): the upstream's window opens for them now, or, while more
    /// than `responseHighWater` bytes wait for the client, once the client stream drains.
    /// (The native frontend relays 1:1 and opens the window in `responseWritten` instead.)
    func responseTaken(_ count: Int) {
        if client.responseBacklog < Self.responseHighWater {
            consumeResponse(count)
        } else {
            withheldResponse += count
        }
    }

    // MARK: the frontend's requests

    /// Queues framed request bytes for the upstream.
    func sendRequest(_ bytes: UnsafeRawBufferPointer) {
        requestBytes &+= bytes.count
        requestMessages &+= requestFrames.feed(bytes)
        requestQueue.append(bytes)
        attemptRef?._withUnsafeGuaranteedRef { $0.resumeRequest() }
    }

    /// Every request byte is queued.
    func endRequest() {
        requestComplete = true
        attemptRef?._withUnsafeGuaranteedRef { $0.resumeRequest() }
    }

    /// Framed request bytes queued and not yet taken by the upstream.
    var requestBacklog: Int { requestQueue.count }

    /// The response bytes relayed so far end inside a gRPC message (during `responseData`: after
    /// the chunk being passed on), e.g. for a frontend that re-encodes the stream per message.
    var responseInsideMessage: Bool { responseFrames.insideMessage }

    /// The frontend ends the call itself (it cannot translate a message, a limit is hit, the
    /// request cannot be routed); `httpStatus` when the answer is not the table's (only before
    /// anything was sent).
    func fail(_ code: GRPCStatusCode, _ message: String, httpStatus: Int? = nil,
              fields: [(StaticString, String)] = []) {
        if !machine.responseStarted && !machine.isFinished {
            refusalHTTPStatus = httpStatus
            refusalFields = fields
        }
        act(machine.fail(code, message))
    }

    /// Opens the upstream window for `count` response bytes the client side has taken.
    func consumeResponse(_ count: Int) {
        attemptRef?._withUnsafeGuaranteedRef { $0.consumeResponse(count) }
    }

    // MARK: carrying out the machine's actions

    /// `fields`: the upstream's last header block, when the action answers it (the frontend
    /// takes it; else it goes back to the pool here).
    private func act(_ action: CallStateMachine.Action, fields: Metadata? = nil) {
        switch action {
        case .none, .forward:
            break
        case .openUpstream:
            startAttempt()
        case .retry:
            attempt?.cancel()
            setAttempt(nil)
            // What went upstream is sent again, first; the frontend heard of it already.
            let kept = requestQueue.kept
            resendBytes += kept
            worker.counters.add(worker.counters.bufferedBytes, -Int64(kept))
            requestQueue.rewind()
            worker.counters.add(worker.counters.retries)
            startAttempt()
        case .finish(let ending):
            finish(ending, fields: fields)
            return
        case .invalid(let why):
            assertionFailure(why)
            worker.log("call state error: \(why)", level: .error)
            act(machine.fail(.internalError, "gateway error: \(why)"))
        }
        if let fields { worker.giveBlock(fields) }
    }

    private func finish(_ ending: CallStateMachine.Ending, fields: Metadata?) {
        worker.removeDeadline(self)
        worker.callFinished(status: ending.code.rawValue)
        let durationNs = monotonicNanoseconds() &- startNs
        series._withUnsafeGuaranteedRef {
            $0.record(protocol: frontend.callProtocol, status: ending.code.rawValue, durationNs: durationNs,
                      requestBytes: requestBytes, responseBytes: responseBytes,
                      requestMessages: requestMessages, responseMessages: responseMessages)
        }
        let log = worker.accessLog
        if log != nil { upstreamEndpoint = attempt?.endpointName }
        // The rest of the request is not needed: an upstream still expecting it is reset.
        if ending.resetUpstream || !(requestComplete && requestQueue.isEmpty) {
            attempt?.cancel()
        }
        // The attempt holds this call until its stream closes; the call lets go of it now
        // (response bytes still queued towards the client are given back when that stream closes).
        setAttempt(nil)
        if keepingForRetry { stopKeeping() }
        requestQueue.removeAll()
        if ending.source != .client {
            frontend.finish(self, ending, fields: fields)
        } else if let fields {
            worker.giveBlock(fields)
        }
        // After the frontend wrote the end: the line has the HTTP status the client got.
        log?.append(self, ending, durationNs: durationNs)
    }

    // MARK: UpstreamAttemptOwner

    func attemptRequestHead(_ attempt: UpstreamAttempt) -> Unmanaged<Metadata> {
        var h = Unmanaged.passUnretained(upstreamHead!)
        // Each attempt's head is the client's fields plus its own time remaining.
        if upstreamHeadFields < 0 {
            upstreamHeadFields = h._withUnsafeGuaranteedRef { $0.count }
        } else {
            let pool = worker.headerPool
            let copy = pool.take()
            h._withUnsafeGuaranteedRef { h in
                for i in 0 ..< upstreamHeadFields {
                    let (name, value) = h.field(i)
                    copy.append(name: name, value: value)
                }
            }
            if let retryHead { pool.give(retryHead) }  // its session gives it back once sent
            retryHead = copy
            h = Unmanaged.passUnretained(copy)
        }
        // The time remaining, when there is a deadline (PROTOCOL-HTTP2.md "Timeouts").
        if deadlineMs > 0 {
            let now = worker.now
            let remainingMs = deadlineMs > now ? deadlineMs - now : 1
            GRPCTimeout.withEncoded(milliseconds: remainingMs) { v in h._withUnsafeGuaranteedRef { $0.append("grpc-timeout", value: v) } }
        }
        return h
    }

    func attemptRequestHasBody(_ attempt: UpstreamAttempt) -> Bool { !(requestComplete && requestQueue.isEmpty) }

    func attemptRequestReady(_ attempt: UpstreamAttempt, maxLength: Int) -> (count: Int, end: Bool)? {
        let queued = requestQueue.count
        if queued > 0 {
            let n = min(queued, maxLength)
            return (n, n == queued && requestComplete)
        }
        return requestComplete ? (0, true) : nil
    }

    func attemptWriteRequest(_ attempt: UpstreamAttempt, into: UnsafeMutableRawBufferPointer) {
        var fresh = into.count
        if keepingForRetry {
            requestQueue.readKeeping(into: into)
            worker.counters.add(worker.counters.bufferedBytes, Int64(fresh))
            if requestQueue.kept > Self.retryKeepLimit { stopKeeping() }
        } else {
            requestQueue.read(into: into)
        }
        if resendBytes > 0 {
            let again = min(resendBytes, fresh)
            resendBytes -= again
            fresh -= again
        }
        if fresh > 0 { frontend.requestSent(self, fresh) }
    }

    /// The request can no longer be sent again (the upstream answered, it is too large to keep,
    /// or the call is over): the kept bytes go.
    private func stopKeeping() {
        keepingForRetry = false
        let kept = requestQueue.kept
        guard kept > 0 else { return }
        requestQueue.forgetKept()
        worker.counters.add(worker.counters.bufferedBytes, -Int64(kept))
    }

    func attemptHeaders(_ attempt: UpstreamAttempt, _ fields: Metadata, isTrailer: Bool, endStream: Bool) {
        if keepingForRetry { stopKeeping() }  // answered: the upstream took the stream, it is not sent again
        // The core reads the status; the frontend decides what of the rest its client sees.
        let profile = frontend.profile
        var drops = false
        for i in 0 ..< fields.count {
            let (name, value) = fields.field(i)
            switch MetadataFilter.response(name, profile: profile) {
            case .status:
                // A code gRPC does not know is UNKNOWN; a value that is not a code at all is no status.
            upstreamStatus = GRPCStatusCode(decimalText: value)
                ?? (!value.isEmpty && value.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? .unknown : nil)
            case .statusMessage:
                upstreamMessage = GRPCStatusMessage.decode(String(decoding: value, as: UTF8.self))
            case .pseudo:
                if name.equals(":status") { upstreamHTTPStatus = Self.httpStatus(value) }
            case .drop:
                drops = true
            case .forward, .statusDetails:
                break
            }
        }
        if !isTrailer && !endStream {
            // A gRPC response is HTTP 200; any other status is the HTTP-to-gRPC table's
            // (doc/http-grpc-status-mapping.md).
            guard upstreamHTTPStatus == 200 else {
                worker.headerPool.give(fields)
                fail(GRPCStatusCode.fromHTTPStatus(upstreamHTTPStatus), "upstream answered HTTP \(upstreamHTTPStatus)")
                return
            }
            let action = machine.upstreamHead()
            if case .forward = action {
                frontend.responseHead(self, fields, filtered: !drops)
            } else {
                act(action, fields: fields)
            }
            return
        }
        var status = upstreamStatus
        var message = upstreamMessage
        if status == nil && upstreamHTTPStatus != 200 {
            status = GRPCStatusCode.fromHTTPStatus(upstreamHTTPStatus)
            message = "upstream answered HTTP \(upstreamHTTPStatus)"
        }
        filteredFields = !drops
        act(machine.upstreamEnd(status: status, message: message, insideMessage: responseFrames.insideMessage,
                                trailersOnly: !isTrailer), fields: fields)
    }

    func attemptData(_ attempt: UpstreamAttempt, _ bytes: UnsafeRawBufferPointer) {
        if responseBytesBeforeGrowth > 0 {
            responseBytesBeforeGrowth -= bytes.count
            if responseBytesBeforeGrowth <= 0 { growResponseWindow(attempt) }
        }
        responseBytes &+= bytes.count
        var messages = responseFrames.feed(bytes)
        responseMessages &+= messages
        while messages > 0 {
            let action = machine.upstreamMessage()
            guard case .forward = action else {
                // A cardinality violation ends the call (or it had ended): nothing more goes out.
                attempt.consumeResponse(bytes.count)
                act(action)
                return
            }
            messages -= 1
        }
        guard !machine.isFinished else {
            attempt.consumeResponse(bytes.count)
            return
        }
        frontend.responseData(self, bytes)
    }

    func attemptEndedWithoutTrailers(_ attempt: UpstreamAttempt) {
        act(machine.upstreamReset(errorCode: 0))
    }

    func attemptReset(_ attempt: UpstreamAttempt, errorCode: UInt32) {
        act(machine.upstreamReset(errorCode: errorCode, canRetry: keepingForRetry))
    }

    func attemptFailed(_ attempt: UpstreamAttempt, status: GRPCStatusCode, message: String) {
        act(machine.upstreamFailed(status, message))
    }

    /// Response bytes after which the upstream stream's window is grown (half the pool's initial
    /// window): a response that fits in it — most unary ones — costs no WINDOW_UPDATE.
    private var responseBytesBeforeGrowth = 32 * 1024

    /// The upstream stream started with the pool's small window: grow it towards
    /// `stream_window` as far as the client's connection budget allows (README "Hardening").
    /// Nothing granted (the connection's or the worker's budget is spent): asked again after
    /// the next half window, when other streams may have given theirs back.
    private func growResponseWindow(_ attempt: UpstreamAttempt) {
        let initial = Int(worker.upstreamInitialWindow)
        let grant = client.grantResponseWindow(snapshot.config.streamWindowBytes - initial)
        guard grant > 0 else {
            responseBytesBeforeGrowth = initial / 2
            return
        }
        responseBytesBeforeGrowth = 0
        attempt.growResponseWindow(to: Int32(clamping: initial + grant))
    }

    private static func httpStatus(_ value: UnsafeRawBufferPointer) -> Int {
        if value.equals("200") { return 200 }
        var n = 0
        for b in value {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return 500 }
            n = n * 10 + Int(b - UInt8(ascii: "0"))
        }
        return n
    }
}

/// What a frontend writes through: one HTTP/1.1 exchange or one HTTP/2 server stream, with its
/// flow control and back-pressure. Loop-thread only.
protocol ClientStream: AnyObject {
    /// The response head: HTTP status and fields (lower-case names). `contentLength` nil: the
    /// body is streamed (chunked on HTTP/1.1). `endStream`: nothing follows (a gRPC
    /// trailers-only response; a bodyless answer).
    func sendHead(status: Int, fields: Metadata, contentLength: Int?, endStream: Bool)
    /// Body bytes, copied before returning.
    func sendBody(_ bytes: UnsafeRawBufferPointer)
    /// The response is complete; `trailers` go out where the protocol carries them (HTTP/2; an
    /// HTTP/1.1 chunked response to a client that sent `TE: trailers`). The stream takes the
    /// block (it goes back to the worker's pool once written); `sendHead` only borrows its fields.
    func sendEnd(trailers: Metadata?)
    /// The call has taken `count` request body bytes: the client may send more (HTTP/2 window,
    /// HTTP/1.1 reading resumed below the low watermark).
    func requestTaken(_ count: Int)
    /// Response bytes accepted by `sendBody` and not yet written to the socket.
    var responseBacklog: Int { get }
    /// Whether the response may end with trailer fields.
    var acceptsTrailers: Bool { get }
    /// The HTTP status of the response head sent (0 before one is).
    var responseStatus: Int { get }
    /// "HTTP/2", "HTTP/1.1", "HTTP/1.0" (the access log).
    var httpVersion: StaticString { get }
    /// The client's address, `host:port` (the access log; made once per connection).
    var peerText: String? { get }
    /// The request's `:path` or HTTP/1.1 target as received (the access log); empty if none.
    func withRequestTarget(_ body: (UnsafeRawBufferPointer) -> Void)
    /// Response window beyond the upstream's initial one, up to `wanted` bytes, that this
    /// client's connection may hold (README "Hardening"); kept by the stream until it closes.
    func grantResponseWindow(_ wanted: Int) -> Int
}

/// Translation between one client wire format and the channel (client bytes → request messages,
/// channel events → client bytes). Every event comes with the call (so the frontend needs no
/// reference of its own). It writes through the call's `client`, and does nothing that
/// belongs to the core: no deadline, metadata rule, status decision, counter or flow-control
/// policy of its own. Loop-thread only.
protocol Frontend: AnyObject {
    /// Which metadata rules apply (native gRPC framing, or a format the gateway translates).
    var profile: MetadataFilter.Profile { get }
    /// The client's wire format, for metrics and the access log.
    var callProtocol: CallProtocol { get }
    /// Request body bytes (a view, valid during the call).
    func requestBody(_ call: Call, _ bytes: UnsafeRawBufferPointer)
    /// The request body is complete.
    func requestEnd(_ call: Call)
    /// The upstream took `count` framed request bytes from the call's queue.
    func requestSent(_ call: Call, _ count: Int)
    /// The upstream's response head (HTTP 200, not trailers-only), whole: the frontend takes the
    /// block (back to the worker's pool when it is done). `filtered`: no field of it is one the
    /// core's table drops for this frontend's profile (`MetadataFilter.response`), so a native
    /// frontend may relay it as it is.
    func responseHead(_ call: Call, _ fields: Metadata, filtered: Bool)
    /// Response DATA bytes; give the upstream window back with `call.consumeResponse`.
    func responseData(_ call: Call, _ bytes: UnsafeRawBufferPointer)
    /// The call's final status is decided: write the end of the response. `fields`: the
    /// upstream's trailers (or trailers-only response) that ended it, when they did (the
    /// frontend takes the block; `call.filteredFields` says whether it may be relayed as is).
    func finish(_ call: Call, _ ending: CallStateMachine.Ending, fields: Metadata?)
    /// The client stream wrote `count` response bytes out.
    func responseWritten(_ call: Call, _ count: Int)
}

/// A frontend whose client sends gRPC frames already (native gRPC, gRPC over HTTP/1.1): request
/// bytes go to the call's queue untouched, and the client's window opens as the upstream takes
/// them (1:1 flow control).
protocol RelaysRequestFrames: Frontend {}

extension RelaysRequestFrames {
    func requestBody(_ call: Call, _ bytes: UnsafeRawBufferPointer) {
        call.sendRequest(bytes)
    }

    func requestEnd(_ call: Call) {
        call.endRequest()
    }

    func requestSent(_ call: Call, _ count: Int) {
        call.client.requestTaken(count)
    }
}

extension Frontend {
    /// Translating frontends leave back-pressure to the call (`Call.responseTaken`).
    func responseWritten(_ call: Call, _ count: Int) {}
}

import Channel
import HTTP2
import Upstream

/// What the calls of every frontend (native gRPC `ProxyCall`, JSON `JSONCall`) share: the upstream
/// half (from `UpstreamStream`), the deadline (its place in the worker's heap, the `grpc-timeout`
/// forwarded), and how the upstream's failures end the call. A subclass says how a call ends
/// (`endCall`) and whether it has (`isEnded`). Loop-thread only.
class GatewayCall: UpstreamStream {
    /// Loop milliseconds at which the call is over; meaningful while `deadlineIndex >= 0`.
    var deadlineMs: UInt64 = 0
    /// The position in `DeadlineQueue`'s heap, -1 when not in it.
    var deadlineIndex = -1
    /// The client's `grpc-timeout`, when it sent one.
    var clientTimeoutNs: UInt64?
    /// About 100 years: far enough to mean "no deadline", small enough never to overflow.
    static let maxDeadlineMs: UInt64 = 100 * 365 * 24 * 3_600_000

    /// Ends the call with `code`: the frontend's way of answering a status it decided.
    func endCall(_ code: GRPCStatusCode, _ message: String) {}

    /// The call's final status is decided (relayed or answered).
    var isEnded: Bool { false }

    /// Sets the deadline from the client's `grpc-timeout`, else the route's timeout, if either.
    final func armDeadline(now: UInt64, routeTimeoutMs: UInt64?, in deadlines: DeadlineQueue) {
        let routeNs = routeTimeoutMs.map { $0.multipliedReportingOverflow(by: 1_000_000).overflow ? .max : $0 * 1_000_000 }
        guard let timeoutNs = clientTimeoutNs ?? routeNs else { return }
        // grpc-timeout allows up to 99999999 hours, which overflows nanoseconds: clamp (past
        // ~100 years is as good as none).
        let ms = min(timeoutNs / 1_000_000 + (timeoutNs % 1_000_000 == 0 ? 0 : 1), Self.maxDeadlineMs)
        deadlineMs = now &+ ms
        deadlines.insert(self)
    }

    /// Forwards the time remaining as `grpc-timeout` (PROTOCOL-HTTP2.md), when there is a deadline.
    final func appendRemainingTimeout(to headers: HTTP2Headers, now: UInt64) {
        guard deadlineMs > 0 else { return }
        let remainingMs = deadlineMs > now ? deadlineMs - now : 1
        headers.append("grpc-timeout", GRPCTimeout.encode(nanoseconds: remainingMs &* 1_000_000))
    }

    /// The deadline passed: DEADLINE_EXCEEDED, and the upstream stream is reset.
    final func deadlineExpired() {
        let budget = clientTimeoutNs.map { "\($0 / 1_000_000)ms" } ?? "route timeout"
        endCall(.deadlineExceeded, "deadline exceeded (\(budget))")
        cancelUpstream()
    }

    // MARK: the upstream's failures

    override final func upstreamRemoteEnded() {
        endCall(.internalError, "upstream ended the response without grpc-status trailers")
    }

    override final func upstreamClosed(errorCode: UInt32) {
        guard !isEnded else { return }
        if errorCode == 0 {
            endCall(.internalError, "upstream closed the stream without trailers")
        } else {
            endCall(GRPCStatusCode.fromHTTP2ErrorCode(errorCode), "upstream reset the stream (HTTP/2 error code \(errorCode))")
        }
    }

    override final func upstreamFailed(status: GRPCStatusCode, message: String) {
        endCall(status, message)
    }
}

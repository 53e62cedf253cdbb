import Upstream

/// What the calls of every frontend (native gRPC `ProxyCall`, JSON `JSONCall`) share: the upstream
/// half (from `UpstreamStream`) and their place in the worker's deadline heap. Loop-thread only.
class GatewayCall: UpstreamStream {
    /// Loop milliseconds at which the call is over; meaningful while `deadlineIndex >= 0`.
    var deadlineMs: UInt64 = 0
    /// The position in `DeadlineQueue`'s heap, -1 when not in it.
    var deadlineIndex = -1
    /// About 100 years: far enough to mean "no deadline", small enough never to overflow.
    static let maxDeadlineMs: UInt64 = 100 * 365 * 24 * 3_600_000

    /// The deadline passed: end the call with DEADLINE_EXCEEDED.
    func deadlineExpired() {}

    /// Loop milliseconds of a deadline `timeoutNs` from `now`, clamped (grpc-timeout allows up to
    /// 99999999 hours, which overflows nanoseconds; past ~100 years is as good as none).
    static func deadline(now: UInt64, timeoutNs: UInt64) -> UInt64 {
        let ms = min(timeoutNs / 1_000_000 + (timeoutNs % 1_000_000 == 0 ? 0 : 1), maxDeadlineMs)
        return now &+ ms
    }
}

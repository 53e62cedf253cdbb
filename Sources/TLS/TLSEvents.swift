/// What one `receive` call produced, in the order it happened: the handshake's completion, then
/// plaintext, then the peer's close_notify or a failure.
public struct TLSEvents {
    /// Set in the call in which the handshake completed.
    public var handshake: TLSHandshake?
    /// The application bytes decrypted in this call, in order; valid until the next `receive` on
    /// a connection sharing the same `TLSPlaintextBuffer`.
    public var plaintext: UnsafeRawBufferPointer
    /// The peer sent close_notify: nothing more will be decrypted.
    public var closed: Bool
    /// The connection failed: send what `produce()` holds (an alert), then close the socket.
    /// Reported once.
    public var error: TLSError?
    /// `produce()` has bytes to send (handshake messages, tickets, alerts, key updates).
    public var hasOutput: Bool

    init() {
        handshake = nil
        plaintext = UnsafeRawBufferPointer(start: nil, count: 0)
        closed = false
        error = nil
        hasOutput = false
    }
}

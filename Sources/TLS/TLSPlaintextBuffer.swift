/// Where a thread's `TLSConnection`s put the plaintext they decrypt: one per loop thread, shared
/// by every connection on it (as the loop's socket read buffer is), so that an idle connection
/// holds none. The plaintext a `receive` returns is valid until the next `receive` of any
/// connection sharing this buffer — in practice, for the duration of the read callback.
/// Not thread-safe: loop-thread only.
public final class TLSPlaintextBuffer {
    let storage: TLSByteBuffer

    /// Holds the plaintext of one socket read: a read of N bytes of ciphertext yields at most N
    /// plus one record (16 KiB) held back from the previous read. Grows if a caller feeds more;
    /// shrinks back after a burst beyond 1 MiB.
    public init(capacity: Int = 96 * 1024) {
        storage = TLSByteBuffer(capacity: capacity)
    }
}

/// A layer between a connection's protocol output and its socket that turns plaintext into
/// what goes on the wire — TLS records (`TLSConnection`, through the `Transport` module). A
/// `WritePump` with a record layer hands it each round of produced output (`write`) and writes
/// what it `produce`s, with the same one-write-in-flight discipline as cleartext.
/// Loop-thread only.
public protocol RecordLayer: AnyObject {
    /// Takes plaintext (it is copied or encrypted before this returns).
    func write(_ plaintext: UnsafeRawBufferPointer)
    /// The bytes to put on the socket now (empty: nothing); valid and unchanged until `outputSent`.
    func produce() -> UnsafeRawBufferPointer
    /// The bytes of the last `produce` are written (or dropped): their buffer may be reused.
    func outputSent()
    /// Bytes held towards the wire and not yet written.
    var bufferedOutputBytes: Int { get }
}

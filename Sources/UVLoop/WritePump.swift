/// The write side every connection shares (HTTP/2 and HTTP/1.1, client and server): output is
/// collected in one buffer while the socket writes the other, and `pump` runs the produce →
/// swap → write loop — as long as writes complete at once it produces more; once one is in
/// flight it stops, and the write's completion (`written`, then `pump` again) carries on.
/// At most one write is in flight, so about ten HTTP/2 frames go out per syscall under load.
/// With a `recordLayer` (TLS), each round's output is handed to the layer and what the layer
/// produces is written instead: all the frames of a round are encrypted together, so small
/// HTTP/2 frames share records. Loop-thread only.
public final class WritePump {
    /// Where the next output is collected (HTTP/1.1 writers append to it directly).
    public private(set) var out: OutputBuffer
    /// What the socket is writing.
    private var writing: OutputBuffer

    /// Set once, before the first write (a TLS connection); nil: cleartext.
    public var recordLayer: RecordLayer?
    /// The record layer's bytes are being written by the socket.
    private var layerLent = false

    public init(capacity: Int = 64 * 1024) {
        out = OutputBuffer(capacity: capacity)
        writing = OutputBuffer(capacity: capacity)
    }

    /// Bytes collected or being written, not yet on the socket.
    public var backlog: Int { out.count + writing.count + (recordLayer?.bufferedOutputBytes ?? 0) }

    public enum Outcome {
        /// Everything produced is on the socket.
        case drained
        /// A write is in flight: the stream's write completion comes next.
        case writing
        /// `produce` failed.
        case failed
    }

    /// Produces into `out` and writes, until nothing more comes or a write is in flight.
    /// `produce` appends to the buffer it is given and returns false on an error.
    public func pump(_ tcp: TCPStream, produce: (OutputBuffer) -> Bool) -> Outcome {
        if tcp.writeInFlight { return .writing }
        if let layer = recordLayer { return pump(tcp, through: layer, produce: produce) }
        while true {
            guard produce(out) else { return .failed }
            guard out.count > 0 else { return .drained }
            swap(&out, &writing)
            // Written at once: produce more; else wait for the completion.
            guard tcp.write(writing.bytes) else { return .writing }
            writing.reset()
        }
    }

    private func pump(_ tcp: TCPStream, through layer: RecordLayer, produce: (OutputBuffer) -> Bool) -> Outcome {
        while true {
            guard produce(out) else { return .failed }
            if out.count > 0 {
                layer.write(out.bytes)
                out.reset()
            }
            let bytes = layer.produce()
            guard bytes.count > 0 else { return .drained }
            // Set before the write: a write that fails at once reports (`written`) from inside it.
            layerLent = true
            guard tcp.write(bytes) else { return .writing }
            layerLent = false
            layer.outputSent()
        }
    }

    /// The write in flight completed (successfully or not).
    public func written() {
        writing.reset()
        if layerLent {
            layerLent = false
            recordLayer?.outputSent()
        }
    }

    /// Drops everything not yet written (the connection is starting over or closing).
    public func discard() {
        out.reset()
        writing.reset()
        if layerLent {
            layerLent = false
            recordLayer?.outputSent()
        }
    }
}

import TLS
import UVLoop

// A TLS connection is the record layer of a `WritePump`: the pump hands it each round of
// plaintext (HTTP/2 frames, HTTP/1.1 responses) and writes the records it produces. The methods
// are TLSConnection's own; this module is where the two modules meet.
extension TLSConnection: RecordLayer {}

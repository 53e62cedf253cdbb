/// The HTTP/1.1 codec (RFC 9112): a strict, incremental, zero-copy request parser and a
/// response writer. Pure: bytes in, events out, no sockets. Filled in by the HTTP/1.1 frontend
/// issue; see README "Status".
public enum HTTP1 {}

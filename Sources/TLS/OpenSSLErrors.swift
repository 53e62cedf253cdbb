import COpenSSL

/// The thread's OpenSSL error queue, read once and emptied. OpenSSL keeps one queue per
/// thread and a connection that leaves an entry there makes another connection's next call on
/// that thread look failed (docs/ARCHITECTURE.md §9): every call into libssl for a connection is preceded
/// by `ERR_clear_error()`, and every failure is read with `drain()`.
struct OpenSSLErrors {
    /// The earliest error (the one that caused the rest), or 0.
    var first: UInt = 0
    /// The reason texts of every queued error, earliest first, joined by ": ".
    var text = ""

    static func drain() -> OpenSSLErrors {
        var errors = OpenSSLErrors()
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if errors.first == 0 { errors.first = code }
            if let reason = ERR_reason_error_string(code) {
                let text = String(cString: reason)
                if parts.last != text { parts.append(text) }
            } else {
                parts.append("error \(ERR_GET_LIB(code)):\(ERR_GET_REASON(code))")
            }
        }
        errors.text = parts.joined(separator: ": ")
        return errors
    }

    var library: Int32 { ERR_GET_LIB(first) }
    var reason: Int32 { ERR_GET_REASON(first) }
}

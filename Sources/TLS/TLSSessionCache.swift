import COpenSSL
import Synchronization

/// Client sessions by peer (server name and address), for resumption on reconnect. Shared by
/// every worker: a lock, taken when a connection starts and when a ticket arrives — once or
/// twice per connection, never per record. Bounded: the oldest entry goes first.
final class TLSSessionCache: Sendable {
    /// An `SSL_SESSION` reference in transit between threads (sessions are immutable once
    /// made and reference-counted atomically by OpenSSL).
    struct Session: @unchecked Sendable {
        let raw: OpaquePointer
    }

    private struct State: ~Copyable {
        var sessions: [String: Session] = [:]
        var order: [String] = []

        deinit { for (_, s) in sessions { SSL_SESSION_free(s.raw) } }
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(0, capacity) }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Takes over one reference to `session`.
    func store(_ session: OpaquePointer, key: String) {
        guard capacity > 0 else { SSL_SESSION_free(session); return }
        let evicted: [Session] = state.withLock { s in
            var out: [Session] = []
            if let old = s.sessions.updateValue(Session(raw: session), forKey: key) {
                out.append(old)
            } else {
                s.order.append(key)
            }
            while s.sessions.count > capacity, !s.order.isEmpty {
                let oldest = s.order.removeFirst()
                if let old = s.sessions.removeValue(forKey: oldest) { out.append(old) }
            }
            return out
        }
        evicted.forEach { SSL_SESSION_free($0.raw) }
    }

    /// A session to resume with `key`, with one reference for the caller. A TLS 1.3 ticket is
    /// taken out (RFC 8446 §C.4: a client should not reuse a ticket; the resumed connection
    /// receives a new one); a TLS 1.2 session stays for the next connection too.
    func take(key: String) -> OpaquePointer? {
        let session: Session? = state.withLock { s in
            guard let session = s.sessions[key] else { return nil }
            if SSL_SESSION_get_protocol_version(session.raw) >= TLS1_3_VERSION {
                s.sessions[key] = nil
                s.order.removeAll { $0 == key }
            } else {
                SSL_SESSION_up_ref(session.raw)
            }
            return session
        }
        return session?.raw
    }
}

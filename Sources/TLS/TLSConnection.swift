import COpenSSL

/// One side of one TLS connection, over buffers: ciphertext in (`receive`), plaintext and events
/// out; plaintext in (`write`), ciphertext out (`produce`). No sockets, never blocks — the
/// caller moves bytes between this and its `TCPStream`, as it does for an `HTTP2Session`.
/// Loop-thread only (not thread-safe; the contexts it starts from are shared).
///
/// The bytes and their copies:
/// - **in**: `receive` hands the caller's buffer (the loop's read buffer) to OpenSSL's record
///   layer through a custom BIO — one copy, into OpenSSL's record buffer, where the record is
///   decrypted in place; then `SSL_read` copies the plaintext out into the thread's
///   `TLSPlaintextBuffer` (OpenSSL has no API that lends its buffer). No memory BIO in between.
/// - **out**: `write` encrypts whole records (16 KiB) straight from the caller's bytes; only a
///   tail shorter than a record is copied, into the coalescing buffer, so that many small writes
///   (HTTP/2 frames) become one record when `produce` flushes. Encryption writes into OpenSSL's
///   record buffer, from which the BIO copies the record into this connection's output buffer;
///   `produce` lends that buffer to the caller for its socket write (`uv_write` from it, no copy),
///   while new output collects in a second one.
///
/// Buffering bounds: input — nothing of the caller's buffer is kept after `receive` returns
/// except inside OpenSSL, which holds at most one partial record (≤ 16 KiB + 256 + 5 bytes).
/// Output — the coalescing buffer holds less than one record once the handshake is done (before
/// it, everything written waits there); the output buffers hold what was written and not yet
/// sent. This type never limits writes itself: the caller stops producing when
/// `bufferedOutputBytes` passes its high watermark, as it does for cleartext.
public final class TLSConnection {
    public enum Role: Sendable { case server, client }

    /// The most plaintext one record carries (RFC 8446 §5.1).
    public static let maxRecordPlaintext = 16384

    let ssl: OpaquePointer
    public let role: Role
    /// The context this connection started with: kept alive as long as the connection, whatever
    /// a reload does (the SNI callback and session cache use it).
    let serverContext: TLSServerContext?
    public let clientContext: TLSClientContext?
    private let plaintext: TLSByteBuffer

    // The ciphertext being received: read by the BIO during `receive` only.
    private var input: UnsafeRawPointer?
    private var inputCount = 0
    private var inputOffset = 0

    /// Output: records collect here (BIO writes); `produce` lends it as `lent` and collects in the other.
    private var collecting = TLSByteBuffer()
    private var lent = TLSByteBuffer()
    private var isLent = false
    /// Plaintext written but not yet in a record: less than one record after the handshake.
    private let coalescing = TLSByteBuffer()

    private var started = false
    private var dispatching = false
    public private(set) var handshake: TLSHandshake? {
        didSet { isEstablished = handshake != nil }
    }
    /// The failure, once there is one (also reported once in `TLSEvents.error`).
    public internal(set) var error: TLSError? {
        didSet { hasFailed = error != nil }
    }
    // The per-record paths test these flags, not the optionals above: comparing an Optional of a
    // struct with strings to nil copies it (retains, releases), ~8k instructions per round trip.
    private(set) var isEstablished = false
    private(set) var hasFailed = false
    private var errorReported = false
    /// The peer sent close_notify.
    public private(set) var receivedCloseNotify = false
    /// `close()` was called: nothing more is written.
    public private(set) var isClosing = false
    /// close_notify is queued: no record may follow it.
    private var isClosingSent = false

    // Filled by callbacks during a handshake, for the report and for messages.
    var verifyFailure: VerifyFailure?
    var requestedServerName: String?
    var offeredALPN: [String]?
    /// Client: the name checked against the server's certificate (DNS name or IP address).
    let expectedName: String?
    let sessionKey: String?

    /// A listener's side of a connection just accepted. The first bytes the client sends go
    /// to `receive`.
    public init(server context: TLSServerContext, plaintextBuffer: TLSPlaintextBuffer) {
        ssl = SSL_new(context.contexts[0])!
        role = .server
        serverContext = context
        clientContext = nil
        plaintext = plaintextBuffer.storage
        expectedName = nil
        sessionKey = nil
        attach()
        SSL_set_accept_state(ssl)
    }

    /// The client side of a connection to an upstream.
    /// - Parameters:
    ///   - serverName: sent as SNI when it is a DNS name (RFC 6066 forbids IP addresses there)
    ///     and checked against the server's certificate (a DNS name or an IP address SAN); nil:
    ///     no SNI, and only the chain is verified.
    ///   - sessionKey: where this peer's session is cached for resumption (e.g. `name|host:port`);
    ///     nil: no resumption.
    public init(client context: TLSClientContext, serverName: String?, sessionKey: String? = nil,
                plaintextBuffer: TLSPlaintextBuffer) {
        ssl = SSL_new(context.ctx)!
        role = .client
        serverContext = nil
        clientContext = context
        plaintext = plaintextBuffer.storage
        expectedName = serverName
        self.sessionKey = sessionKey
        attach()
        SSL_set_connect_state(ssl)
        if let serverName {
            let isIP = Self.isIPAddress(serverName)
            if !isIP { _ = trestle_SSL_set_tlsext_host_name(ssl, serverName) }
            if context.verifiesServer {
                if isIP {
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                } else {
                    SSL_set1_host(ssl, serverName)
                    SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                }
            }
        }
        if !context.alpnWire.isEmpty {
            _ = context.alpnWire.withUnsafeBufferPointer { SSL_set_alpn_protos(ssl, $0.baseAddress, UInt32($0.count)) }
        }
        if let sessionKey, let session = context.sessions.take(key: sessionKey) {
            SSL_set_session(ssl, session)
            SSL_SESSION_free(session)  // SSL_set_session took its own reference
        }
        ERR_clear_error()
    }

    private func attach() {
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        let bio = BIO_new(TLSTransportBIO.method.raw)!
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_bio(ssl, bio, bio)  // one BIO both ways: SSL takes the one reference
    }

    deinit {
        // A connection dropped without close_notify (the socket reset, an idle close) would make
        // SSL_free mark its session not resumable — the very session the client cache holds for
        // the next connection. Only a TLS failure should do that (OpenSSL does, when it sends or
        // receives a fatal alert); otherwise the end counts as clean.
        if error == nil { SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN) }
        // Frees the BIO too. The context (a stored property) is released after this.
        SSL_free(ssl)
    }

    // MARK: the caller's side

    /// Feeds ciphertext read from the socket (valid only during the call: nothing of it is kept).
    /// Returns what happened, in order. After close_notify or a failure (reported once, also when
    /// it happened in `write` or `produce`; `error` holds it meanwhile), returns nothing more.
    public func receive(_ ciphertext: UnsafeRawBufferPointer) -> TLSEvents {
        precondition(!dispatching, "re-entrant receive")
        dispatching = true
        defer { dispatching = false }
        var events = TLSEvents()
        // The previous plaintext is dead now: a buffer a burst made large is given back.
        if plaintext.capacity > 1 << 20 { plaintext.reset(keep: 0) } else { plaintext.count = 0 }
        if hasFailed {
            // A failure in `write` or `produce` is reported here, once.
            if !errorReported {
                errorReported = true
                events.error = error
                events.hasOutput = collecting.count > 0
            }
            return events
        }
        guard !receivedCloseNotify else { return events }
        input = ciphertext.baseAddress
        inputCount = ciphertext.count
        inputOffset = 0
        defer { input = nil; inputCount = 0; inputOffset = 0 }
        started = true

        clearErrors()
        if !isEstablished {
            let rc = SSL_do_handshake(ssl)
            if rc == 1 {
                completeHandshake()
                events.handshake = handshake
            } else {
                let code = SSL_get_error(ssl, rc)
                if code != SSL_ERROR_WANT_READ { fail(code) }
            }
        }
        if isEstablished, !hasFailed { readRecords() }

        events.plaintext = plaintext.bytes
        events.closed = receivedCloseNotify
        if hasFailed {
            errorReported = true
            events.error = error
        }
        events.hasOutput = collecting.count > 0
        return events
    }

    /// Queues plaintext. Full records are encrypted at once, straight from `plaintext`; a shorter
    /// tail waits (copied) to be coalesced with the next writes, until `produce`. Before the
    /// handshake completes everything waits. After `close()` or a failure, dropped.
    public func write(_ plaintext: UnsafeRawBufferPointer) {
        guard plaintext.count > 0, !hasFailed, !isClosing, let base = plaintext.baseAddress else { return }
        guard isEstablished else {
            coalescing.append(base, plaintext.count)
            return
        }
        let record = Self.maxRecordPlaintext
        var offset = 0
        if coalescing.count > 0 {
            let room = record - coalescing.count
            if plaintext.count < room {
                coalescing.append(base, plaintext.count)
                return
            }
            coalescing.append(base, room)
            encrypt(coalescing.bytes)
            coalescing.count = 0
            offset = room
        }
        let whole = (plaintext.count - offset) / record * record
        if whole > 0 {
            encrypt(UnsafeRawBufferPointer(start: base + offset, count: whole))
            offset += whole
        }
        if offset < plaintext.count { coalescing.append(base + offset, plaintext.count - offset) }
    }

    /// Flushes what `write` coalesced into a record and returns every ciphertext byte not yet
    /// given out (empty: nothing to send). A client's first call starts the handshake
    /// (ClientHello). The bytes stay valid and unchanged until `outputSent()`, so the socket can
    /// write from them; call `produce` again only after that.
    public func produce() -> UnsafeRawBufferPointer {
        precondition(!isLent, "produce() again before outputSent()")
        precondition(!dispatching, "produce() inside receive()")
        if role == .client, !started, !hasFailed {
            started = true
            clearErrors()
            let rc = SSL_do_handshake(ssl)
            let code = SSL_get_error(ssl, rc)
            if code != SSL_ERROR_WANT_READ { fail(code) }
        }
        if isEstablished, coalescing.count > 0, !hasFailed, !isClosingSent {
            encrypt(coalescing.bytes)
            coalescing.count = 0
        }
        guard collecting.count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        swap(&collecting, &lent)
        isLent = true
        return lent.bytes
    }

    /// The bytes of the last `produce` are written (or the socket is gone): their buffer is reused.
    public func outputSent() {
        guard isLent else { return }
        isLent = false
        lent.reset(keep: 64 * 1024)
    }

    /// Queues close_notify after what was written (RFC 8446 §6.1); `produce` returns it. The
    /// peer's close_notify is not awaited. Nothing is written after. Idempotent.
    public func close() {
        guard !isClosing else { return }
        isClosing = true
        guard isEstablished, !hasFailed else { return }
        if coalescing.count > 0 {
            encrypt(coalescing.bytes)
            coalescing.count = 0
        }
        clearErrors()
        SSL_shutdown(ssl)
        isClosingSent = true
        clearErrors()
    }

    /// Ciphertext and plaintext held for output: produced and not yet sent, plus what waits to
    /// be coalesced. The caller's high watermark applies to this.
    public var bufferedOutputBytes: Int { collecting.count + (isLent ? lent.count : 0) + coalescing.count }

    /// Gives back the memory of every buffer that is empty: this connection's output buffers and
    /// OpenSSL's record buffers (`SSL_free_buffers`, which keeps a buffer that still holds part of
    /// a record) — an idle connection then keeps only OpenSSL's state, ~16 KB instead of ~50 KB.
    /// The next record allocates them again. For an idle sweep (the gateway's runs every 10 s);
    /// cheap to call. Not inside `receive`.
    public func releaseIdleBuffers() {
        precondition(!dispatching, "releaseIdleBuffers() inside receive()")
        if collecting.count == 0 { collecting.reset(keep: 0) }
        if !isLent { lent.reset(keep: 0) }
        if coalescing.count == 0 { coalescing.reset(keep: 0) }
        _ = SSL_free_buffers(ssl)
    }

    // MARK: records

    private func readRecords() {
        while true {
            plaintext.reserve(free: Self.maxRecordPlaintext)
            // No clearErrors() here: `receive` cleared the queue, and a libssl call that succeeds
            // leaves it as it found it (each peek is ~250 instructions: thread-local state).
            var n = 0
            if SSL_read_ex(ssl, plaintext.end, plaintext.free, &n) == 1 {
                plaintext.count += n
                continue
            }
            let code = SSL_get_error(ssl, 0)
            switch code {
            case SSL_ERROR_WANT_READ:
                return
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                return
            default:
                fail(code)
                return
            }
        }
    }

    private func encrypt(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, !hasFailed else { return }
        clearErrors()
        var written = 0
        // Never partial: without SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write takes all (in records of
        // 16 KiB) or fails, and this BIO never pushes back.
        if SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &written) != 1 {
            fail(SSL_get_error(ssl, 0))
        }
    }

    private func completeHandshake() {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        let alpn = data.flatMap { length > 0 ? TLSApplicationProtocol(String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self)) : nil }
        let peer = SSL_get0_peer_certificate(ssl).map { TLSPeerCertificate(X509Certificate(borrowing: $0)) }
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? ""
        handshake = TLSHandshake(
            alpn: alpn,
            version: String(cString: SSL_get_version(ssl)),
            cipher: cipher,
            serverName: role == .server ? requestedServerName : expectedName.flatMap { Self.isIPAddress($0) ? nil : $0 },
            resumed: SSL_session_reused(ssl) == 1,
            peerCertificate: peer)
        if role == .client, let context = clientContext, !context.alpn.isEmpty,
            alpn.map({ !context.alpn.contains($0) }) ?? true
        {
            let wanted = context.alpn.map(\.name).joined(separator: ", ")
            error = TLSError(.noSharedALPN, alpn.map { "the server selected ALPN \"\($0.name)\"; required: \(wanted)" }
                ?? "the server selected no ALPN protocol; required: \(wanted)")
            clearErrors()
            SSL_shutdown(ssl)  // close_notify: the handshake itself succeeded
            clearErrors()
            return
        }
        // What was written before the handshake (a client's HTTP/2 preface) follows now.
        if coalescing.count > 0 {
            let pending = coalescing.count
            coalescing.count = 0
            let bytes = UnsafeRawBufferPointer(start: coalescing.base, count: pending)
            // Whole records straight away; the tail stays for `produce` (it may grow).
            let whole = pending / Self.maxRecordPlaintext * Self.maxRecordPlaintext
            if whole > 0 { encrypt(UnsafeRawBufferPointer(rebasing: bytes[0 ..< whole])) }
            if whole < pending {
                let tail = pending - whole
                coalescing.base!.copyMemory(from: coalescing.base! + whole, byteCount: tail)
                coalescing.count = tail
            }
        }
    }

    // MARK: the BIO's side (called by OpenSSL, through TLSTransportBIO)

    /// Up to `capacity` bytes of the ciphertext being received; 0 when it is used up.
    @inline(__always)
    func transportRead(_ into: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        let n = min(capacity, inputCount - inputOffset)
        guard n > 0, let input else { return 0 }
        UnsafeMutableRawPointer(into).copyMemory(from: input + inputOffset, byteCount: n)
        inputOffset += n
        return n
    }

    @inline(__always)
    func transportWrite(_ bytes: UnsafePointer<CChar>, _ count: Int) {
        collecting.append(bytes, count)
    }

    // MARK: helpers

    /// Empties the thread's OpenSSL error queue before a libssl call (docs/ARCHITECTURE.md §9: an entry left
    /// by another connection makes `SSL_get_error` report a failure), once per entry point that
    /// calls libssl; every failure drains it (`fail`). `ERR_clear_error` alone walks all 16 slots
    /// (~600 instructions); a peek first is cheaper.
    @inline(__always)
    private func clearErrors() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    static func isIPAddress(_ name: String) -> Bool {
        name.contains(":") || (!name.isEmpty && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 46 })
    }
}

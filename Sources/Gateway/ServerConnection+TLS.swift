import Channel
import TLS
import UVLoop

/// The TLS side of a client connection on a TLS listener: ciphertext from the socket goes to
/// `tls.receive`; the handshake's ALPN chooses the protocol (`h2`: HTTP/2, the client preface
/// must follow; `http/1.1`: HTTP/1.1; none: sniffed as on a cleartext port); plaintext goes on to
/// `plaintextRead`. Output needs nothing here: the write pump has `tls` as its record layer.
///
/// A handshake that fails is counted (`trestle_tls_handshake_failures_total{reason=…}`) and
/// logged with the peer and the reason; the alert OpenSSL wrote is sent and the connection
/// closed. A handshake that does not complete within `preface_timeout` ends the same way.
extension ServerConnection {
    func tlsRead(_ tls: TLSConnection, _ bytes: UnsafeRawBufferPointer) {
        tlsReadSinceSweep = true
        let events = tls.receive(bytes)
        if let handshake = events.handshake { tlsHandshakeCompleted(handshake) }
        if events.plaintext.count > 0 { plaintextRead(events.plaintext) }
        guard mode != .closed else { return }
        if let error = events.error {
            tlsFailed(error, duringHandshake: events.handshake == nil && tls.handshake == nil)
            return
        }
        if events.closed {
            // close_notify: the client is done sending, as at EOF.
            close()
            return
        }
        if events.hasOutput { scheduleFlush() }
    }

    private func tlsHandshakeCompleted(_ handshake: TLSHandshake) {
        worker.counters.add(worker.counters.tlsHandshakes)
        if forwardsClientCertificate, let certificate = handshake.peerCertificate {
            forwardedClientCertificate = certificate.xForwardedClientCert
        }
        switch handshake.alpn {
        case .h2?:
            requiresHTTP2 = true  // sniffing now accepts only the client preface
        case .http11?:
            if mode == .sniffing { mode = .http1 }
        default:
            break  // no ALPN: sniffed as on a cleartext port
        }
    }

    /// Ends the connection after a TLS failure: counted, logged, the alert sent, then closed.
    private func tlsFailed(_ error: TLSError, duringHandshake: Bool) {
        let index = TLSError.Reason.allCases.firstIndex(of: error.reason) ?? 0
        if duringHandshake { worker.counters.add(worker.counters.tlsHandshakeFailures[index]) }
        let peer = tcp.peerAddress.map { "\($0)" } ?? "?"
        worker.log("TLS \(duringHandshake ? "handshake failed" : "error") with client \(peer): \(error.message) (\(error.reason.rawValue))")
        closeAfterFlush()
    }

    func tlsHandshakeTimedOut(after timeout: UInt64) {
        worker.counters.add(worker.counters.tlsHandshakeFailures[Self.tlsTimeoutIndex])
        let peer = tcp.peerAddress.map { "\($0)" } ?? "?"
        worker.log("TLS handshake failed with client \(peer): not complete within \(timeout)ms (timeout)")
        close()
    }

    /// The worker's idle sweep (every `Worker.tlsIdleSweepMs`): a connection that read nothing
    /// since the previous sweep and has nothing left to write gives back its TLS buffers and
    /// OpenSSL's (`TLSConnection.releaseIdleBuffers`), so that idle connections stay small while
    /// busy ones keep theirs and pay no malloc per record (README "TLS", "Cost").
    func tlsIdleSweep() {
        guard let tls, mode != .closed else { return }
        if tlsReadSinceSweep {
            tlsReadSinceSweep = false
            return
        }
        guard outputBacklog == 0, !tcp.writeInFlight else { return }
        tls.releaseIdleBuffers()
    }

    /// Closing: close_notify (RFC 8446 §6.1) after what is written, one try on the socket, never
    /// waited for — a client can then tell a complete response from a cut connection.
    func tlsSendCloseNotify(_ tls: TLSConnection) {
        guard !tcp.writeInFlight, !tcp.isClosed else { return }
        tls.close()
        let bytes = tls.produce()
        if bytes.count > 0 { tcp.write(bytes) }
    }

    /// Nothing more is read; what is queued (an alert) is written, then the connection closes.
    private func closeAfterFlush() {
        stopPrefaceTimer()
        tcp.stopReading()
        mode = .rejecting
        scheduleFlush()
    }

    /// The failure counters' index for a handshake that timed out (after the `TLSError` reasons).
    static var tlsTimeoutIndex: Int { TLSError.Reason.allCases.count }

    /// The names of `CallCounters.tlsHandshakeFailures`' slots, for /metrics.
    static let tlsFailureReasons: [String] = TLSError.Reason.allCases.map(\.rawValue) + ["timeout"]
}

import COpenSSL

/// The callbacks' side of a connection, and how a failure becomes a `TLSError` with a message a
/// user can act on.
extension TLSConnection {
    /// The first certificate the verification refused, as the verify callback saw it.
    struct VerifyFailure {
        var code: Int32
        var depth: Int32
        var certificate: X509Certificate?
    }

    /// From the verify callback: remembers the first failure; returns OpenSSL's verdict
    /// (0: refuse), or 1 when this client was told not to verify.
    func verificationFailed(_ store: OpaquePointer) -> Int32 {
        if verifyFailure == nil {
            verifyFailure = VerifyFailure(
                code: X509_STORE_CTX_get_error(store), depth: X509_STORE_CTX_get_error_depth(store),
                certificate: X509_STORE_CTX_get_current_cert(store).map { X509Certificate(borrowing: $0) })
        }
        if let clientContext, !clientContext.verifiesServer { return 1 }
        return 0
    }

    /// Server: the first protocol of the listener's preference that the client offers, as
    /// (offset of the name in `offered`, its length). Remembers the offer for the message when
    /// nothing matches.
    func selectALPN(offered: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        guard let preference = serverContext?.alpnPreference else { return nil }
        var ours = 0
        while ours < preference.count {
            let ourLength = Int(preference[ours])
            var theirs = 0
            while theirs < offered.count {
                let length = Int(offered[theirs])
                if length == ourLength, theirs + 1 + length <= offered.count,
                    preference[(ours + 1) ..< (ours + 1 + length)].elementsEqual(offered[(theirs + 1) ..< (theirs + 1 + length)])
                {
                    return (theirs + 1, length)
                }
                theirs += 1 + length
            }
            ours += 1 + ourLength
        }
        var names: [String] = []
        var i = 0
        while i < offered.count {
            let length = Int(offered[i])
            if i + 1 + length <= offered.count {
                names.append(String(decoding: offered[(i + 1) ..< (i + 1 + length)], as: UTF8.self))
            }
            i += 1 + length
        }
        offeredALPN = names
        return nil
    }

    /// Server: the ClientHello's SNI; switches to the certificate for that name.
    func serverNameReceived() {
        guard let context = serverContext, let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return }
        let text = String(cString: name)
        requestedServerName = text
        if let index = context.contextIndex(serverName: text), index != 0 {
            SSL_set_SSL_CTX(ssl, context.contexts[index])
        }
    }

    /// Client: a session (a TLS 1.3 ticket, or a TLS 1.2 session at the handshake's end) to
    /// resume with next time. True when the cache took OpenSSL's reference.
    func sessionReceived(_ session: OpaquePointer) -> Bool {
        guard let sessionKey, let context = clientContext, SSL_SESSION_is_resumable(session) == 1 else { return false }
        context.sessions.store(session, key: sessionKey)
        return true
    }

    // MARK: classifying a failure

    /// Records the failure of the last libssl call (`code` from `SSL_get_error`), once.
    func fail(_ code: Int32) {
        let errors = OpenSSLErrors.drain()
        guard error == nil else { return }
        error = classify(code, errors)
    }

    private var peerRole: String { role == .client ? "server" : "client" }

    private func classify(_ code: Int32, _ errors: OpenSSLErrors) -> TLSError {
        if code != SSL_ERROR_SSL {
            return TLSError(.protocolError, "TLS failed: \(errors.text.isEmpty ? "error \(code)" : errors.text)")
        }
        let reason = errors.library == ERR_LIB_SSL ? errors.reason : 0
        if reason == SSL_R_CERTIFICATE_VERIFY_FAILED || (verifyFailure != nil && errors.first == 0) {
            return verificationError()
        }
        if reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256 {
            return alertError(UInt8(reason - SSL_AD_REASON_OFFSET))
        }
        switch reason {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return TLSError(.certificateRequired, "the client sent no certificate; this listener requires one")
        case SSL_R_NO_APPLICATION_PROTOCOL:
            let ours = serverContext.map { Self.names($0.alpnPreference).joined(separator: ", ") } ?? ""
            let theirs = offeredALPN?.map { "\"\($0)\"" }.joined(separator: ", ") ?? "nothing"
            return TLSError(.noSharedALPN, "no shared ALPN protocol: the client offers \(theirs), this listener speaks \(ours)")
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST:
            return TLSError(.notTLS, "the \(peerRole) sent plaintext HTTP to a TLS port")
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNKNOWN_PROTOCOL, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH:
            if handshake == nil {
                return TLSError(.notTLS, "the \(peerRole) does not speak TLS (\(errors.text))")
            }
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_UNSUPPORTED_SSL_VERSION, SSL_R_VERSION_TOO_LOW, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return TLSError(.noSharedParameters, "no TLS version in common with the \(peerRole) (TLS 1.2 and 1.3 only): \(errors.text)")
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SUITABLE_KEY_SHARE, SSL_R_NO_SHARED_GROUPS:
            return TLSError(.noSharedParameters, "no cipher suite or group in common with the \(peerRole): \(errors.text)")
        default:
            break
        }
        return TLSError(.protocolError, "TLS protocol error: \(errors.text.isEmpty ? "unknown" : errors.text)")
    }

    /// This side refused the peer's certificate.
    private func verificationError() -> TLSError {
        let code = verifyFailure?.code ?? Int32(SSL_get_verify_result(ssl))
        let certificate = verifyFailure?.certificate
        let depth = verifyFailure?.depth ?? 0
        let which = depth == 0 ? "the \(peerRole)'s certificate" : "certificate \(depth) of the \(peerRole)'s chain"
        let subject = certificate.map { " \"\($0.subject)\"" } ?? ""
        let text = String(cString: X509_verify_cert_error_string(Int(code)))
        switch code {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            let issuer = certificate.map { ", issued by \"\($0.issuer)\"" } ?? ""
            return TLSError(.unknownCA, "certificate verify failed: unknown CA: \(which)\(subject)\(issuer) does not lead to a trusted CA (\(text))")
        case X509_V_ERR_CERT_HAS_EXPIRED:
            let date = certificate.map { " on \(X509Certificate.dateText($0.notAfter))" } ?? ""
            return TLSError(.expired, "certificate verify failed: expired: \(which)\(subject) expired\(date)")
        case X509_V_ERR_CERT_NOT_YET_VALID:
            let date = certificate.map { " before \(X509Certificate.dateText($0.notBefore))" } ?? ""
            return TLSError(.notYetValid, "certificate verify failed: not yet valid: \(which)\(subject) is not valid\(date)")
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            var names = ""
            if let certificate {
                let alt = certificate.alternativeNames
                let all = alt.dns + alt.ip
                names = all.isEmpty ? " (it names no host)" : " (it is for \(all.joined(separator: ", ")))"
            }
            return TLSError(.nameMismatch, "certificate verify failed: name mismatch: \(which)\(subject) is not valid for \"\(expectedName ?? "")\"\(names)")
        default:
            return TLSError(.badCertificate, "certificate verify failed: \(which)\(subject): \(text)")
        }
    }

    /// The peer ended the handshake with a fatal alert (RFC 8446 §6.2): usually it refused this
    /// side's certificate or offer.
    private func alertError(_ alert: UInt8) -> TLSError {
        let text = String(cString: SSL_alert_desc_string_long(Int32(alert)))
        let peer = "the \(peerRole)"
        switch alert {
        case 48: return TLSError(.unknownCA, fromPeer: true, "\(peer) refused this side's certificate: unknown CA (alert \(alert))")
        case 45: return TLSError(.expired, fromPeer: true, "\(peer) refused this side's certificate: expired (alert \(alert))")
        case 42, 43, 44, 46: return TLSError(.badCertificate, fromPeer: true, "\(peer) refused this side's certificate: \(text) (alert \(alert))")
        case 116: return TLSError(.certificateRequired, fromPeer: true, "\(peer) requires a client certificate (alert \(alert))")
        case 120: return TLSError(.noSharedALPN, fromPeer: true, "\(peer) supports none of the offered ALPN protocols (alert \(alert))")
        case 40, 70, 71: return TLSError(.noSharedParameters, fromPeer: true, "\(peer) found no acceptable version, cipher or group: \(text) (alert \(alert))")
        default: return TLSError(.protocolError, fromPeer: true, "\(peer) aborted: \(text) (alert \(alert))")
        }
    }

    static func names(_ wire: [UInt8]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < wire.count {
            let n = Int(wire[i])
            out.append(String(decoding: wire[(i + 1) ..< min(wire.count, i + 1 + n)], as: UTF8.self))
            i += 1 + n
        }
        return out
    }
}

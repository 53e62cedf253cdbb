import COpenSSL

/// OpenSSL's callbacks, each a thin trampoline to one method of the `TLSConnection` that owns the
/// `SSL` (its ex_data slot 0, set right after `SSL_new`, unretained: the connection owns the
/// `SSL` and frees it in its deinit). They run on the connection's loop thread, inside
/// `SSL_do_handshake` / `SSL_read` / `SSL_write`; none of them calls back into libssl.
enum TLSCallbacks {
    @inline(__always)
    static func connection(_ ssl: OpaquePointer?) -> TLSConnection? {
        guard let ssl, let data = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSConnection>.fromOpaque(data).takeUnretainedValue()
    }

    /// Certificate verification: records the first failure (error, depth, the certificate) for
    /// the message, and keeps OpenSSL's verdict.
    static let verify: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverifyOK, store in
        guard preverifyOK != 1, let store,
            let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
            let connection = connection(OpaquePointer(ssl))
        else { return preverifyOK }
        return connection.verificationFailed(store)
    }

    /// Server ALPN (RFC 7301 §3.2): the first of our protocols that the client offers. None in
    /// common: a fatal no_application_protocol alert. (A client that offers no ALPN at all
    /// never gets here: it is served without, and the listener sniffs.)
    static let selectALPN: @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { ssl, out, outLength, offered, offeredLength, _ in
        guard let connection = connection(ssl), let out, let outLength, let offered else {
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        let client = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
        if let (start, length) = connection.selectALPN(offered: client) {
            out.pointee = offered + start  // into the client's list: OpenSSL copies it after
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }

    /// Server SNI: switch to the context of the certificate for the name asked.
    static let serverName: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = { ssl, _, _ in
        connection(ssl)?.serverNameReceived()
        return SSL_TLSEXT_ERR_OK
    }

    /// Client: a new session to resume with later. Returns 1 when the cache took the reference.
    static let newSession: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
        guard let session, let connection = connection(ssl) else { return 0 }
        return connection.sessionReceived(session) ? 1 : 0
    }
}

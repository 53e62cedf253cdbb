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

/// The BIO between OpenSSL's record layer and a `TLSConnection`'s buffers: reads come straight
/// from the ciphertext the caller passes to `receive` (no copy into a memory BIO first), writes
/// go straight into the connection's output buffer (from which the socket writes, no copy out
/// of a memory BIO after). It never blocks and never fails: a read with nothing left asks for a
/// retry (`SSL_ERROR_WANT_READ`), a write always takes everything (the caller bounds output).
enum TLSTransportBIO {
    final class Method: @unchecked Sendable {
        let raw: OpaquePointer
        init() {
            raw = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "trestle")!
            BIO_meth_set_write(raw) { bio, data, length in
                guard let bio, let data, length > 0, let owner = BIO_get_data(bio) else { return 0 }
                trestle_BIO_clear_retry_flags(bio)
                Unmanaged<TLSConnection>.fromOpaque(owner)._withUnsafeGuaranteedRef { $0.transportWrite(data, Int(length)) }
                return length
            }
            BIO_meth_set_read(raw) { bio, data, length in
                guard let bio, let data, length > 0, let owner = BIO_get_data(bio) else { return 0 }
                trestle_BIO_clear_retry_flags(bio)
                let n = Unmanaged<TLSConnection>.fromOpaque(owner)._withUnsafeGuaranteedRef { $0.transportRead(data, Int(length)) }
                if n == 0 {
                    trestle_BIO_set_retry_read(bio)
                    return -1
                }
                return Int32(n)
            }
            BIO_meth_set_ctrl(raw) { _, command, _, _ in
                switch command {
                case BIO_CTRL_FLUSH, BIO_CTRL_DUP: 1  // writes are complete when made
                default: 0  // no pending counts, no kTLS, no EOF: everything else is "unsupported"
                }
            }
            BIO_meth_set_create(raw) { bio in
                BIO_set_init(bio, 1)
                return 1
            }
            BIO_meth_set_destroy(raw) { bio in
                BIO_set_data(bio, nil)
                return 1
            }
        }
    }

    /// Built once per process.
    static let method = Method()
}

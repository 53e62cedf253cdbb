import COpenSSL

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

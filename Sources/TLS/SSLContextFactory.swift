import COpenSSL

/// One `SSL_CTX` with the settings both sides share.
enum SSLContextFactory {
    static func make(server: Bool, options: TLSOptions) -> OpaquePointer? {
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else { return nil }
        var ok = trestle_SSL_CTX_set_min_proto_version(ctx, options.minimumVersion.raw) == 1
        ok = ok && trestle_SSL_CTX_set_max_proto_version(ctx, options.maximumVersion.raw) == 1
        // Renegotiation is TLS 1.2's way to hang or attack a server; HTTP/2 forbids it anyway
        // (RFC 9113 §9.2.1).
        SSL_CTX_set_options(ctx, trestle_SSL_OP_NO_RENEGOTIATION | trestle_SSL_OP_NO_COMPRESSION)
        ok = ok && SSL_CTX_set_cipher_list(ctx, options.cipherList) == 1
        ok = ok && SSL_CTX_set_ciphersuites(ctx, options.cipherSuites) == 1
        ok = ok && trestle_SSL_CTX_set1_groups_list(ctx, options.groups) == 1
        // The record layer's output may move between calls (ours is a growable buffer), and
        // empty buffers are given back when asked.
        var mode = Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        if options.releaseBuffers { mode |= Int(SSL_MODE_RELEASE_BUFFERS) }
        trestle_SSL_CTX_set_mode(ctx, mode)
        if options.readAhead { SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, nil) }
        guard ok else {
            SSL_CTX_free(ctx)
            return nil
        }
        return ctx
    }
}

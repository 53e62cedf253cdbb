import COpenSSL

/// One private key (owns one `EVP_PKEY` reference).
final class PrivateKey: @unchecked Sendable {
    let raw: OpaquePointer
    init(owning raw: OpaquePointer) { self.raw = raw }
    deinit { EVP_PKEY_free(raw) }

    func matches(_ certificate: X509Certificate) -> Bool {
        ERR_clear_error()
        let ok = X509_check_private_key(certificate.raw, raw) == 1
        ERR_clear_error()
        return ok
    }

    /// `EC P-256`, `RSA 2048`, `Ed25519`.
    var description: String {
        let bits = EVP_PKEY_get_bits(raw)
        if EVP_PKEY_is_a(raw, "EC") == 1 {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            if EVP_PKEY_get_group_name(raw, &name, 64, &length) == 1 {
                let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return "EC " + (group == "prime256v1" ? "P-256" : group == "secp384r1" ? "P-384" : group)
            }
            return "EC \(bits)"
        }
        if EVP_PKEY_is_a(raw, "RSA") == 1 { return "RSA \(bits)" }
        if let name = EVP_PKEY_get0_type_name(raw) { return String(cString: name) }
        return "key"
    }
}

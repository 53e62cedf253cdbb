#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL

/// One X.509 certificate (owns one reference to an `X509`), with the readings the contexts,
/// the file checks and the handshake report need. Immutable; safe to share between threads.
final class X509Certificate: @unchecked Sendable {
    let raw: OpaquePointer

    /// Takes over one reference.
    init(owning raw: OpaquePointer) { self.raw = raw }

    /// Adds a reference to a certificate OpenSSL owns (`SSL_get0_peer_certificate`).
    init(borrowing raw: OpaquePointer) {
        X509_up_ref(raw)
        self.raw = raw
    }

    deinit { X509_free(raw) }

    /// The subject in RFC 2253 form (`CN=localhost,O=Trestle`), as Envoy's x-forwarded-client-cert has it.
    var subject: String { Self.nameText(X509_get_subject_name(raw)) }
    var issuer: String { Self.nameText(X509_get_issuer_name(raw)) }

    static func nameText(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, name, 0, trestle_XN_FLAG_RFC2253)
        var data: UnsafeMutablePointer<CChar>?
        let count = trestle_BIO_get_mem_data(bio, &data)
        guard let data, count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
    }

    /// The subject's common name, when it has one.
    var commonName: String? {
        guard let name = X509_get_subject_name(raw) else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        return Self.text(UnsafePointer(data))
    }

    struct AlternativeNames: Sendable, Equatable {
        var dns: [String] = []
        var ip: [String] = []
        var uri: [String] = []
        var email: [String] = []
    }

    /// The subjectAltName extension's names.
    var alternativeNames: AlternativeNames {
        var names = AlternativeNames()
        guard let ext = X509_get_ext_d2i(raw, NID_subject_alt_name, nil, nil) else { return names }
        let list = OpaquePointer(ext)
        defer { trestle_GENERAL_NAMES_free_all(list) }
        for i in 0 ..< trestle_sk_GENERAL_NAME_num(list) {
            guard let name = trestle_sk_GENERAL_NAME_value(list, i),
                let value = trestle_GENERAL_NAME_string(name)
            else { continue }
            switch trestle_GENERAL_NAME_type(name) {
            case GEN_DNS: names.dns.append(Self.text(value))
            case GEN_URI: names.uri.append(Self.text(value))
            case GEN_EMAIL: names.email.append(Self.text(value))
            case GEN_IPADD: if let ip = Self.ipText(value) { names.ip.append(ip) }
            default: break
            }
        }
        return names
    }

    /// The names a client may ask for by SNI: the DNS names of subjectAltName, else the common
    /// name (what clients checked before RFC 6125 made the SAN authoritative).
    var serverNames: [String] {
        let dns = alternativeNames.dns
        if !dns.isEmpty { return dns }
        return commonName.map { [$0] } ?? []
    }

    /// SHA-256 of the DER encoding, lower-case hex (Envoy's `Hash=` in x-forwarded-client-cert).
    var sha256Hex: String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(raw, EVP_sha256(), &digest, &length) == 1 else { return "" }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(Int(length) * 2)
        for byte in digest[0 ..< Int(length)] {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    var isCA: Bool { X509_check_ca(raw) != 0 }

    /// True when `issuer` signed this certificate (names and key identifiers match, and the
    /// issuer may sign certificates).
    func isIssued(by issuer: X509Certificate) -> Bool {
        X509_check_issued(issuer.raw, raw) == X509_V_OK
    }

    var notBefore: UnsafePointer<ASN1_TIME>? { X509_get0_notBefore(raw) }
    var notAfter: UnsafePointer<ASN1_TIME>? { X509_get0_notAfter(raw) }

    // MARK: text of ASN.1 values

    static func text(_ string: UnsafePointer<ASN1_STRING>) -> String {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self)
    }

    static func ipText(_ string: UnsafePointer<ASN1_STRING>) -> String? {
        let length = Int(ASN1_STRING_length(string))
        guard let data = ASN1_STRING_get0_data(string) else { return nil }
        var text = [CChar](repeating: 0, count: 64)
        switch length {
        case 4: guard inet_ntop(AF_INET, data, &text, 64) != nil else { return nil }
        case 16: guard inet_ntop(AF_INET6, data, &text, 64) != nil else { return nil }
        default: return nil
        }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// `2026-12-31 23:59 UTC`.
    static func dateText(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time else { return "?" }
        var t = tm()
        guard ASN1_TIME_to_tm(time, &t) == 1 else { return "?" }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday)) \(two(t.tm_hour)):\(two(t.tm_min)) UTC"
    }

    /// Whole days from `now` (seconds since the epoch; nil: the current time) to `time`:
    /// negative when `time` is past.
    static func days(from now: Int64?, to time: UnsafePointer<ASN1_TIME>?) -> (days: Int, seconds: Int)? {
        guard let time else { return nil }
        var day: Int32 = 0
        var sec: Int32 = 0
        var from: UnsafeMutablePointer<ASN1_TIME>?
        if let now { from = ASN1_TIME_set(nil, time_t(now)) }
        defer { if let from { ASN1_TIME_free(from) } }
        guard ASN1_TIME_diff(&day, &sec, from.map { UnsafePointer($0) }, time) == 1 else { return nil }
        return (Int(day), Int(sec))
    }
}

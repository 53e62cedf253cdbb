/// Why one TLS connection failed. The connection is over: send what `produce()` still holds (an
/// alert, usually), then close the socket. A failure of one connection never affects another.
///
/// `reason` classifies for counters; `message` is for a log line next to the peer's address,
/// says what was wrong in words a user can act on, and names the certificate involved:
/// `certificate verify failed: unknown CA: no trusted certificate issued "CN=localhost"`.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// The certificate chain does not lead to a trusted CA (self-signed, or issuer not trusted).
        case unknownCA = "unknown_ca"
        /// A certificate of the chain has expired.
        case expired
        /// A certificate of the chain is not valid yet.
        case notYetValid = "not_yet_valid"
        /// The certificate is not for the name (or IP address) that was asked for.
        case nameMismatch = "name_mismatch"
        /// Any other reason a certificate was refused (bad signature, wrong purpose, revoked, ...).
        case badCertificate = "bad_certificate"
        /// A certificate was required and none was sent.
        case certificateRequired = "certificate_required"
        /// ALPN: the two sides have no protocol in common (or an upstream selected none, while
        /// Trestle requires `h2`).
        case noSharedALPN = "no_shared_alpn"
        /// No TLS version, cipher suite or group in common.
        case noSharedParameters = "no_shared_parameters"
        /// The bytes are not TLS at all (for example plaintext HTTP sent to a TLS listener).
        case notTLS = "not_tls"
        /// A malformed or unexpected message, a record that does not decrypt, an unexpected alert.
        case protocolError = "protocol_error"
    }

    public var reason: Reason
    /// True when the peer refused (it sent a fatal alert, e.g. it did not trust this side's
    /// certificate); false when this side found the problem.
    public var fromPeer: Bool
    public var message: String

    public init(_ reason: Reason, fromPeer: Bool = false, _ message: String) {
        self.reason = reason
        self.fromPeer = fromPeer
        self.message = message
    }

    public var description: String { message }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SocketAddress {
    /// Why an address could not be parsed; `description` is the routes-file message,
    /// e.g. `invalid address "x:99999": port must be 1-65535`.
    public typealias ParseError = ValueParseError

    /// Parses `host:port` or `[v6]:port`, saying what is wrong when it is malformed.
    ///
    /// The host is an IPv4 literal (dotted quad), an IPv6 literal in brackets (no zone id), or a
    /// host name of letters, digits, `-`, `_` and `.` (at most 253 bytes, no empty label).
    /// The port is decimal 1-65535.
    public static func parse(_ text: String) -> Result<SocketAddress, ParseError> {
        func fail(_ reason: String) -> Result<SocketAddress, ParseError> {
            .failure(ParseError(kind: "address", text: text, reason: reason))
        }
        if text.contains("://") { return fail("expected host:port, not a URL") }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return fail("missing \"]\" after the IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.first == ":" else { return fail("expected \":port\" after \"]\"") }
            portText = rest.dropFirst()
            guard !host.isEmpty else { return fail("host is empty") }
            guard isIPv6Literal(String(host)) else { return fail("\"\(host)\" is not an IPv6 address") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return fail("expected host:port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                return fail("an IPv6 address must be in brackets, like \"[::1]:8080\"")
            }
            guard !host.isEmpty else { return fail("host is empty") }
            if host.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }) {
                guard isIPv4Literal(String(host)) else { return fail("\"\(host)\" is not an IPv4 address") }
            } else {
                guard isHostName(host) else { return fail("\"\(host)\" is not a valid host name") }
            }
        }
        guard !portText.isEmpty else { return fail("port is missing") }
        guard portText.utf8.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port >= 1, port <= 65535
        else {
            return fail("port must be 1-65535")
        }
        return .success(SocketAddress(host: String(host), port: UInt16(port)))
    }

    /// True when the host is an IPv4 or IPv6 literal rather than a name to resolve.
    public var isIPLiteral: Bool {
        SocketAddress.isIPv4Literal(host) || SocketAddress.isIPv6Literal(host)
    }

    /// inet_pton reads a C string: a NUL inside `text` would end it early and accept the
    /// prefix (a fuzzer found "[::\0]:1"). Only printable ASCII goes to it.
    private static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func isIPv4Literal(_ text: String) -> Bool {
        guard isPrintableASCII(text) else { return false }
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6Literal(_ text: String) -> Bool {
        guard isPrintableASCII(text) else { return false }
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    private static func isHostName(_ host: Substring) -> Bool {
        guard host.utf8.count <= 253 else { return false }
        var labelLength = 0
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "."):
                if labelLength == 0 { return false }
                labelLength = 0
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                labelLength += 1
                if labelLength > 63 { return false }
            default:
                return false
            }
        }
        return labelLength > 0
    }
}

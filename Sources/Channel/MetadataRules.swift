/// Which header names never cross the gateway (README, "Metadata").
///
/// One table: the hop-by-hop fields of RFC 9110 §7.6.1 (Connection, Keep-Alive,
/// Proxy-Connection, TE, Transfer-Encoding, Upgrade) and the framing fields that each hop
/// recomputes (Content-Length, Host; HTTP2-Settings of an h2c upgrade, RFC 7540 §3.2.1), plus
/// every name starting with `proxy-` (Proxy-Authorization and Proxy-Authenticate are for the
/// proxy, never the origin). Names are compared ignoring ASCII case, without allocating.
///
/// Not handled here, by the caller: the names that a `Connection` header lists, HTTP/2
/// pseudo-headers, and `te: trailers`, which gRPC itself requires on every hop.
public enum MetadataRules: Sendable {
    /// Exact names, lower case. `isHopByHop` indexes this table by position: keep the order.
    @usableFromInline static let hopByHopNames: [[UInt8]] = [
        "connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        "http2-settings",
    ].map { Array($0.utf8) }

    /// Every name with this prefix is hop-by-hop (`proxy-connection`, `proxy-authorization`, …).
    @usableFromInline static let hopByHopPrefix: [UInt8] = Array("proxy-".utf8)

    /// The suffix of binary metadata names, whose values are base64 on the wire.
    static let binarySuffix: [UInt8] = Array("-bin".utf8)

    /// True when a header of this name must not be forwarded to the next hop.
    @inlinable
    public static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        // Runs for every header of every call: dispatch on the first letter and the length, so
        // almost every name is settled without a comparison.
        guard let first = name.first else { return false }
        let n = name.count
        switch ASCII.lowercased(first) {
        case UInt8(ascii: "c"):
            return (n == 10 && ASCII.equalsIgnoringCase(name, hopByHopNames[0]))
                || (n == 14 && ASCII.equalsIgnoringCase(name, hopByHopNames[5]))
        case UInt8(ascii: "k"):
            return n == 10 && ASCII.equalsIgnoringCase(name, hopByHopNames[1])
        case UInt8(ascii: "t"):
            return (n == 2 && ASCII.equalsIgnoringCase(name, hopByHopNames[2]))
                || (n == 17 && ASCII.equalsIgnoringCase(name, hopByHopNames[3]))
        case UInt8(ascii: "u"):
            return n == 7 && ASCII.equalsIgnoringCase(name, hopByHopNames[4])
        case UInt8(ascii: "h"):
            return (n == 4 && ASCII.equalsIgnoringCase(name, hopByHopNames[6]))
                || (n == 14 && ASCII.equalsIgnoringCase(name, hopByHopNames[7]))
        case UInt8(ascii: "p"):
            return n >= 6 && ASCII.hasPrefixIgnoringCase(name, hopByHopPrefix)
        default:
            return false
        }
    }

    /// `isHopByHop` for a name known to be lower case (HTTP/2 names; the metadata filter's
    /// input): the same table, compared exactly, with no table load.
    @inlinable @inline(__always)
    public static func isHopByHopLowercase(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first else { return false }
        let n = name.count
        switch first {
        case UInt8(ascii: "c"):
            return (n == 10 && name.equals("connection")) || (n == 14 && name.equals("content-length"))
        case UInt8(ascii: "k"):
            return n == 10 && name.equals("keep-alive")
        case UInt8(ascii: "t"):
            return (n == 2 && name[1] == UInt8(ascii: "e")) || (n == 17 && name.equals("transfer-encoding"))
        case UInt8(ascii: "u"):
            return n == 7 && name.equals("upgrade")
        case UInt8(ascii: "h"):
            return (n == 4 && name.equals("host")) || (n == 14 && name.equals("http2-settings"))
        case UInt8(ascii: "p"):
            return n >= 6 && name.hasPrefix("proxy-")
        default:
            return false
        }
    }

    /// True when a header of this name must not be forwarded to the next hop.
    public static func isHopByHop(_ name: String) -> Bool {
        ASCII.withBytes(name) { isHopByHop($0) }
    }

    /// True when `name` ends with `-bin` (ignoring ASCII case): binary metadata, whose value is
    /// base64 on the wire (gRPC PROTOCOL-HTTP2.md, "Binary-Header").
    public static func isBinary(_ name: UnsafeRawBufferPointer) -> Bool {
        ASCII.hasSuffixIgnoringCase(name, binarySuffix)
    }

    /// True when `name` ends with `-bin`; see `isBinary(_:)` on bytes.
    public static func isBinary(_ name: String) -> Bool {
        ASCII.withBytes(name) { isBinary($0) }
    }
}

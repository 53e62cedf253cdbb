/// The one table of what happens to each header field crossing the gateway (README, "Metadata";
/// docs/ARCHITECTURE.md §4), for requests (client → upstream) and responses (upstream → client, headers and
/// trailers alike). Every frontend classifies its fields here and acts on the answer; none keeps
/// a list of its own.
///
/// A frontend is either `native` (the client speaks gRPC framing and metadata: native gRPC, and
/// later gRPC-Web binary and gRPC over HTTP/1.1 — `grpc-*` fields such as `grpc-encoding` pass
/// through untouched) or `translated` (the gateway builds the gRPC request itself: JSON, and the
/// formats whose messages it must look inside — it sets `content-type`, `te` and any encoding
/// of its own, so the client's are not forwarded).
///
/// Names must be lower case (HTTP/2 names are; an HTTP/1.1 frontend lower-cases first).
public enum MetadataFilter {
    /// `web`: gRPC-Web (binary and text). Its messages are gRPC frames and its `grpc-*` fields
    /// (`grpc-encoding`, …) pass as a native client's do, but the gateway writes the upstream's
    /// `content-type` and `te` itself, `x-grpc-web` is for the gateway, the client's address is
    /// appended to `x-forwarded-for`, and the response's `content-type` is the gateway's own.
    public enum Profile: Sendable { case native, translated, web }

    /// What a request field is.
    public enum RequestField: Equatable, Sendable {
        /// Forward as metadata.
        case forward
        /// Never forwarded: hop-by-hop and framing fields (RFC 9110 §7.6.1, `proxy-*`, Host,
        /// Content-Length, HTTP2-Settings), or a field the frontend's profile replaces.
        case drop
        /// An HTTP/2 pseudo-header (`:path`, …): the frontend builds the upstream's own.
        case pseudo
        /// `connection`: drop it, and drop every field it names (RFC 9110 §7.6.1).
        case connection
        /// `grpc-timeout`: sets the call's deadline (parse with `GRPCTimeout`), never forwarded
        /// as received — the time remaining is sent when the upstream stream opens.
        case deadline
        /// `x-forwarded-for` (translated frontends): the client's address is appended to it.
        case forwardedFor
    }

    /// What a response header or trailer field is.
    public enum ResponseField: Equatable, Sendable {
        case forward
        case drop
        case pseudo
        /// `grpc-status`, `grpc-message`, `grpc-status-details-bin`: the call's status. A native
        /// frontend relays them as they are; a translated one renders them in its own format.
        case status, statusMessage, statusDetails
    }

    /// The request table.
    @inlinable @inline(__always)
    public static func request(_ name: UnsafeRawBufferPointer, profile: Profile) -> RequestField {
        guard let first = name.first else { return .drop }
        if first == UInt8(ascii: ":") { return .pseudo }
        switch first {
        case UInt8(ascii: "c"):
            if name.equals("connection") { return .connection }
            // Translated: the gateway frames messages itself and says so. gRPC-Web: the gateway
            // names the upstream's format (application/grpc).
            if profile != .native && name.equals("content-type") { return .drop }
            // A translated body's coding is the gateway's to undo (README, "Compression").
            if profile == .translated && name.equals("content-encoding") { return .drop }
        case UInt8(ascii: "g"):
            if name.equals("grpc-timeout") { return .deadline }
            // `grpc-*` is reserved to gRPC (PROTOCOL-HTTP2.md): a native client's (grpc-encoding,
            // grpc-accept-encoding, …) describe its own framing and pass; a translated client's
            // would contradict the gateway's framing.
            if profile == .translated && name.hasPrefix("grpc-") { return .drop }
        case UInt8(ascii: "t"):
            // `te: trailers` is required on every gRPC hop (the only value HTTP/2 allows):
            // a native client's passes; a translated request gets the gateway's own.
            if name.equals("te") { return profile == .native ? .forward : .drop }
        case UInt8(ascii: "x"):
            if profile != .native && name.equals("x-forwarded-for") { return .forwardedFor }
            // gRPC-Web's marker (PROTOCOL-WEB.md) is for the gateway, not the upstream.
            if profile != .native && name.equals("x-grpc-web") { return .drop }
            // Only the gateway vouches for a client certificate (Envoy's SANITIZE default): a
            // client's own claim is never forwarded; a TLS listener may add the verified one.
            if name.equals("x-forwarded-client-cert") { return .drop }
        case UInt8(ascii: "a"):
            // What the client's HTTP accepts is not what the upstream's gRPC framing offers.
            if profile != .native && name.equals("accept-encoding") { return .drop }
        case UInt8(ascii: "e"):
            // 100-continue is answered by the gateway.
            if name.equals("expect") { return .drop }
        default:
            break
        }
        return MetadataRules.isHopByHopLowercase(name) ? .drop : .forward
    }

    /// The response table (headers and trailers).
    @inlinable
    public static func response(_ name: UnsafeRawBufferPointer, profile: Profile) -> ResponseField {
        guard let first = name.first else { return .drop }
        if first == UInt8(ascii: ":") { return .pseudo }
        if first == UInt8(ascii: "g") {
            if name.equals("grpc-status") { return .status }
            if name.equals("grpc-message") { return .statusMessage }
            if name.equals("grpc-status-details-bin") { return .statusDetails }
            if profile == .translated && name.hasPrefix("grpc-") { return .drop }
        }
        // Translated and gRPC-Web clients get the gateway's own content-type.
        if profile != .native && name.equals("content-type") { return .drop }
        return MetadataRules.isHopByHopLowercase(name) ? .drop : .forward
    }

    /// The prefix that HTTP clients put on metadata names that would otherwise be taken as HTTP
    /// headers (grpc-gateway's convention): stripped by translated frontends.
    public static let metadataPrefix: [UInt8] = Array("grpc-metadata-".utf8)
}

/// The names a request's `Connection` fields list (RFC 9110 §7.6.1): none of them is forwarded.
/// Rare, so empty (and free) unless a request has such a field.
public struct ConnectionNamedFields: Sendable {
    @usableFromInline var names: [[UInt8]] = []

    public init() {}

    @inlinable
    public var isEmpty: Bool { names.isEmpty }

    /// Adds the tokens of one `Connection` field value (comma-separated, any case).
    public mutating func add(connectionValue value: UnsafeRawBufferPointer) {
        for token in value.split(separator: UInt8(ascii: ",")) {
            var t = token[...]
            while let c = t.first, c == 0x20 || c == 0x09 { t = t.dropFirst() }
            while let c = t.last, c == 0x20 || c == 0x09 { t = t.dropLast() }
            if !t.isEmpty { names.append(t.map(ASCII.lowercased)) }
        }
    }

    /// Whether `name` (lower case) is listed.
    public func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        names.contains { $0.elementsEqual(name) }
    }
}

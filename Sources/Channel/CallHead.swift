/// A call's request head as the core sees it, whatever the client's wire format: the metadata
/// to send upstream (pseudo-headers included, after the one request filter), the client's
/// deadline, and where the service and method are. Built field by field with `CallHeadBuilder`
/// (HTTP/2 fields arrive one callback at a time), so nothing is collected twice.
///
/// The service and method are byte ranges of the `:path` field, not Strings: a native call
/// never allocates for them (`service` / `method` make Strings for messages and slow paths).
public struct CallHead {
    /// The fields that go upstream, in order.
    public let metadata: Metadata
    /// The client's `grpc-timeout`, in nanoseconds, when it sent a valid one.
    public var timeoutNanoseconds: UInt64?
    /// Why the head cannot be served (a malformed `grpc-timeout`), when it cannot.
    public var problem: String?
    /// `:method`, `content-type`, `:authority` as received (slow-path Strings are built from these).
    public var isPost = false
    public var contentType: ContentType = .none
    /// The client sent `te: trailers` (RFC 9110 §10.1.4): a response may end with trailer fields.
    public var acceptsTrailers = false
    /// Index in `metadata` of `:path` (-1: none) and the service/method ranges within its value.
    public var pathField = -1
    public var serviceRange: Range<Int>?
    public var methodRange: Range<Int>?

    /// The request's content type, as far as the core cares.
    public enum ContentType: Sendable, Equatable {
        case none
        /// `application/grpc`, `application/grpc+proto`, …
        case grpc
        /// gRPC-Web binary (PROTOCOL-WEB.md): `application/grpc-web`, `application/grpc-web+proto`.
        case grpcWeb
        /// gRPC-Web text (base64 bodies): `application/grpc-web-text`, `application/grpc-web-text+proto`.
        case grpcWebText
        /// gRPC-Web with a codec other than protobuf (`application/grpc-web+json`, …): refused
        /// by the gRPC-Web frontend (README, "gRPC-Web").
        case grpcWebOtherCodec
        /// Anything else (JSON, a form, …): a translated frontend's business.
        case other

        /// Any gRPC-Web form.
        public var isGRPCWeb: Bool { self == .grpcWeb || self == .grpcWebText || self == .grpcWebOtherCodec }
    }

    public init(metadata: Metadata) {
        self.metadata = metadata
    }

    /// The `:path` value (valid until the metadata changes).
    public var path: UnsafeRawBufferPointer? {
        pathField >= 0 ? metadata.field(pathField).value : nil
    }

    /// The service name bytes of a well-formed gRPC path.
    public var serviceBytes: UnsafeRawBufferPointer? {
        guard let path, let r = serviceRange else { return nil }
        return UnsafeRawBufferPointer(rebasing: path[r])
    }

    public var service: String? { serviceBytes.map { String(decoding: $0, as: UTF8.self) } }

    public var method: String? {
        guard let path, let r = methodRange else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: path[r]), as: UTF8.self)
    }
}

/// Builds a `CallHead` from received fields, applying `MetadataFilter.request` as each arrives:
/// forwarded fields are copied once into the head's metadata, the rest never are.
///
/// Native profile (HTTP/2 requests, whose frontend is chosen only once `content-type` is known):
/// pseudo-headers are kept, `:scheme` becomes `http` (`https` when the client came over TLS: `secure`).
/// Translated profile (a frontend that builds the upstream request itself and has already put its
/// own pseudo-headers first): the client's pseudo-headers are skipped, names are lower-cased and
/// lose a `Grpc-Metadata-` prefix, and `x-forwarded-for` gets the client's address (`finish`).
/// Both: `grpc-timeout` sets the deadline (a malformed one is the head's `problem`), hop-by-hop
/// fields and the names `Connection` lists are dropped.
public struct CallHeadBuilder {
    /// What has been built so far (settable only so that the per-field path can be inlined).
    public var head: CallHead
    public let profile: MetadataFilter.Profile
    /// The client came over TLS: a native head's `:scheme` is forwarded as `https` (as nghttpx
    /// forwards the client's scheme), else `http`.
    public var secure = false
    @usableFromInline var connectionNamed = ConnectionNamedFields()
    @usableFromInline var forwardedFor: [UInt8] = []

    public init(into metadata: Metadata, profile: MetadataFilter.Profile) {
        head = CallHead(metadata: metadata)
        self.profile = profile
    }

    /// Names listed by a `Connection` field, given before the fields (an HTTP/1.1 head is whole
    /// before it is read; HTTP/2 forbids `Connection`, RFC 9113 §8.2.2).
    public mutating func dropFieldsNamed(byConnectionValue value: UnsafeRawBufferPointer) {
        connectionNamed.add(connectionValue: value)
    }

    /// One received field. Native: `name` is lower case (HTTP/2). Translated: any case.
    @inlinable @inline(__always)
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        add(name: name, value: value, into: head.metadata)
    }

    /// `add(name:value:)` with the head's own metadata block passed in by a caller that holds
    /// it (so that the per-field path loads no reference out of this struct).
    @inlinable @inline(__always)
    public mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into metadata: Metadata) {
        if profile == .native {
            addLowercased(name: name, value: value, into: metadata)
            return
        }
        if name.isEmpty { return }
        withUnsafeTemporaryAllocation(byteCount: name.count, alignment: 1) { buffer in
            for i in 0 ..< name.count { buffer[i] = ASCII.lowercased(name[i]) }
            var lower = UnsafeRawBufferPointer(buffer)
            // `Connection` names fields as they are on the wire (prefix included).
            if !connectionNamed.isEmpty && connectionNamed.contains(lower) { return }
            if lower.hasPrefix("grpc-metadata-") {
                lower = UnsafeRawBufferPointer(rebasing: lower[MetadataFilter.metadataPrefix.count...])
                if lower.isEmpty { return }
            }
            addLowercased(name: lower, value: value, into: metadata)
        }
    }

    @inlinable @inline(__always)
    mutating func addLowercased(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into metadata: Metadata) {
        switch MetadataFilter.request(name, profile: profile) {
        case .pseudo:
            guard profile == .native else { return }
            if name.equals(":path") {
                head.pathField = metadata.count
                head.serviceRange = nil
                head.methodRange = nil
                if let parts = GRPCPath.split(value) {
                    head.serviceRange = parts.service
                    head.methodRange = parts.method
                }
            } else if name.equals(":method") {
                head.isPost = value.equals("POST")
            } else if name.equals(":scheme") {
                metadata.append(":scheme", value: secure ? UnsafeRawBufferPointer(staticString: "https")
                                                         : UnsafeRawBufferPointer(staticString: "http"))
                return
            }
        case .deadline:
            if let ns = GRPCTimeout.parse(value) {
                head.timeoutNanoseconds = ns
            } else {
                head.problem = Self.malformedTimeout(value)
            }
            return
        case .drop, .connection:
            return
        case .forwardedFor:
            if !forwardedFor.isEmpty { forwardedFor.append(contentsOf: ", ".utf8) }
            forwardedFor.append(contentsOf: value)
            return
        case .forward:
            if !connectionNamed.isEmpty && connectionNamed.contains(name) { return }
            if name.equals("content-type") {
                head.contentType = Self.contentType(of: value)
            } else if name.equals("te") {
                head.acceptsTrailers = value.equals("trailers") || Self.listsTrailers(value)
                // HTTP/2 allows only `te: trailers` (RFC 9113 §8.2.2); an upgraded HTTP/1.1 head
                // may list more: what goes upstream is exactly `trailers`, or nothing.
                if !value.equals("trailers") {
                    if head.acceptsTrailers { metadata.append("te", value: UnsafeRawBufferPointer(staticString: "trailers")) }
                    return
                }
            }
        }
        metadata.append(name: name, value: value)
    }

    /// `application/grpc`, or it followed by `+format` or `;parameters` (PROTOCOL-HTTP2.md
    /// "Content-Type"); not `application/grpc-web` and the like, which are other wire formats.
    @inlinable
    static func isGRPCContentType(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.hasPrefix("application/grpc") else { return false }
        let n = "application/grpc".utf8.count
        return value.count == n || value[n] == UInt8(ascii: "+") || value[n] == UInt8(ascii: ";")
    }

    /// The content type a `content-type` value names: gRPC (`isGRPCContentType`), one of the
    /// gRPC-Web forms (`application/grpc-web` or `-text`, then nothing, `+codec` or `;…`), or other.
    @inlinable
    public static func contentType(of value: UnsafeRawBufferPointer) -> CallHead.ContentType {
        if isGRPCContentType(value) { return .grpc }
        let web = "application/grpc-web".utf8.count
        guard value.count >= web, value.hasPrefix("application/grpc-web") else { return .other }
        var rest = UnsafeRawBufferPointer(rebasing: value[web...])
        var text = false
        if rest.hasPrefix("-text") {
            text = true
            rest = UnsafeRawBufferPointer(rebasing: rest[5...])
        }
        if let semicolon = rest.firstIndex(of: UInt8(ascii: ";")) {
            rest = UnsafeRawBufferPointer(rebasing: rest[..<semicolon])
        }
        while let last = rest.last, last == 0x20 || last == 0x09 { rest = UnsafeRawBufferPointer(rebasing: rest.dropLast()) }
        if rest.isEmpty || rest.equals("+proto") { return text ? .grpcWebText : .grpcWeb }
        return rest.first == UInt8(ascii: "+") ? .grpcWebOtherCodec : .other
    }

    /// Whether a `te` value lists `trailers` among other codings.
    @usableFromInline
    static func listsTrailers(_ value: UnsafeRawBufferPointer) -> Bool {
        value.split(separator: UInt8(ascii: ",")).contains { token in
            var t = token
            while let c = t.first, c == 0x20 || c == 0x09 { t = t.dropFirst() }
            while let c = t.last, c == 0x20 || c == 0x09 { t = t.dropLast() }
            return t.count == 8 && zip(t, "trailers".utf8).allSatisfy { ASCII.lowercased($0) == $1 }
        }
    }

    @usableFromInline
    static func malformedTimeout(_ value: UnsafeRawBufferPointer) -> String {
        "malformed grpc-timeout \"\(String(decoding: value, as: UTF8.self))\""
    }

    /// Translated: appends `x-forwarded-for` with the client's address after what the client sent.
    public mutating func finish(peer: String?) -> CallHead {
        if let peer {
            if !forwardedFor.isEmpty { forwardedFor.append(contentsOf: ", ".utf8) }
            forwardedFor.append(contentsOf: peer.utf8)
        }
        if !forwardedFor.isEmpty {
            forwardedFor.withUnsafeBytes { head.metadata.append("x-forwarded-for", value: $0) }
        }
        return head
    }
}

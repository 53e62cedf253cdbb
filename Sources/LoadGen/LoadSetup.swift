import Glibc
import Transcoding
import UVLoop

/// Turning command-line text into a plan's parts: the target address, durations, the method,
/// the request message. Slow path, before any thread starts; errors say what was wrong.
public enum LoadSetup {
    /// `host:port` or `[v6]:port`. An IP literal is used as is; a name is resolved now (blocking
    /// getaddrinfo, first address).
    /// The host part of `host:port` or `[host]:port` (the default TLS server name).
    public static func host(of target: String) -> String {
        if target.hasPrefix("["), let close = target.firstIndex(of: "]") {
            return String(target[target.index(after: target.startIndex) ..< close])
        }
        if let colon = target.lastIndex(of: ":") { return String(target[..<colon]) }
        return target
    }

    public static func resolve(_ target: String) throws(LoadError) -> ResolvedAddress {
        var host = Substring(target), portText = Substring("")
        if target.hasPrefix("["), let close = target.firstIndex(of: "]") {
            host = target[target.index(after: target.startIndex) ..< close]
            let rest = target[target.index(after: close)...]
            guard rest.hasPrefix(":") else { throw LoadError("invalid --target \"\(target)\": expected [host]:port") }
            portText = rest.dropFirst()
        } else if let colon = target.lastIndex(of: ":") {
            host = target[..<colon]
            portText = target[target.index(after: colon)...]
        }
        guard !host.isEmpty, let port = UInt16(portText), port > 0 else {
            throw LoadError("invalid --target \"\(target)\": expected host:port")
        }
        if let ip = ResolvedAddress(ip: String(host), port: port) { return ip }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(String(host), String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw LoadError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let sa = ai.pointee.ai_addr, sa.pointee.sa_family == sa_family_t(AF_INET) || sa.pointee.sa_family == sa_family_t(AF_INET6) {
                var a = ResolvedAddress()
                withUnsafeMutableBytes(of: &a.storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))
                }
                return a
            }
            p = ai.pointee.ai_next
        }
        throw LoadError("cannot resolve \(host): no IPv4 or IPv6 address")
    }

    /// `10s`, `500ms`, `2m`, `1.5s`, `250us`, or a plain number of seconds, as nanoseconds.
    public static func duration(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
            return UInt64(v * scale)
        }
        guard let v = Double(text), v >= 0, v.isFinite else { return nil }
        return UInt64(v * 1e9)
    }

    /// `/pkg.Service/Method` from `/pkg.Service/Method` or `pkg.Service/Method`.
    public static func methodPath(_ text: String) -> String? {
        let path = text.hasPrefix("/") ? text : "/" + text
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !path.contains(" ") else { return nil }
        return path
    }

    /// `name: value` → (lower-case name, trimmed value).
    public static func header(_ text: String) -> (String, String)? {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        let name = text[..<colon].lowercased()
        guard !name.contains(" ") else { return nil }
        let value = text[text.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
        return (name, String(value))
    }

    public static func registry(_ paths: [String]) throws(LoadError) -> DescriptorRegistry {
        var sets: [(name: String, bytes: [UInt8])] = []
        for path in paths {
            guard let bytes = FileIO.read(path) else { throw LoadError("cannot read \(path)") }
            sets.append((path, bytes))
        }
        do {
            return try DescriptorRegistry(fileDescriptorSets: sets)
        } catch {
            throw LoadError(error.description)
        }
    }

    /// The protobuf encoding of the JSON `json` as the input message of `method`.
    public static func encode(json: String, method: MethodDescriptor, registry: DescriptorRegistry) throws(LoadError) -> [UInt8] {
        let transcoder = JSONTranscoder(registry: registry)
        var writer = ProtoWriter()
        let bytes = Array(json.utf8)
        let failure: String? = bytes.withUnsafeBytes { raw in
            do throws(TranscodeError) {
                try transcoder.encode(json: raw, as: method.inputType, into: &writer)
                return nil
            } catch {
                return error.message
            }
        }
        if let failure { throw LoadError("--data is not a valid \(method.inputType.fullName): \(failure)") }
        return writer.bytes
    }

    /// The scenario a method's streaming kinds call for.
    public static func scenario(for method: MethodDescriptor) -> LoadScenario {
        switch (method.clientStreaming, method.serverStreaming) {
        case (true, true): .bidiPingPong
        case (true, false): .clientStreaming
        case (false, true): .serverStreaming
        case (false, false): .unary
        }
    }
}

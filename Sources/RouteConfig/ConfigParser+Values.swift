import Yams

/// Readers for the value kinds of the routes file. Each reports what was wrong at the node and
/// returns nil, so that the caller goes on and later errors are found too.
extension ConfigParser {
    /// The mapping in `node`; `what` names it for the message (`"admin"`, `listener 1`).
    mutating func mapping(_ node: Node, for what: String) -> Node.Mapping? {
        guard case .mapping(let mapping) = node else {
            report(node, "expected a mapping for \(what), found \(node.foundDescription)")
            return nil
        }
        return mapping
    }

    /// The items of the sequence in `node`.
    mutating func sequence(_ node: Node, for what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(node, "expected a sequence for \(what), found \(node.foundDescription)")
            return nil
        }
        return Array(sequence)
    }

    /// The text of the scalar in `node`; `expected` names the kind (`a string`, `a duration`).
    mutating func scalar(_ node: Node, expected: String, for what: String) -> String? {
        guard let text = node.scalarText else {
            report(node, "expected \(expected) for \(what), found \(node.foundDescription)")
            return nil
        }
        return text
    }

    /// `true` or `false`.
    mutating func boolean(_ node: Node, key: String) -> Bool? {
        switch node.scalarText {
        case "true": return true
        case "false": return false
        default:
            report(node, "expected true or false for \"\(key)\", found \(node.foundDescription)")
            return nil
        }
    }

    /// A decimal integer within `range`.
    mutating func integer(_ node: Node, key: String, range: ClosedRange<Int>) -> Int? {
        guard let text = node.scalarText, let value = Int(text) else {
            report(node, "expected an integer for \"\(key)\", found \(node.foundDescription)")
            return nil
        }
        guard range.contains(value) else {
            report(node, "\(key) must be \(Self.describe(range)), got \(value)")
            return nil
        }
        return value
    }

    /// A duration (`30s`, `250ms`), in whole milliseconds rounded up.
    mutating func milliseconds(_ node: Node, key: String, allowZero: Bool) -> UInt64? {
        guard let text = scalar(node, expected: "a duration", for: "\"\(key)\"") else { return nil }
        switch DurationText.parseNanoseconds(text) {
        case .failure(let error):
            report(node, error.description)
            return nil
        case .success(let nanoseconds):
            guard allowZero || nanoseconds > 0 else {
                report(node, "\(key) must be greater than 0")
                return nil
            }
            return DurationText.milliseconds(roundingUp: nanoseconds)
        }
    }

    /// A size (`1MiB`, `65535`) in bytes, within `range`.
    mutating func size(_ node: Node, key: String, range: ClosedRange<Int>) -> Int? {
        guard let text = scalar(node, expected: "a size", for: "\"\(key)\"") else { return nil }
        switch ByteSizeText.parseBytes(text) {
        case .failure(let error):
            report(node, error.description)
            return nil
        case .success(let bytes):
            guard range.contains(bytes) else {
                report(node, "\(key) must be \(range.lowerBound)-\(range.upperBound) bytes, got \(bytes)")
                return nil
            }
            return bytes
        }
    }

    /// A `host:port` address; with `requireIP`, the host must be an IP literal (`role` names
    /// the socket in that message: `listener`, `admin`).
    mutating func address(_ node: Node, for what: String, requireIP role: String? = nil) -> SocketAddress? {
        guard let text = scalar(node, expected: "an address \"host:port\"", for: what) else { return nil }
        switch SocketAddress.parse(text) {
        case .failure(let error):
            report(node, error.description)
            return nil
        case .success(let address):
            if let role, !address.isIPLiteral {
                report(node, "invalid \(role) address \"\(text)\": the host must be an IP address, not a name")
                return nil
            }
            return address
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }
}

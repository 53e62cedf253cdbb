import Yams

/// The keys of one YAML mapping of the routes file, after the checks every mapping gets:
/// each key is a string, appears once, and is one of the section's keys.
struct MappingFields {
    /// Where the mapping starts: missing keys are reported here.
    let mark: Mark?
    /// How messages name the mapping: `at the top level`, `in cluster "echo"`, `in route 2`.
    let section: String
    private var values: [String: (key: Node, value: Node)] = [:]

    init(mark: Mark?, section: String) {
        self.mark = mark
        self.section = section
    }

    /// The value of `key`, when present.
    subscript(key: String) -> Node? {
        values[key]?.value
    }

    /// The key node of `key`, when present.
    func keyNode(_ key: String) -> Node? {
        values[key]?.key
    }

    fileprivate mutating func set(_ key: String, keyNode: Node, value: Node) {
        values[key] = (keyNode, value)
    }
}

extension ConfigParser {
    /// Reads `mapping`'s keys, reporting non-string keys, duplicate keys and keys not in
    /// `allowed` (suggesting the closest allowed key). Duplicates keep the first value.
    mutating func fields(of mapping: Node.Mapping, section: String, allowed: [String]) -> MappingFields {
        var fields = MappingFields(mark: mapping.mark, section: section)
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalarText else {
                report(keyNode, "expected a string key \(section), found \(keyNode.foundDescription)")
                continue
            }
            if let first = fields.keyNode(key) {
                report(keyNode, "duplicate key \"\(key)\" \(section) (first at line \(first.mark?.line ?? 1))")
                continue
            }
            guard allowed.contains(key) else {
                var message = "unknown key \"\(key)\" \(section)"
                if let suggestion = Suggestion.closest(to: key, in: allowed) {
                    message += "; did you mean \"\(suggestion)\"?"
                }
                report(keyNode, message)
                continue
            }
            fields.set(key, keyNode: keyNode, value: value)
        }
        return fields
    }

    /// The value of a key that must be present; reports `missing key "K" SECTION` at the
    /// mapping when it is not.
    mutating func required(_ key: String, in fields: MappingFields) -> Node? {
        if let value = fields[key] { return value }
        report(fields.mark, "missing key \"\(key)\" \(fields.section)")
        return nil
    }
}

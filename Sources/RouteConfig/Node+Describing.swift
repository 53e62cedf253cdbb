import Yams

extension Node {
    /// How a message names what was found where something else was expected:
    /// `a mapping`, `a sequence`, `an empty value`, or the scalar itself in quotes.
    var foundDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar(let scalar):
            if isNullScalar { return "an empty value" }
            // One line per diagnostic: control characters (a multi-line scalar) are escaped.
            let text = String(scalar.string.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F
                ? $0.escaped(asASCII: true) : String($0) }.joined())
            return text.count > 40 ? "\"\(text.prefix(37))...\"" : "\"\(text)\""
        }
    }

    /// True for `~`, `null` and an absent value (`key:` with nothing after it), unquoted.
    var isNullScalar: Bool {
        guard case .scalar(let scalar) = self else { return false }
        guard scalar.style == .plain || scalar.style == .any else { return false }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The value of the first pair whose key is the scalar `key`, when this is a mapping.
    /// (Yams' own subscript may pick a later duplicate; the config keeps the first.)
    func firstValue(forKey key: String) -> Node? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.first { $0.key.scalarText == key }?.value
    }

    /// The text of a non-null scalar, else nil.
    var scalarText: String? {
        guard case .scalar(let scalar) = self, !isNullScalar else { return nil }
        return scalar.string
    }
}

import Channel

/// A JSON object written field by field, in order.
struct JSONObject {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) { fields.append(JSONObject.quote(key) + ": " + JSONObject.quote(value)) }
    mutating func addRaw(_ key: String, _ json: String) { fields.append(JSONObject.quote(key) + ": " + json) }

    var text: String { "{" + fields.joined(separator: ", ") + "}" }

    static func quote(_ s: String) -> String { JSONString.quoted(s) }
}

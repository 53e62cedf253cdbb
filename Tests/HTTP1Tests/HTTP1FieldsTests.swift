import HTTP1
import Testing

@Suite struct HTTP1FieldsTests {
    static let fields: HTTP1Fields = ["Content-Type": "application/json", "Vary": "a", "X-Empty": "", "vary": "b"]

    @Test func keepsOrderAndNamesAsSent() {
        #expect(Self.fields.map(\.name) == ["Content-Type", "Vary", "X-Empty", "vary"])
        #expect(Self.fields.map(\.value) == ["application/json", "a", "", "b"])
        #expect(Self.fields.count == 4)
    }

    @Test func looksUpIgnoringCase() {
        #expect(Self.fields.first("content-type") == "application/json")
        #expect(Self.fields.first("CONTENT-TYPE") == "application/json")
        #expect(Self.fields.first("Content-Typ") == nil)
        #expect(Self.fields.values("VARY") == ["a", "b"])
        #expect(Self.fields.first("x-empty") == "")
        #expect(Self.fields.contains("x-EMPTY"))
        #expect(!Self.fields.contains("host"))
    }

    @Test func appendsAndCompares() {
        var fields = HTTP1Fields()
        #expect(fields.isEmpty)
        fields.append(name: "Content-Type", value: "application/json")
        fields.append(name: "Vary", value: "a")
        fields.append(name: "X-Empty", value: "")
        fields.append(name: "vary", value: "b")
        #expect(fields == Self.fields)
        fields.append(name: "A", value: "1")
        #expect(fields != Self.fields)
        // Names compare as sent.
        #expect(HTTP1Fields(dictionaryLiteral: ("a", "1")) != HTTP1Fields(dictionaryLiteral: ("A", "1")))
    }

    @Test func copiesAreIndependent() {
        var copy = Self.fields
        copy.append(name: "New", value: "1")
        #expect(Self.fields.count == 4 && copy.count == 5)
    }

    @Test func exposesExactBytes() {
        let field = Self.fields[0]
        #expect(Array(field.nameBytes) == Array("Content-Type".utf8))
        #expect(Array(field.valueBytes) == Array("application/json".utf8))
        #expect(Self.fields.description == "[Content-Type: application/json, Vary: a, X-Empty: , vary: b]")
    }
}

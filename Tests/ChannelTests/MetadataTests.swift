import Channel
import Testing

@Suite struct MetadataTests {
    @Test func appendsAndIteratesInOrderAcrossGrowth() {
        let h = Metadata(reservingBytes: 8, fields: 1)
        var expected: [(String, String)] = []
        for i in 0 ..< 100 {
            let name = "x-field-\(i)", value = String(repeating: "v", count: i)
            h.append(name, value)
            expected.append((name, value))
        }
        var seen: [(String, String)] = []
        h.forEach { n, v in seen.append((String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self))) }
        #expect(h.count == 100)
        #expect(seen.map(\.0) == expected.map(\.0))
        #expect(seen.map(\.1) == expected.map(\.1))
        #expect(h.value("x-field-42") == String(repeating: "v", count: 42))
    }

    @Test func resetKeepsNothing() {
        let h = Metadata()
        h.append(":status", "200")
        h.reset()
        #expect(h.isEmpty)
        #expect(h.value(":status") == nil)
        h.append("a", "")
        #expect(h.value("a") == "")
    }
}

@Suite struct MetadataTruncateTests {
    @Test func keepsTheFirstFieldsAndAppendsAfterThem() {
        let h = Metadata(reservingBytes: 8, fields: 1)
        h.append("a", "1")
        h.append("bb", "22")
        h.append("grpc-timeout", "100m")
        h.truncate(to: 2)
        #expect(h.count == 2)
        h.append("grpc-timeout", "99m")
        var seen: [String] = []
        h.forEach { n, v in seen.append("\(String(decoding: n, as: UTF8.self))=\(String(decoding: v, as: UTF8.self))") }
        #expect(seen == ["a=1", "bb=22", "grpc-timeout=99m"])
        h.truncate(to: 0)
        #expect(h.isEmpty)
    }
}

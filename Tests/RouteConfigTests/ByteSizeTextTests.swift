import RouteConfig
import Testing

@Suite struct ByteSizeTextTests {
    @Test(arguments: [
        ("65535", 65_535),
        ("0", 0),
        ("10B", 10),
        ("256KiB", 262_144),
        ("1MiB", 1_048_576),
        ("2GiB", 2_147_483_648),
        ("64KB", 64_000),
        ("1MB", 1_000_000),
        ("1GB", 1_000_000_000),
    ])
    func parses(text: String, bytes: Int) {
        #expect(ByteSizeText.parseBytes(text) == .success(bytes))
    }

    @Test(arguments: [
        ("", "expected a whole number with an optional unit, like \"256KiB\""),
        ("MiB", "expected a whole number with an optional unit, like \"256KiB\""),
        ("-1", "expected a whole number with an optional unit, like \"256KiB\""),
        ("1.5MiB", "expected a whole number with an optional unit, like \"256KiB\""),
        ("1mib", "unknown unit \"mib\" (use B, KiB, MiB, GiB, KB, MB or GB)"),
        ("1 MiB", "unknown unit \" MiB\" (use B, KiB, MiB, GiB, KB, MB or GB)"),
        ("1TiB", "unknown unit \"TiB\" (use B, KiB, MiB, GiB, KB, MB or GB)"),
        ("99999999999999999999", "too large"),
        ("9999999999999GiB", "too large"),
    ])
    func rejects(text: String, reason: String) {
        #expect(ByteSizeText.parseBytes(text) == .failure(.init(kind: "size", text: text, reason: reason)))
        if case .failure(let error) = ByteSizeText.parseBytes(text) {
            #expect(error.description == "invalid size \"\(text)\": \(reason)")
        }
    }
}

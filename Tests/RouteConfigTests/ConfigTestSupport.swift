import RouteConfig
import Testing

/// The diagnostics of parsing `yaml` as `r.yaml`, as `FILE:LINE:COLUMN: message` lines;
/// records an issue when it parses.
func diagnostics(_ yaml: String, file: String = "r.yaml") -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, file: file)
        Issue.record("parsed without errors:\n\(yaml)")
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

/// A valid head for files whose tests are about what follows it (lines 1-2).
let listenerHead = """
    listeners:
      - address: 127.0.0.1:8080

    """

/// The root of this package, from this file's path (Tests/RouteConfigTests/ThisFile.swift).
func packageRoot(_ filePath: String = #filePath) -> String {
    var parts = filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}

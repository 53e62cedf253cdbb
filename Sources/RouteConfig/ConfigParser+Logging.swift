import Yams

extension ConfigParser {
    /// `logging: {level: info, access_log: stdout | PATH}` (README "Logs").
    mutating func parseLogging(_ node: Node) -> LoggingConfig? {
        guard let mapping = mapping(node, for: "\"logging\"") else { return nil }
        let f = fields(of: mapping, section: "in \"logging\"", allowed: ["level", "access_log"])
        var config = LoggingConfig()
        if let n = f["level"], let text = scalar(n, expected: "a level", for: "\"level\"") {
            if LoggingConfig.levels.contains(text) {
                config.level = text
            } else {
                report(n, "unknown log level \"\(text)\": expected one of \(LoggingConfig.levels.joined(separator: ", "))")
            }
        }
        if let n = f["access_log"], let text = scalar(n, expected: "\"stdout\" or a file path", for: "\"access_log\"") {
            if text.isEmpty {
                report(n, "\"access_log\" is empty: write \"stdout\" or a file path, or leave the key out for no access log")
            } else {
                config.accessLog = text == "stdout" || text == "-" ? "stdout" : Self.resolve(text, relativeTo: file)
            }
        }
        return config
    }
}

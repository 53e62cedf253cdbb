/// Key `logging` (README "Logs"): the log level and the access log.
public struct LoggingConfig: Sendable, Equatable {
    /// swift-log's level names, most verbose first.
    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// Key `level`: one of `levels`; `--log-level` overrides it.
    public var level = "info"
    /// Key `access_log`: `stdout`, or a file path (relative to the routes file's folder); nil:
    /// no access log. `--access-log` overrides it.
    public var accessLog: String?

    public init(level: String = "info", accessLog: String? = nil) {
        self.level = level
        self.accessLog = accessLog
    }
}

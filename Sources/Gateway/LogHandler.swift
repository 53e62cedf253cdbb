import Glibc
import Logging
import Synchronization

/// Trestle's swift-log handler (README "Logs"): one line per message on standard error, written
/// with one write(2) so lines from several threads never interleave — `LABEL: MESSAGE` at info
/// and notice (what `trestle: ready …` has always looked like), `LABEL: LEVEL: MESSAGE` at the
/// others, metadata after it as `key=value`. The level is one setting for the whole process
/// (`--log-level`, `logging.level`; a reload changes it), read by every logger on every
/// message, so a level that is off costs a load and a compare (swift-log builds no message).
public struct TrestleLogHandler: LogHandler {
    /// The process's level, as `Logger.Level`'s index in `allCases`.
    private static let level = Atomic<Int>(Logger.Level.allCases.firstIndex(of: .info)!)

    public static var currentLevel: Logger.Level {
        get { Logger.Level.allCases[level.load(ordering: .relaxed)] }
        set { level.store(Logger.Level.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }

    private static let bootstrapped = Atomic<Bool>(false)

    /// Installs the handler for every logger of the process (the first call; later ones only
    /// set the level), before anything logs.
    public static func bootstrapOnce(level: Logger.Level) {
        currentLevel = level
        guard !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { TrestleLogHandler(label: $0) }
    }

    let label: String
    public var metadata: Logger.Metadata = [:]

    public init(label: String) {
        self.label = label
    }

    public var logLevel: Logger.Level {
        get { Self.currentLevel }
        set { Self.currentLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = label + ": "
        switch event.level {
        case .info, .notice: break
        default: line += "\(event.level): "
        }
        line += event.message.description
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        line += "\n"
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}

/// The gateway's logger outside a worker (startup, reload, admin).
let gatewayLog = Logger(label: "trestle")

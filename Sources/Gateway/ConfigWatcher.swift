import RouteConfig
import UVLoop

/// `serve --watch`: reloads when the routes file or a descriptor set it names changes, as
/// SIGHUP does. The folders holding those files are watched (FileWatcher: a rename-over, as
/// editors and Kubernetes ConfigMap volumes do it, is seen there); events are coalesced for
/// `settleMs`, and a reload runs only when some file's bytes differ from what the last reload
/// (or SIGHUP) read, so a `touch` or an unrelated file in the folder reloads nothing. After
/// each reload the set of files is taken from the config in effect again. Main-thread only.
final class ConfigWatcher {
    static let settleMs: UInt64 = 100
    private let loop: Loop
    private let reloader: ConfigReloader
    private var watchers: [String: FileWatcher] = [:]
    private var files: [String] = []
    private var seen: [[UInt8]?] = []
    private var settle: Timer!

    init(loop: Loop, reloader: ConfigReloader) {
        self.loop = loop
        self.reloader = reloader
        settle = Timer(loop: loop) { [unowned self] in self.check() }
        remember()
        watchFolders()
    }

    /// Called after every reload attempt (SIGHUP or a change seen here): what was read then is
    /// the new baseline, and the descriptor sets may be others now.
    func remember() {
        files = [reloader.path] + reloader.current.descriptors
        seen = files.map(Self.contents)
    }

    private func watchFolders() {
        let folders = Set(files.map(Self.folder))
        for (folder, w) in watchers where !folders.contains(folder) {
            w.close()
            watchers[folder] = nil
        }
        for folder in folders where watchers[folder] == nil {
            do {
                watchers[folder] = try FileWatcher(loop: loop, directory: folder) { [unowned self] _ in
                    self.settle.start(timeoutMs: Self.settleMs)   // restarts: the last event counts
                }
            } catch {
                gatewayLog.error("--watch: cannot watch \(folder): \(error)")
            }
        }
    }

    private func check() {
        guard files.map(Self.contents) != seen else { return }
        reloader.reload()   // calls `remember` through its hook
        watchFolders()
    }

    func close() {
        settle.close()
        for w in watchers.values { w.close() }
        watchers.removeAll()
    }

    static func contents(_ path: String) -> [UInt8]? {
        if case .success(let bytes) = ConfigLoader.readFile(path) { return bytes }
        return nil
    }

    static func folder(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

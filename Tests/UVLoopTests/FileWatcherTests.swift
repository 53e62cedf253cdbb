import Glibc
import Testing
import UVLoop

/// FileWatcher in the loop tests' style: count callbacks, a watchdog that must never fire, and
/// no handle left at the end.
@Suite struct FileWatcherTests {
    /// A folder is watched; a file in it is replaced by a rename (as editors and ConfigMap volumes
    /// do). The callback names the entry, on the loop; after close the loop ends by itself.
    @Test func seesARenameIntoTheWatchedFolder() throws {
        let loop = try Loop()
        var template = Array("/tmp/trestle-watch-XXXXXX".utf8CString)
        let folder = String(cString: mkdtemp(&template)!)
        defer { _ = rmdir(folder) }
        var names: [String?] = []
        var watchdogFired = 0
        var watcher: FileWatcher?
        var watchdog: UVLoop.Timer?
        watchdog = UVLoop.Timer(loop: loop) {
            watchdogFired += 1
            watcher?.close()
            watchdog?.close()
        }
        watchdog?.start(timeoutMs: 10_000)
        watcher = try FileWatcher(loop: loop, directory: folder) { name in
            names.append(name)
            guard name == "routes.yaml" else { return }
            watcher?.close()
            watcher = nil
            watchdog?.close()
            watchdog = nil
        }
        // Written under another name, then renamed over the watched one.
        let staged = folder + "/.routes.yaml.tmp", target = folder + "/routes.yaml"
        let fd = open(staged, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        _ = write(fd, "workers: 1\n", 11)
        close(fd)
        #expect(rename(staged, target) == 0)
        loop.run()
        _ = unlink(target)

        #expect(watchdogFired == 0, "the watchdog fired: no event for the rename")
        #expect(names.contains("routes.yaml"))
        UVLoopTests.expectNoHandles(loop)
    }

    /// Watching a folder that does not exist is an error at once, and leaves no handle behind.
    @Test func aMissingFolderIsAnError() throws {
        let loop = try Loop()
        #expect(throws: UVError.self) {
            _ = try FileWatcher(loop: loop, directory: "/nonexistent/trestle-watch") { _ in }
        }
        loop.run()   // runs the close callback
        UVLoopTests.expectNoHandles(loop)
    }
}

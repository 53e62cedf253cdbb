import CLibUV

/// Watches one directory for changes to the entries in it (uv_fs_event: inotify on Linux; not
/// recursive). The callback gets the changed entry's name (nil when the kernel gave none).
/// Directories rather than files are watched because editors and Kubernetes replace files by
/// renaming (a ConfigMap volume swaps its `..data` symlink), which ends a watch on the file
/// itself. Loop-thread only; the owner is retained while open.
public final class FileWatcher: LoopClosable {
    let handle: UnsafeMutablePointer<uv_fs_event_t>
    private let callback: (String?) -> Void
    private var closed = false

    public init(loop: Loop, directory: String, _ callback: @escaping (String?) -> Void) throws(UVError) {
        self.callback = callback
        handle = HandleBox.allocate(uv_fs_event_t.self)
        uv_fs_event_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let rc = uv_fs_event_start(handle, { h, name, _, status in
            guard status >= 0 else { return }
            HandleBox.owner(UnsafeMutableRawPointer(h), as: FileWatcher.self)?.callback(name.map { cString($0) })
        }, directory, 0)
        if rc < 0 {
            close()
            throw UVError(rc)
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        HandleBox.close(handle)
    }
}

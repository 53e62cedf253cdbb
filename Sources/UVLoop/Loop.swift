import CLibUV

/// An error reported by libuv: its negative error code, named and described.
public struct UVError: Error, Sendable, CustomStringConvertible, Equatable {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var name: String { cString(uv_err_name(code)) }
    public var description: String { cString(uv_strerror(code)) }
    public static let eof = UVError(Int32(UV_EOF.rawValue))
    public static let canceled = UVError(Int32(UV_ECANCELED.rawValue))
    public static let timedOut = UVError(Int32(UV_ETIMEDOUT.rawValue))
}

@inline(__always)
func check(_ rc: Int32) throws(UVError) {
    if rc < 0 { throw UVError(rc) }
}

/// One libuv event loop. Owned by exactly one thread: every method, and every object created
/// on this loop, may be used only from the thread that runs it (the one exception is `Wakeup.send`).
///
/// The loop also owns the single read buffer that all its streams read into: a read callback
/// must consume or copy what it keeps before returning (docs/ARCHITECTURE.md §9).
public final class Loop {
    public let raw: UnsafeMutablePointer<uv_loop_t>
    let readBuffer: UnsafeMutablePointer<CChar>
    static let readBufferSize = 256 * 1024

    public init() throws(UVError) {
        raw = .allocate(capacity: 1)
        let rc = uv_loop_init(raw)
        if rc < 0 {
            raw.deallocate()
            throw UVError(rc)
        }
        readBuffer = .allocate(capacity: Loop.readBufferSize)
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Runs until no active handle is left or `stop()` is called.
    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    public func stop() {
        uv_stop(raw)
    }

    /// The loop's cached time in milliseconds (updated at the start of each turn).
    public var now: UInt64 { uv_now(raw) }

    public func updateTime() { uv_update_time(raw) }

    /// Closes every handle still open on the loop (each owner's close callback runs, releasing it),
    /// then runs the loop until they are all gone. Call once, when the thread is about to exit.
    public func closeAllHandles() {
        uv_walk(raw, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            if let data = handle.pointee.data {
                let owner = Unmanaged<AnyObject>.fromOpaque(data).takeUnretainedValue()
                if let closable = owner as? LoopClosable {
                    closable.close()
                    return
                }
            }
            uv_close(handle, nil)
        }, nil)
        uv_run(raw, UV_RUN_DEFAULT)
    }

    deinit {
        _ = uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
    }
}

/// Every handle owner on a loop can be closed; `Loop.closeAllHandles` uses it at exit.
public protocol LoopClosable: AnyObject {
    func close()
}

/// Monotonic clock in nanoseconds (uv_hrtime).
public func monotonicNanoseconds() -> UInt64 { uv_hrtime() }

/// Writes a line to standard error without buffering (C globals are not usable from Swift 6).
public func writeStderr(_ text: String) {
    var line = text
    line.withUTF8 { buf in
        buf.withMemoryRebound(to: CChar.self) { trestle_write_stderr($0.baseAddress, $0.count) }
    }
}

/// Writes `line` and a line feed to standard error without buffering.
public func printStderr(_ line: String) {
    writeStderr(line + "\n")
}

/// The number of CPUs available to this process.
public func availableParallelism() -> Int {
    Int(uv_available_parallelism())
}

func cString(_ p: UnsafePointer<CChar>?) -> String {
    guard let p else { return "" }
    let n = strlen(p)
    return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
}

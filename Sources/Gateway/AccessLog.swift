import Channel
import Glibc
import Synchronization
import UVLoop

/// The access log's file (README "Access log"): one writer thread, so that no worker ever blocks
/// on a disk or a pipe. Workers hand it their lines once per loop turn (`submit`, one lock per
/// turn, never per call); it writes them with write(2). Bounded: while more than `maxPending`
/// bytes wait (a disk that cannot keep up), new lines are dropped and counted, never queued.
/// SIGUSR1 asks it to reopen the file (after logrotate moved it).
final class AccessLogWriter: @unchecked Sendable {
    static let maxPending = 64 << 20
    /// `stdout`, `-`, or a file path.
    let path: String
    private let toStdout: Bool
    private var fd: Int32
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Under `mutex`.
    private var pending: [UInt8] = []
    private var reopenRequested = false
    private var stopping = false
    private var thread = pthread_t()
    /// Lines dropped because the writer was behind (`/metrics`).
    let dropped = Atomic<UInt64>(0)
    /// Lines written.
    let written = Atomic<UInt64>(0)

    /// Opens the file (appending; created 0644 if missing). Throws with the reason.
    init(path: String) throws {
        self.path = path
        toStdout = path == "stdout" || path == "-"
        // Before anything can throw: deinit destroys them.
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        fd = toStdout ? 1 : Self.open(path)
        if fd < 0 { throw StartupError("access_log \(path): cannot open: \(String(cString: strerror(errno)))") }
        pending.reserveCapacity(64 * 1024)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    private static func open(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            Unmanaged<AccessLogWriter>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
    }

    /// Writes what is queued, then ends the thread.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
    }

    /// Thread-safe: reopen the file before the next write.
    func requestReopen() {
        pthread_mutex_lock(mutex)
        reopenRequested = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Thread-safe: takes `lines` (whole lines; `lines` is left empty, its capacity kept).
    func submit(_ lines: inout [UInt8], count: Int) {
        pthread_mutex_lock(mutex)
        if pending.count + lines.count > Self.maxPending {
            dropped.add(UInt64(count), ordering: .relaxed)
            lines.removeAll(keepingCapacity: true)
        } else if pending.isEmpty {
            swap(&pending, &lines)  // no copy: the worker gets the writer's empty buffer back
        } else {
            pending.append(contentsOf: lines)
            lines.removeAll(keepingCapacity: true)
        }
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
        written.add(UInt64(count), ordering: .relaxed)
    }

    private func run() {
        var batch: [UInt8] = []
        batch.reserveCapacity(64 * 1024)
        while true {
            pthread_mutex_lock(mutex)
            while pending.isEmpty && !reopenRequested && !stopping { pthread_cond_wait(cond, mutex) }
            swap(&pending, &batch)
            let reopen = reopenRequested
            reopenRequested = false
            let stop = stopping
            pthread_mutex_unlock(mutex)
            if reopen && !toStdout {
                let next = Self.open(path)
                if next >= 0 {
                    Glibc.close(fd)
                    fd = next
                } else {
                    gatewayLog.error("access_log \(path): cannot reopen: \(String(cString: strerror(errno))); still writing to the old file")
                }
            }
            writeAll(batch)
            batch.removeAll(keepingCapacity: true)
            if stop { break }
        }
        if !toStdout { Glibc.close(fd) }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // a full disk or a closed pipe: these lines are lost, the gateway goes on
                }
                offset += n
            }
        }
    }
}

/// One worker's access-log lines for the current loop turn: `append` formats a call's line into
/// a byte buffer (no String is built for it), and the flush at the end of the turn hands the
/// buffer to the writer thread. Loop-thread only.
final class AccessLog: Flushable {
    let writer: AccessLogWriter
    private unowned let flushQueue: FlushQueue
    private var buffer: [UInt8] = []
    private var lines = 0
    var flushScheduled = false
    /// The `YYYY-MM-DDTHH:MM:SS` of `cachedSecond` (formatted once per second).
    private var cachedSecond = -1
    private var cachedPrefix: [UInt8] = []

    init(writer: AccessLogWriter, flushQueue: FlushQueue) {
        self.writer = writer
        self.flushQueue = flushQueue
        buffer.reserveCapacity(64 * 1024)
    }

    func flush() {
        guard lines > 0 else { return }
        writer.submit(&buffer, count: lines)
        lines = 0
    }

    /// The line of a finished call (README "Access log" lists the fields).
    func append(_ call: Call, _ ending: CallStateMachine.Ending, durationNs: UInt64) {
        let client = call.client
        let series = call.metricsSeries
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let startUs = Int(now.tv_sec) * 1_000_000 + Int(now.tv_nsec) / 1000 - Int(durationNs / 1000)
        put("{\"time\":\"")
        putTime(microseconds: startUs)
        put("\",\"peer\":")
        putString(client.peerText)
        put(",\"protocol\":\"")
        put(call.frontend.callProtocol.name)
        put("\",\"http\":\"")
        put(client.httpVersion)
        put("\",\"path\":")
        putString(client.requestTarget, limit: 1024)
        let known = series !== call.worker.methods.unrouted && series !== call.worker.methods.overflow
        put(",\"service\":")
        putString(known ? series.service : nil)
        put(",\"method\":")
        putString(known ? series.method : nil)
        put(",\"http_status\":")
        putInt(client.responseStatus)
        put(",\"grpc_status\":")
        putInt(Int(ending.code.rawValue))
        if ending.code != .ok {
            put(",\"grpc_message\":")
            putString(ending.message, limit: 1024)
        }
        put(",\"request_bytes\":")
        putInt(call.requestBytes)
        put(",\"response_bytes\":")
        putInt(call.responseBytes)
        put(",\"request_messages\":")
        putInt(call.requestMessages)
        put(",\"response_messages\":")
        putInt(call.responseMessages)
        put(",\"duration_ms\":")
        let us = Int(durationNs / 1000)
        putInt(us / 1000)
        buffer.append(UInt8(ascii: "."))
        let frac = us % 1000
        buffer.append(UInt8(48 + frac / 100))
        buffer.append(UInt8(48 + frac / 10 % 10))
        buffer.append(UInt8(48 + frac % 10))
        put(",\"upstream\":")
        putString(call.upstreamEndpoint)
        put(",\"request_id\":")
        putRequestID(call.upstreamHead)
        put("}\n")
        lines += 1
        if !flushScheduled { flushQueue.schedule(self) }
    }

    // MARK: formatting

    @inline(__always)
    private func put(_ s: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private func put(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
    }

    private func putInt(_ value: Int) {
        var v = value
        if v < 0 {
            buffer.append(UInt8(ascii: "-"))
            v = -v
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = 0
            repeat {
                digits[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            while n > 0 {
                n -= 1
                buffer.append(digits[n])
            }
        }
    }

    /// A JSON string (escaped), or `null`; at most `limit` bytes of it.
    private func putString(_ s: String?, limit: Int = 256) {
        guard var s else {
            put("null")
            return
        }
        s.withUTF8 { putEscaped(UnsafeRawBufferPointer($0), limit: limit) }
    }

    private func putEscaped(_ bytes: UnsafeRawBufferPointer, limit: Int) {
        buffer.append(UInt8(ascii: "\""))
        let hex: StaticString = "0123456789abcdef"
        for b in bytes.prefix(limit) {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(b)
            case 0 ..< 0x20, 0x7F:
                // Controls as \u00XX; bytes ≥ 0x80 are copied (a path or message that is not
                // UTF-8 was already made valid by String(decoding:)).
                put("\\u00")
                buffer.append(hex.utf8Start[Int(b >> 4)])
                buffer.append(hex.utf8Start[Int(b & 15)])
            default:
                buffer.append(b)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private func putRequestID(_ head: Metadata?) {
        if let head {
            for i in 0 ..< head.count {
                let (name, value) = head.field(i)
                if name.equals("x-request-id") {
                    putEscaped(value, limit: 256)
                    return
                }
            }
        }
        put("null")
    }

    /// RFC 3339 UTC with milliseconds; the date and time of day are formatted once per second.
    private func putTime(microseconds: Int) {
        let second = microseconds / 1_000_000
        if second != cachedSecond {
            cachedSecond = second
            var t = time_t(second)
            var tm = Glibc.tm()
            gmtime_r(&t, &tm)
            let text = String(format4: Int(tm.tm_year) + 1900) + "-" + String(pad2: Int(tm.tm_mon) + 1) + "-"
                + String(pad2: Int(tm.tm_mday)) + "T" + String(pad2: Int(tm.tm_hour)) + ":"
                + String(pad2: Int(tm.tm_min)) + ":" + String(pad2: Int(tm.tm_sec))
            cachedPrefix = Array(text.utf8)
        }
        buffer.append(contentsOf: cachedPrefix)
        let ms = microseconds / 1000 % 1000
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(48 + ms / 100))
        buffer.append(UInt8(48 + ms / 10 % 10))
        buffer.append(UInt8(48 + ms % 10))
        buffer.append(UInt8(ascii: "Z"))
    }
}

private extension String {
    init(pad2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
    init(format4 v: Int) {
        let digits = String(v)
        self = String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }
}

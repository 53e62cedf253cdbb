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
    /// `logging.access_log_buffer`.
    let maxPending: Int
    /// `stdout`, `-`, or a file path.
    let path: String
    private let toStdout: Bool
    private var fd: Int32
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Under `mutex`.
    /// Buffers handed over by workers, in order, and empty ones to hand back.
    private var pending: [AccessLogChunk] = []
    private var pendingBytes = 0
    private var spare: [AccessLogChunk] = []
    private var reopenRequested = false
    private var stopping = false
    private var finished = false
    private var thread = pthread_t()
    /// Lines dropped because the writer was behind (`/metrics`).
    let dropped = Atomic<UInt64>(0)
    /// Lines written.
    let written = Atomic<UInt64>(0)

    /// Opens the file (appending; created 0644 if missing). Throws with the reason.
    init(path: String, maxPending: Int = 64 << 20) throws {
        self.path = path
        self.maxPending = maxPending
        toStdout = path == "stdout" || path == "-"
        // Before anything can throw: deinit destroys them.
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        fd = toStdout ? 1 : Self.open(path)
        if fd < 0 { throw StartupError("access_log \(path): cannot open: \(String(cString: strerror(errno)))") }
        pending.reserveCapacity(64)
        spare.reserveCapacity(64)
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
        thread = startThread { self.run() }
    }

    /// Writes what is queued, then ends the thread — waiting at most 2 s, so that a log
    /// destination that takes nothing (a pipe nobody reads) cannot keep the process from exiting.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(cond)
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += 2
        while !finished {
            if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { break }
        }
        let done = finished
        pthread_mutex_unlock(mutex)
        if done {
            pthread_join(thread, nil)
        } else {
            pthread_detach(thread)
            gatewayLog.warning("access_log \(path): the last lines could not be written within 2s")
        }
    }

    /// Thread-safe: reopen the file before the next write.
    func requestReopen() {
        pthread_mutex_lock(mutex)
        reopenRequested = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Thread-safe: takes `chunk` (`lines` whole lines) and gives back an empty buffer for the
    /// next turn — the bytes change hands, they are not copied. While more than `maxPending`
    /// bytes wait, the lines are dropped and the same buffer comes back, emptied.
    func submit(_ chunk: AccessLogChunk, lines: Int) -> AccessLogChunk {
        pthread_mutex_lock(mutex)
        let dropping = pendingBytes + chunk.count > maxPending
        var back = chunk
        if !dropping {
            pending.append(chunk)
            pendingBytes += chunk.count
            back = spare.popLast() ?? AccessLogChunk(capacity: chunk.capacity)
            pthread_cond_broadcast(cond)
        }
        pthread_mutex_unlock(mutex)
        back.count = 0
        if dropping {
            dropped.add(UInt64(lines), ordering: .relaxed)
        } else {
            written.add(UInt64(lines), ordering: .relaxed)
        }
        return back
    }

    private func run() {
        var batch: [AccessLogChunk] = []
        batch.reserveCapacity(64)
        while true {
            pthread_mutex_lock(mutex)
            while pending.isEmpty && !reopenRequested && !stopping { pthread_cond_wait(cond, mutex) }
            // The written chunks of the last round become spares; the waiting ones are taken.
            for var c in batch {
                c.count = 0
                if spare.count < 64 { spare.append(c) } else { c.deallocate() }
            }
            batch.removeAll(keepingCapacity: true)
            swap(&pending, &batch)
            pendingBytes = 0
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
            for c in batch { writeAll(UnsafeRawBufferPointer(start: c.base, count: c.count)) }
            if stop { break }
        }
        if !toStdout { Glibc.close(fd) }
        pthread_mutex_lock(mutex)
        for c in batch + spare + pending { c.deallocate() }
        spare.removeAll()
        pending.removeAll()
        finished = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) {
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

/// A buffer of access-log lines that changes hands between a worker and the writer thread
/// (owned by one of them at a time; freed with `deallocate`).
struct AccessLogChunk: @unchecked Sendable {
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int
    var count = 0

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    func deallocate() { base.deallocate() }

    /// Twice the room, keeping the bytes.
    mutating func grow() {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}

/// One worker's access-log lines for the current loop turn: `append` formats a call's line
/// straight into a raw byte buffer (no String, no Array growth checks per byte), and the flush
/// at the end of the turn hands the bytes to the writer thread. Loop-thread only.
final class AccessLog: Flushable {
    let writer: AccessLogWriter
    private unowned let flushQueue: FlushQueue
    /// The longest line: fixed text, numbers, and each string at most `limit` bytes, escaped
    /// (6 bytes per byte at worst): path 1024, message 1024, the others 256.
    static let maxLine = 512 + 6 * (1024 + 1024 + 6 * 256)
    /// The turn's lines; `base` and `count` are the chunk's, kept apart while a line is written.
    private var chunk = AccessLogChunk(capacity: 64 * 1024)
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var lines = 0
    var flushScheduled = false
    /// The `YYYY-MM-DDTHH:MM:SS` of `cachedSecond` (formatted once per second), 19 bytes.
    private var cachedSecond = -1
    private var cachedPrefix = [UInt8](repeating: 0, count: 19)

    init(writer: AccessLogWriter, flushQueue: FlushQueue) {
        self.writer = writer
        self.flushQueue = flushQueue
        base = chunk.base
    }

    deinit { chunk.deallocate() }

    func flush() {
        guard lines > 0 else { return }
        chunk.count = count
        chunk = writer.submit(chunk, lines: lines)
        base = chunk.base
        count = 0
        lines = 0
    }

    /// The line of a finished call (README "Access log" lists the fields).
    func append(_ call: Call, _ ending: CallStateMachine.Ending, durationNs: UInt64) {
        if chunk.capacity - count < Self.maxLine {
            // A turn with many calls: grow (the chunk is handed over at every flush).
            chunk.count = count
            chunk.grow()
            base = chunk.base
        }
        let client = call.client
        let series = call.metricsSeries
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let startUs = Int(now.tv_sec) &* 1_000_000 &+ Int(now.tv_nsec) / 1000 &- Int(durationNs / 1000)
        put("{\"time\":\"")
        putTime(microseconds: startUs)
        put("\",\"peer\":")
        putPlain(client.peerText)
        put(",\"protocol\":\"")
        put(call.frontend.callProtocol.name)
        put("\",\"http\":\"")
        put(client.httpVersion)
        put("\",\"path\":")
        client.withRequestTarget { putEscaped($0, limit: 1024) }
        series.logFields.withUnsafeBytes { put($0) }
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
        let frac = us % 1000
        base[count] = UInt8(ascii: ".")
        base[count + 1] = UInt8(48 + frac / 100)
        base[count + 2] = UInt8(48 + frac / 10 % 10)
        base[count + 3] = UInt8(48 + frac % 10)
        count += 4
        put(",\"upstream\":")
        putPlain(call.upstreamEndpoint)
        put(",\"request_id\":")
        putRequestID(call.upstreamHead)
        put("}\n")
        lines += 1
        if !flushScheduled { flushQueue.schedule(self) }
    }

    // MARK: formatting (capacity for a whole line was made sure of in `append`)

    @inline(__always)
    private func put(_ s: StaticString) {
        Self.copy(to: UnsafeMutableRawPointer(base + count), from: UnsafeRawPointer(s.utf8Start), count: s.utf8CodeUnitCount)
        count += s.utf8CodeUnitCount
    }

    @inline(__always)
    private func put(_ bytes: UnsafeRawBufferPointer) {
        guard let p = bytes.baseAddress, !bytes.isEmpty else { return }
        Self.copy(to: UnsafeMutableRawPointer(base + count), from: p, count: bytes.count)
        count += bytes.count
    }

    /// memcpy, but the short copies of a line (8-32 bytes: most of its keys and values) as two or
    /// four overlapping unaligned 8-byte moves, which never read outside the source: a call to
    /// memcpy costs more than the copy at these sizes.
    @inline(__always)
    private static func copy(to dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, count n: Int) {
        if n >= 8 && n <= 16 {
            let a = src.loadUnaligned(as: UInt64.self), b = src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            dst.storeBytes(of: a, as: UInt64.self)
            dst.storeBytes(of: b, toByteOffset: n - 8, as: UInt64.self)
        } else if n > 16 && n <= 32 {
            let a = src.loadUnaligned(as: UInt64.self), b = src.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let c = src.loadUnaligned(fromByteOffset: n - 16, as: UInt64.self)
            let d = src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            dst.storeBytes(of: a, as: UInt64.self)
            dst.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            dst.storeBytes(of: c, toByteOffset: n - 16, as: UInt64.self)
            dst.storeBytes(of: d, toByteOffset: n - 8, as: UInt64.self)
        } else if n < 8 {
            for i in 0 ..< n { dst.storeBytes(of: src.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
        } else {
            dst.copyMemory(from: src, byteCount: n)
        }
    }

    private func putInt(_ value: Int) {
        if value >= 0 && value < 1000 {
            // Most values of a line (statuses, small counts): no loop.
            if value < 10 {
                base[count] = UInt8(truncatingIfNeeded: 48 &+ value)
                count += 1
            } else if value < 100 {
                base[count] = UInt8(truncatingIfNeeded: 48 &+ value / 10)
                base[count + 1] = UInt8(truncatingIfNeeded: 48 &+ value % 10)
                count += 2
            } else {
                base[count] = UInt8(truncatingIfNeeded: 48 &+ value / 100)
                base[count + 1] = UInt8(truncatingIfNeeded: 48 &+ value / 10 % 10)
                base[count + 2] = UInt8(truncatingIfNeeded: 48 &+ value % 10)
                count += 3
            }
            return
        }
        var v = value
        if v < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
            v = 0 &- v
        }
        var digits = 1
        var scan = v
        while scan >= 10 {
            scan /= 10
            digits += 1
        }
        var i = count + digits
        repeat {
            i -= 1
            base[i] = UInt8(48 + v % 10)
            v /= 10
        } while v > 0
        count += digits
    }

    /// A string that needs no escaping (an address: digits, dots, colons, brackets), or `null`.
    private func putPlain(_ s: String?) {
        guard var s else {
            put("null")
            return
        }
        base[count] = UInt8(ascii: "\"")
        count += 1
        s.withUTF8 { put(UnsafeRawBufferPointer($0)) }
        base[count] = UInt8(ascii: "\"")
        count += 1
    }

    /// A JSON string (escaped), or `null`; at most `limit` bytes of it.
    private func putString(_ s: String?, limit: Int = 256) {
        guard var s else {
            put("null")
            return
        }
        s.withUTF8 { putEscaped(UnsafeRawBufferPointer($0), limit: limit) }
    }

    private func putEscaped(_ whole: UnsafeRawBufferPointer, limit: Int) {
        var n = min(whole.count, limit)
        // Cut at a character boundary (never inside a UTF-8 sequence).
        if n < whole.count { while n > 0 && whole[n] & 0xC0 == 0x80 { n -= 1 } }
        let bytes = UnsafeRawBufferPointer(rebasing: whole[0 ..< n])
        base[count] = UInt8(ascii: "\"")
        count += 1
        var start = 0
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            base[count] = UInt8(ascii: "\"")
            count += 1
            return
        }
        var i = 0
        let end = bytes.count
        while i < end {
            guard JSONString.needsEscape(p[i]) else {
                i &+= 1
                continue
            }
            // The run before it as it is, then the escape (bytes >= 0x80 are copied: a path or
            // message that is not UTF-8 was already made valid by String(decoding:)).
            put(UnsafeRawBufferPointer(rebasing: bytes[start ..< i]))
            JSONString.escape(p[i]) { b in
                base[count] = b
                count += 1
            }
            start = i + 1
            i &+= 1
        }
        put(UnsafeRawBufferPointer(rebasing: bytes[start...]))
        base[count] = UInt8(ascii: "\"")
        count += 1
    }

    private func putRequestID(_ head: Metadata?) {
        if let head {
            for i in 0 ..< head.count {
                let (name, value) = head.field(i)
                if name.count == 12 && name[0] == UInt8(ascii: "x") && name.equals("x-request-id") {
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
            let parts = [Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec)]
            var text = String(parts[0])
            for (p, sep) in zip(parts.dropFirst(), ["-", "-", "T", ":", ":"]) { text += sep + (p < 10 ? "0" : "") + String(p) }
            cachedPrefix = Array(text.utf8.prefix(19))
        }
        cachedPrefix.withUnsafeBytes { put($0) }
        let ms = microseconds / 1000 % 1000
        base[count] = UInt8(ascii: ".")
        base[count + 1] = UInt8(48 + ms / 100)
        base[count + 2] = UInt8(48 + ms / 10 % 10)
        base[count + 3] = UInt8(48 + ms % 10)
        base[count + 4] = UInt8(ascii: "Z")
        count += 5
    }
}

import CLibUV

/// What a TCP stream reports. All calls on the loop thread.
public protocol TCPStreamDelegate: AnyObject {
    /// Bytes read; valid only during the call (the loop's shared read buffer).
    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer)
    /// The peer closed (error nil = EOF) or reading failed. The stream stays open until `close()`.
    func streamEnded(_ stream: TCPStream, error: UVError?)
    /// The one write in flight finished; its buffer may be reused.
    func streamWriteCompleted(_ stream: TCPStream, error: UVError?)
    /// An outgoing connect finished.
    func streamConnected(_ stream: TCPStream, error: UVError?)
}

public extension TCPStreamDelegate {
    func streamConnected(_ stream: TCPStream, error: UVError?) {}
}

/// A TCP connection on one loop. One write in flight at a time (the caller double-buffers);
/// reads go into the loop's shared buffer. Open until `close()`; the stream retains itself
/// while open, and drops its delegate when closed, which breaks the owner cycle.
public final class TCPStream: LoopClosable {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    private let writeReq: UnsafeMutablePointer<uv_write_t>
    public var delegate: TCPStreamDelegate?
    public private(set) var isClosed = false
    public private(set) var writeInFlight = false
    /// Bytes handed to `write` so far (written at once or queued).
    private var bytesQueued: UInt64 = 0

    /// Bytes the kernel has taken from this stream so far: those handed to `write` less those
    /// libuv still holds (`uv_stream_get_write_queue_size`). How fast a peer reads, byte for byte,
    /// even while one large write is in flight.
    public var bytesSent: UInt64 {
        guard !isClosed else { return bytesQueued }
        return bytesQueued &- UInt64(uv_stream_get_write_queue_size(asStream(handle)))
    }
    private var reading = false

    init(loop: Loop) {
        handle = HandleBox.allocate(uv_tcp_t.self)
        writeReq = .allocate(capacity: 1)
        uv_tcp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        writeReq.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit { writeReq.deallocate() }

    /// Starts a connection to `address`; `streamConnected` reports the outcome later. An error
    /// libuv reports at once is returned instead (the stream is then already closed), never
    /// delivered to the delegate from inside this call.
    public static func connect(loop: Loop, to address: ResolvedAddress,
                               delegate: TCPStreamDelegate) -> Result<TCPStream, UVError> {
        let s = TCPStream(loop: loop)
        s.delegate = delegate
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(s).toOpaque()
        let rc = address.withSockaddr { addr in
            uv_tcp_connect(req, s.handle, addr) { req, status in
                guard let req else { return }
                let s = Unmanaged<TCPStream>.fromOpaque(req.pointee.data!).takeRetainedValue()
                req.deallocate()
                guard !s.isClosed else { return }
                if status == 0 { s.setNoDelay() }
                s.delegate?.streamConnected(s, error: status < 0 ? UVError(status) : nil)
            }
        }
        if rc < 0 {
            Unmanaged<TCPStream>.fromOpaque(req.pointee.data!).release()
            req.deallocate()
            s.close()
            return .failure(UVError(rc))
        }
        return .success(s)
    }

    func setNoDelay() { uv_tcp_nodelay(handle, 1) }

    public func startReading() {
        guard !isClosed, !reading else { return }
        reading = true
        uv_read_start(asStream(handle), { h, _, buf in
            guard let h, let buf, let loopData = h.pointee.loop.pointee.data else { return }
            let loop = Unmanaged<Loop>.fromOpaque(loopData).takeUnretainedValue()
            buf.pointee = uv_buf_init(loop.readBuffer, UInt32(Loop.readBufferSize))
        }, { s, nread, _ in
            guard let stream = HandleBox.owner(UnsafeMutableRawPointer(s), as: TCPStream.self) else { return }
            stream.didRead(nread)
        })
    }

    private func didRead(_ nread: Int) {
        guard !isClosed else { return }
        if nread > 0 {
            let loop = Unmanaged<Loop>.fromOpaque(handle.pointee.loop.pointee.data!).takeUnretainedValue()
            delegate?.streamRead(self, UnsafeRawBufferPointer(start: loop.readBuffer, count: nread))
        } else if nread < 0 {
            stopReading()
            let err = UVError(Int32(nread))
            delegate?.streamEnded(self, error: err == .eof ? nil : err)
        }
    }

    public func stopReading() {
        guard !isClosed, reading else { return }
        reading = false
        uv_read_stop(asStream(handle))
    }

    /// Writes `bytes`. First tries the socket directly (uv_try_write): when everything fits,
    /// returns true and no completion follows — the caller may reuse the buffer at once. Otherwise
    /// the rest is queued (uv_write), returns false, and `streamWriteCompleted` follows; until
    /// then `bytes` must stay valid and unchanged. Precondition: no write in flight.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        precondition(!writeInFlight, "one write in flight per stream")
        guard !isClosed, bytes.count > 0 else { return true }
        bytesQueued &+= UInt64(bytes.count)
        let start = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
        var buf = uv_buf_init(start, UInt32(bytes.count))
        let n = uv_try_write(asStream(handle), &buf, 1)
        if n == Int32(bytes.count) { return true }
        if n > 0 { buf = uv_buf_init(start + Int(n), UInt32(bytes.count - Int(n))) }
        // EAGAIN or a partial write: queue the rest. Any other error is reported by uv_write's
        // callback, in order, like a failure of the queued write.
        writeInFlight = true
        let rc = uv_write(writeReq, asStream(handle), &buf, 1) { req, status in
            guard let req, let data = req.pointee.data else { return }
            let s = Unmanaged<TCPStream>.fromOpaque(data).takeUnretainedValue()
            s.writeInFlight = false
            guard !s.isClosed else { return }
            s.delegate?.streamWriteCompleted(s, error: status < 0 ? UVError(status) : nil)
        }
        if rc < 0 {
            writeInFlight = false
            delegate?.streamWriteCompleted(self, error: UVError(rc))
        }
        return false
    }

    /// Closes the socket. A write in flight is cancelled. Idempotent.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        delegate = nil
        HandleBox.close(handle)
    }

    /// The peer's address (for X-Forwarded-For and logs), or nil once the socket is gone.
    public var peerAddress: ResolvedAddress? {
        var a = ResolvedAddress()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &len) }
        }
        return rc == 0 ? a : nil
    }
}

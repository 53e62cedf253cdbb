import Channel
import CFreeList
import CNghttp2
import UVLoop

/// Which kind of header block a HEADERS frame carries.
public enum HTTP2HeadersKind: Sendable {
    case request, response, trailers
}

/// What a stream's data source has ready when nghttp2 asks for DATA.
public enum HTTP2DataReady {
    /// Nothing yet; `resumeData` when there is.
    case deferred
    /// `count` bytes are ready (at most maxLength); `http2WriteData` will be asked for exactly them.
    /// `end`: none, end the stream with this frame, or end the DATA and send trailers — in that
    /// case the delegate has already called `submitTrailer` on this stream during this call.
    case bytes(Int, end: HTTP2DataEnd)
}

public enum HTTP2DataEnd {
    case none, endStream, trailers
}

/// Events out of one HTTP/2 session, and the pull side of its streams' DATA.
/// Every method runs inside an nghttp2 callback on the loop thread: never call `receive` or
/// `produce` on the same session from here; submitting frames (any session) is allowed.
/// `userData` is what was attached to the stream (`setStreamUserData` / `submitRequest`), or nil.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A peer-initiated stream begins (server: a request's HEADERS).
    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32)
    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool)
    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer)
    /// The peer ended its side of the stream with a DATA frame.
    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?)
    /// The stream is closed: `errorCode` is the RST_STREAM code (RFC 9113 §7; raw, since codes
    /// `HTTP2ErrorCode` does not name occur on the wire), `noError` after a normal end.
    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32)
    /// The peer sent GOAWAY; `errorCode` as for `http2StreamClosed`.
    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32)
    func http2SettingsReceived(_ session: HTTP2Session)
    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady
    /// Fill `into` with exactly the bytes announced by the last `.bytes(n, …)` for this stream.
    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer)
}

/// Settings this side announces.
public struct HTTP2LocalSettings: Sendable {
    public var maxConcurrentStreams: UInt32
    public var initialStreamWindow: Int32
    public var connectionWindow: Int32
    public var maxFrameSize: UInt32
    /// SETTINGS_MAX_HEADER_LIST_SIZE (advisory; the receiver counts with `HeaderListLimit`).
    public var maxHeaderListSize: UInt32

    public init(maxConcurrentStreams: UInt32 = 1000, initialStreamWindow: Int32 = 1 << 20,
                connectionWindow: Int32 = 1 << 26, maxFrameSize: UInt32 = 16384,
                maxHeaderListSize: UInt32 = UInt32(HeaderListLimit.defaultMaxBytes)) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindow = initialStreamWindow
        self.connectionWindow = connectionWindow
        self.maxFrameSize = maxFrameSize
        self.maxHeaderListSize = maxHeaderListSize
    }
}

public struct HTTP2Error: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public var description: String {
        guard let p = nghttp2_strerror(code) else { return "nghttp2 error \(code)" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
    }
    /// The peer floods frames the session must answer (PING, SETTINGS: nghttp2's outbound ack
    /// limit): the connection is answered GOAWAY(ENHANCE_YOUR_CALM).
    public var isFlood: Bool { code == Int32(NGHTTP2_ERR_FLOODED.rawValue) }
}

/// One HTTP/2 session (server or client) over nghttp2: bytes in (`receive`), events out (delegate),
/// frames out (`produce` into an `OutputBuffer`). No sockets. Loop-thread only.
///
/// Flow control is manual (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE): window updates go out only for
/// bytes the application `consume`s, i.e. bytes the other side of the proxy has taken.
public final class HTTP2Session {
    public enum Role: Sendable { case server, client }

    let raw: OpaquePointer
    public let role: Role
    /// The connection that owns this session. Held strongly (a `let`, so calls through it need
    /// no retain); the owner breaks the cycle by dropping the session when it closes.
    let delegate: HTTP2SessionDelegate
    /// Set only during `produce` (unmanaged: `produce`'s caller holds it): where DATA frames
    /// written without copy go.
    private var producing: Unmanaged<OutputBuffer>?
    /// The bound `produce` was given: a DATA frame written without copy past it waits for the
    /// next round (nghttp2 serialises every NO_COPY frame of one `mem_send` in a row otherwise).
    private var producingLimit = 0
    private var dispatching = false
    /// The pool submitted header blocks come from (the worker's), or nil: nghttp2 copies every
    /// block then. With it, a block is given to nghttp2 without a copy (NO_COPY_NAME and
    /// NO_COPY_VALUE) and held here, unchanged, until nghttp2 has serialized or dropped its frame
    /// (`releaseHeldBlocks`); a block its owner gave back meanwhile goes back to this pool then.
    private let headerPool: MetadataPool?
    /// Blocks nghttp2 has without a copy, each retained once by hand (no reference counting
    /// when the list grows or is walked).
    private var held: ContiguousArray<Unmanaged<Metadata>> = []
    /// Past this many held blocks (frames that cannot go out: a peer that does not read), blocks
    /// are copied again, as without a pool.
    static let maxHeldBlocks = 1024

    /// `headerPool`: where the blocks submitted on this session come from (see `held`); every
    /// name in them must be lower case (RFC 9113 §8.2.1: nghttp2 lower-cases only what it copies).
    public init(role: Role, delegate: HTTP2SessionDelegate, settings: HTTP2LocalSettings, headerPool: MetadataPool? = nil) {
        self.role = role
        self.delegate = delegate
        self.headerPool = headerPool
        held.reserveCapacity(headerPool == nil ? 0 : 64)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_peer_max_concurrent_streams(option, 100)
        // A proxy relays streams; it does not schedule by RFC 7540 priority trees, and keeping
        // closed streams around for them costs work on every stream.
        nghttp2_option_set_no_closed_streams(option, 1)
        // Rapid reset (CVE-2023-44487): the server's own bucket (`ServerConnection`) answers
        // GOAWAY(ENHANCE_YOUR_CALM) first; nghttp2's (INTERNAL_ERROR) stays behind it as a backstop.
        if role == .server { nghttp2_option_set_stream_reset_rate_limit(option, 2 * 1000, 2 * 33) }
        var session: OpaquePointer?
        let callbacks = HTTP2Session.callbacks.pointer
        // `self` is not fully initialised yet: user_data is set right after.
        // nghttp2's own allocations go through per-thread free lists (see the CNghttp2 shim).
        var mem = nghttp2_mem(mem_user_data: nil, malloc: trestle_freelist_malloc, free: trestle_freelist_free,
                              calloc: trestle_freelist_calloc, realloc: trestle_freelist_realloc)
        if role == .server {
            nghttp2_session_server_new3(&session, callbacks, nil, option, &mem)
        } else {
            nghttp2_session_client_new3(&session, callbacks, nil, option, &mem)
        }
        nghttp2_option_del(option)
        raw = session!
        nghttp2_session_set_user_data(raw, Unmanaged.passUnretained(self).toOpaque())

        var iv: [nghttp2_settings_entry] = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(settings.initialStreamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue),
                                   value: settings.maxFrameSize),
            // RFC 9218: no RFC 7540 priority tree (nghttp2 then schedules streams round-robin).
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
            // Advisory (RFC 9113 §6.5.2): the receiving side enforces its bound itself
            // (`HeaderListLimit`), since nghttp2 does not.
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: settings.maxHeaderListSize),
        ]
        if role == .server {
            iv.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                             value: settings.maxConcurrentStreams))
        } else {
            iv.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        nghttp2_submit_settings(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), iv, iv.count)
        nghttp2_session_set_local_window_size(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow)
    }

    deinit {
        // Does not call on_stream_close: the owner must have released its streams (docs/ARCHITECTURE.md §9).
        nghttp2_session_del(raw)
        releaseHeldBlocks()
    }

    // MARK: input and output

    /// Feeds bytes read from the socket. Returns an error when the connection must be closed
    /// (after a final `produce`, which may carry a GOAWAY).
    public func receive(_ bytes: UnsafeRawBufferPointer) -> HTTP2Error? {
        precondition(!dispatching, "re-entrant receive")
        dispatching = true
        defer { dispatching = false }
        let n = nghttp2_session_mem_recv(raw, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        return n < 0 ? HTTP2Error(code: Int32(n)) : nil
    }

    /// Serializes pending frames into `out` until nothing is left or `out` holds `limit` bytes.
    public func produce(into out: OutputBuffer, limit: Int) -> HTTP2Error? {
        precondition(!dispatching, "re-entrant produce")
        dispatching = true
        producing = Unmanaged.passUnretained(out)
        producingLimit = limit
        defer { producing = nil; dispatching = false }
        while out.count < limit {
            var p: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(raw, &p)
            if n < 0 { return HTTP2Error(code: Int32(n)) }
            if n == 0 { break }
            out.append(UnsafeRawBufferPointer(start: p, count: n))
        }
        // Frames leave nghttp2's queues in an order of its own: once they are all empty, every
        // HEADERS frame submitted has been serialized (or dropped, its stream gone) and no held
        // block is read again.
        if !held.isEmpty && nghttp2_session_get_outbound_queue_size(raw) == 0 { releaseHeldBlocks() }
        return nil
    }

    /// Lets go of every held block; one its owner gave back while held goes back to the pool.
    private func releaseHeldBlocks() {
        guard let pool = headerPool else { return }
        for u in held {
            let h = u.takeRetainedValue()  // the session's reference, handed on or dropped here
            h.holds -= 1
            if h.holds == 0 && h.givenBackWhileHeld {
                h.givenBackWhileHeld = false
                pool.give(h)
            }
        }
        held.removeAll(keepingCapacity: true)
    }

    /// Whether `headers` goes to nghttp2 without a copy: it is then held until its frame is serialized.
    @inline(__always)
    private func hold(_ headers: Metadata) -> Bool {
        guard headerPool != nil, held.count < HTTP2Session.maxHeldBlocks else { return false }
        headers.holds += 1
        held.append(Unmanaged.passRetained(headers))
        return true
    }

    /// A server accepting HTTP/1.1 `Upgrade: h2c` (RFC 7540 §3.2): applies the client's
    /// `HTTP2-Settings` (decoded from base64url) and makes the upgrading request stream 1,
    /// half-closed (remote), with `userData`. Call before feeding any of the client's bytes.
    public func upgrade(settingsPayload: [UInt8], headRequest: Bool, userData: UnsafeMutableRawPointer?) -> HTTP2Error? {
        let rc = settingsPayload.withUnsafeBufferPointer {
            nghttp2_session_upgrade2(raw, $0.baseAddress, $0.count, headRequest ? 1 : 0, userData)
        }
        return rc < 0 ? HTTP2Error(code: rc) : nil
    }

    public var wantsRead: Bool { nghttp2_session_want_read(raw) != 0 }
    public var wantsWrite: Bool { nghttp2_session_want_write(raw) != 0 }

    // MARK: streams

    public func setStreamUserData(_ streamID: Int32, _ data: UnsafeMutableRawPointer?) {
        nghttp2_session_set_stream_user_data(raw, streamID, data)
        if cachedStreamID == streamID { cachedUserData = data }
    }

    /// The last stream's user data, remembered: a header block's fields and a DATA frame's
    /// chunks arrive as runs of callbacks for one stream, each of which would otherwise be a
    /// hash lookup in nghttp2. Stream IDs are never reused within a session, so the entry stays
    /// right until the user data is changed (above).
    private var cachedStreamID: Int32 = 0
    private var cachedUserData: UnsafeMutableRawPointer?

    @inline(__always)
    func userData(_ streamID: Int32) -> UnsafeMutableRawPointer? {
        if streamID == cachedStreamID { return cachedUserData }
        let data = nghttp2_session_get_stream_user_data(raw, streamID)
        cachedStreamID = streamID
        cachedUserData = data
        return data
    }

    /// Client: opens a stream. Returns the stream ID, or a negative nghttp2 error
    /// (NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE when the connection has used all its IDs).
    public func submitRequest(_ headers: Metadata, source: UnsafeMutableRawPointer, endStream: Bool = false) -> Int32 {
        let raw = self.raw
        return headers.withNV(copy: !hold(headers)) { nv, n in
            if endStream {
                return nghttp2_submit_request(raw, nil, nv, n, nil, source)
            }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: source),
                                                 read_callback: HTTP2Session.readCallback)
            return nghttp2_submit_request(raw, nil, nv, n, &provider, source)
        }
    }

    /// Server: sends response headers; with `hasBody` DATA is pulled from the delegate with `source`,
    /// without it the HEADERS frame ends the stream (a trailers-only gRPC response).
    @discardableResult
    public func submitResponse(streamID: Int32, _ headers: Metadata, hasBody: Bool,
                               source: UnsafeMutableRawPointer?) -> Int32 {
        let raw = self.raw
        return headers.withNV(copy: !hold(headers)) { nv, n in
            if !hasBody {
                return nghttp2_submit_response(raw, streamID, nv, n, nil)
            }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: source),
                                                 read_callback: HTTP2Session.readCallback)
            return nghttp2_submit_response(raw, streamID, nv, n, &provider)
        }
    }

    /// Trailers. Call from `http2DataReady` when returning `.bytes(_, end: .trailers)`.
    @discardableResult
    public func submitTrailer(streamID: Int32, _ headers: Metadata) -> Int32 {
        let raw = self.raw
        return headers.withNV(copy: !hold(headers)) { nv, n in nghttp2_submit_trailer(raw, streamID, nv, n) }
    }

    /// A deferred data source has something again.
    public func resumeData(streamID: Int32) {
        nghttp2_session_resume_data(raw, streamID)
    }

    /// RST_STREAM with `errorCode`, an `HTTP2ErrorCode`'s raw value.
    public func resetStream(streamID: Int32, errorCode: UInt32) {
        nghttp2_submit_rst_stream(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// Opens the peer's window for `count` bytes of this stream that the application has taken.
    public func consume(streamID: Int32, _ count: Int) {
        guard count > 0 else { return }
        if nghttp2_session_consume(raw, streamID, count) != 0 {
            // The stream is gone: its bytes still count against the connection window.
            nghttp2_session_consume_connection(raw, count)
        }
    }

    /// Sets a stream's receive window to `size` bytes (absolute; a larger one sends WINDOW_UPDATE).
    /// The stream must exist in the session (e.g. once its response HEADERS arrived).
    public func setStreamWindow(streamID: Int32, _ size: Int32) {
        nghttp2_session_set_local_window_size(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, size)
    }

    /// Gives back connection window for bytes of a stream that closed before they were taken.
    public func consumeConnection(_ count: Int) {
        guard count > 0 else { return }
        nghttp2_session_consume_connection(raw, count)
    }

    /// The first half of a graceful shutdown, server side (RFC 9113 §6.8): GOAWAY with stream ID
    /// 2^31-1, so the client opens no new streams while streams it already sent are still
    /// accepted; `submitGoAway` then names the real last stream, one round trip or more later.
    public func submitShutdownNotice() {
        nghttp2_submit_shutdown_notice(raw)
    }

    /// Graceful shutdown, server side: GOAWAY with the last stream this side processed.
    public func submitGoAway(errorCode: UInt32 = HTTP2ErrorCode.noError.rawValue) {
        let last = nghttp2_session_get_last_proc_stream_id(raw)
        nghttp2_submit_goaway(raw, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, nil, 0)
    }

    /// Tears the connection down with GOAWAY(errorCode); nothing more is read.
    public func terminate(errorCode: UInt32) {
        nghttp2_session_terminate_session(raw, errorCode)
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive).
    public var remoteMaxConcurrentStreams: UInt32 {
        nghttp2_session_get_remote_settings(raw, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
    }

    public var nextStreamIDAvailable: Bool {
        let next = nghttp2_session_get_next_stream_id(raw)
        return next > 0 && next < Int32.max - 2
    }

    // MARK: the callback table: built once per process; each entry is a thin trampoline.

    final class CallbackTable: @unchecked Sendable {
        let pointer: OpaquePointer
        init() {
            var cbs: OpaquePointer?
            nghttp2_session_callbacks_new(&cbs)
            pointer = cbs!
            nghttp2_session_callbacks_set_on_begin_headers_callback(pointer) { _, frame, ud in
                guard let frame, let ud else { return 0 }
                if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
                   frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                    Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef {
                        $0.delegate.http2StreamOpened($0, streamID: frame.pointee.hd.stream_id)
                    }
                }
                return 0
            }
            nghttp2_session_callbacks_set_on_header_callback(pointer) { session, frame, name, nlen, value, vlen, _, ud in
                guard let frame, let ud else { return 0 }
                let id = frame.pointee.hd.stream_id
                Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef { s in
                    s.delegate.http2Header(s, streamID: id, userData: s.userData(id),
                                           name: UnsafeRawBufferPointer(start: name, count: nlen),
                                           value: UnsafeRawBufferPointer(start: value, count: vlen))
                }
                return 0
            }
            nghttp2_session_callbacks_set_on_frame_recv_callback(pointer) { session, frame, ud in
                guard let frame, let ud else { return 0 }
                Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef { $0.frameReceived(frame) }
                return 0
            }
            nghttp2_session_callbacks_set_on_data_chunk_recv_callback(pointer) { session, _, id, data, len, ud in
                guard let ud else { return 0 }
                Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef { s in
                    s.delegate.http2Data(s, streamID: id, userData: s.userData(id),
                                         bytes: UnsafeRawBufferPointer(start: data, count: len))
                }
                return 0
            }
            nghttp2_session_callbacks_set_on_stream_close_callback(pointer) { session, id, code, ud in
                guard let ud else { return 0 }
                Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef { s in
                    s.delegate.http2StreamClosed(s, streamID: id, userData: s.userData(id),
                                                 errorCode: code)
                }
                return 0
            }
            nghttp2_session_callbacks_set_send_data_callback(pointer) { _, frame, framehd, length, source, ud in
                guard let frame, let framehd, let ud else { return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
                return Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef {
                    $0.sendData(frame, header: framehd, length: length, source: source?.pointee.ptr)
                }
            }
        }
    }

    static let callbacks = CallbackTable()

    static let readCallback: nghttp2_data_source_read_callback = { _, id, _, length, flags, source, ud in
        guard let ud, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        let ready = Unmanaged<HTTP2Session>.fromOpaque(ud)._withUnsafeGuaranteedRef {
            $0.delegate.http2DataReady($0, streamID: id, source: source?.pointee.ptr, maxLength: length)
        }
        switch ready {
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        case let .bytes(n, end):
            var f: UInt32 = n > 0 ? NGHTTP2_DATA_FLAG_NO_COPY.rawValue : 0
            switch end {
            case .none: break
            case .endStream: f |= NGHTTP2_DATA_FLAG_EOF.rawValue
            case .trailers: f |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            }
            flags.pointee = f
            return n
        }
    }

    private func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch Int(hd.type) {
        case Int(NGHTTP2_HEADERS.rawValue):
            let kind: HTTP2HeadersKind
            switch frame.pointee.headers.cat {
            case NGHTTP2_HCAT_REQUEST: kind = .request
            case NGHTTP2_HCAT_RESPONSE: kind = .response
            default: kind = .trailers
            }
            delegate.http2HeadersComplete(self, streamID: hd.stream_id,
                                          userData: userData(hd.stream_id),
                                          kind: kind, endStream: endStream)
        case Int(NGHTTP2_DATA.rawValue):
            if endStream {
                delegate.http2RemoteEnded(self, streamID: hd.stream_id,
                                          userData: userData(hd.stream_id))
            }
        case Int(NGHTTP2_GOAWAY.rawValue):
            delegate.http2GoAway(self, lastStreamID: frame.pointee.goaway.last_stream_id,
                                 errorCode: frame.pointee.goaway.error_code)
        case Int(NGHTTP2_SETTINGS.rawValue):
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
                delegate.http2SettingsReceived(self)
            }
        default:
            break
        }
    }

    private func sendData(_ frame: UnsafeMutablePointer<nghttp2_frame>, header: UnsafePointer<UInt8>,
                          length: Int, source: UnsafeMutableRawPointer?) -> Int32 {
        guard let producing else { return Int32(NGHTTP2_ERR_WOULDBLOCK.rawValue) }
        return producing._withUnsafeGuaranteedRef { out in
            guard out.count < producingLimit else { return Int32(NGHTTP2_ERR_WOULDBLOCK.rawValue) }
            out.append(UnsafeRawBufferPointer(start: header, count: 9))
            let padlen = frame.pointee.data.padlen
            if padlen > 0 {
                out.claim(1).storeBytes(of: UInt8(padlen - 1), as: UInt8.self)
            }
            if length > 0 {
                delegate.http2WriteData(self, streamID: frame.pointee.hd.stream_id, source: source, into: out.claim(length))
            }
            if padlen > 1 {
                let pad = out.claim(padlen - 1)
                pad.initializeMemory(as: UInt8.self, repeating: 0)
            }
            return 0
        }
    }
}

extension Metadata {
    /// Builds the nghttp2_nv array on the stack. `copy`: nghttp2 copies names and values on
    /// submit (and lower-cases the names); else it keeps pointers into this block.
    @inline(__always)
    func withNV<R>(copy: Bool, _ body: (UnsafePointer<nghttp2_nv>?, Int) -> R) -> R {
        let n = count
        let flags = copy ? UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
            : UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        let block = Unmanaged.passUnretained(self)  // the caller holds it: no retain for the closure
        return withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(n, 1)) { nv in
            for f in 0 ..< n {
                let (name, value) = block._withUnsafeGuaranteedRef { $0.field(f) }
                nv[f] = nghttp2_nv(name: UnsafeMutablePointer(mutating: name.baseAddress?.assumingMemoryBound(to: UInt8.self)),
                                   value: UnsafeMutablePointer(mutating: value.baseAddress?.assumingMemoryBound(to: UInt8.self)),
                                   namelen: name.count, valuelen: value.count,
                                   flags: flags)
            }
            return body(UnsafePointer(nv.baseAddress), n)
        }
    }
}

extension WritePump {
    /// Writes what `session` has to send (at most 256 KiB of frames per round): the pump's
    /// outcome, and the session's error when it failed.
    public func pump(_ tcp: TCPStream, session: HTTP2Session?) -> (outcome: Outcome, error: HTTP2Error?) {
        var failure: HTTP2Error?
        let outcome = pump(tcp) { out in
            guard let session else { return true }
            failure = session.produce(into: out, limit: 256 * 1024)
            return failure == nil
        }
        return (outcome, failure)
    }
}

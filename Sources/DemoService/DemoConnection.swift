import Channel
import HTTP2
import TLS
import Transport
import UVLoop

/// One client connection of the demo service: its socket, its HTTP/2 server session and its
/// streams. Owned by its server's `connections` table until it closes; loop-thread only.
///
/// This file is the I/O and the session's events; how each method answers is in
/// `DemoConnection+Methods.swift`.
final class DemoConnection: TCPStreamDelegate, HTTP2SessionDelegate, Flushable {
    unowned(unsafe) let server: DemoServer
    let tcp: TCPStream
    var session: HTTP2Session!
    var streams: [Int32: DemoStream] = [:]
    private let pump = WritePump()
    var flushScheduled = false
    private(set) var closed = false
    /// Where a reply's gRPC prefix is written before it is queued (reused: no array per reply).
    var prefix: [UInt8] = []
    /// The TLS side, on a TLS demo upstream: the socket's bytes go through it, and it is the
    /// write pump's record layer.
    private let tls: TLSConnection?

    /// The largest request a message-level method accepts (the rest is RESOURCE_EXHAUSTED).
    static let maxRequest = 16 << 20

    init(server: DemoServer, tcp: TCPStream, tls context: TLSServerContext? = nil) {
        self.server = server
        self.tcp = tcp
        if let context {
            let t = TLSConnection(server: context, plaintextBuffer: server.tlsPlaintext)
            tls = t
            pump.recordLayer = t
        } else {
            tls = nil
        }
        session = HTTP2Session(role: .server, delegate: self,
                               settings: HTTP2LocalSettings(maxConcurrentStreams: 1000, initialStreamWindow: 1 << 20,
                                                            connectionWindow: 1 << 26))
        tcp.delegate = self
        tcp.startReading()
    }

    // MARK: I/O

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        guard let tls else {
            if session.receive(bytes) != nil { close(); return }
            server.flushQueue.schedule(self)
            return
        }
        let events = tls.receive(bytes)
        if events.plaintext.count > 0, session.receive(events.plaintext) != nil { close(); return }
        if let error = events.error {
            // The alert OpenSSL queued goes out with one try; the connection is over.
            printStderr("trestle demo-upstream: TLS \(events.handshake == nil && tls.handshake == nil ? "handshake failed" : "error"): \(error.message)")
            close()  // with the alert OpenSSL queued
            return
        }
        if events.closed { close(); return }
        server.flushQueue.schedule(self)
    }

    /// One try at writing what the TLS side holds (an alert, close_notify) before the socket
    /// closes; not when a write is in flight (its bytes are the TLS side's, lent).
    private func sendFinal(_ tls: TLSConnection) {
        guard !tcp.writeInFlight, !tcp.isClosed else { return }
        let bytes = tls.produce()
        if bytes.count > 0, tcp.write(bytes) { tls.outputSent() }
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        if error != nil { close(); return }
        flush()
    }

    func flush() {
        guard !closed else { return }
        let session = self.session!
        switch pump.pump(tcp, session: session).outcome {
        case .writing: return
        case .failed: close(); return
        case .drained: break
        }
        if !session.wantsRead && !session.wantsWrite { close() }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        for s in streams.values { s.timer?.close(); s.timer = nil }
        streams.removeAll()
        session = nil
        if let tls {
            tls.close()  // close_notify, unless the connection failed (then the alert)
            sendFinal(tls)
        }
        tcp.close()
        server.connections.removeValue(forKey: ObjectIdentifier(self))
    }

    // MARK: the session's events (inside nghttp2 callbacks: no receive or produce here)

    private func stream(_ p: UnsafeMutableRawPointer?) -> DemoStream? {
        p.map { Unmanaged<DemoStream>.fromOpaque($0).takeUnretainedValue() }
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {
        let s = DemoStream(id: streamID)
        streams[streamID] = s
        session.setStreamUserData(streamID, Unmanaged.passUnretained(s).toOpaque())
    }

    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard let s = stream(userData), name.equals(":path") else { return }
        s.method = DemoMethod(path: value)
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let s = stream(userData) else { return }
        if kind != .request {
            if endStream { requestEnded(s) }
            return
        }
        let h = Metadata(reservingBytes: 96, fields: 4)
        h.append(":status", "200")
        h.append("content-type", "application/grpc")
        if s.method == .unknown {
            h.append("grpc-status", GRPCStatusCode.unimplemented.decimalText)
            h.append("grpc-message", "method not implemented by the demo service")
            session.submitResponse(streamID: streamID, h, hasBody: false, source: nil)
            return
        }
        session.submitResponse(streamID: streamID, h, hasBody: true, source: userData)
        if endStream { requestEnded(s) }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        guard let s = stream(userData), s.method != .unknown else {
            session.consume(streamID: streamID, bytes.count)
            return
        }
        if s.method == .chat {
            // Byte echo with back-pressure: the window opens as the echo is written.
            s.queue.append(bytes)
            session.resumeData(streamID: streamID)
            return
        }
        session.consume(streamID: streamID, bytes.count)
        requestBytes(s, bytes)
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let s = stream(userData) else { return }
        requestEnded(s)
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        if let s = streams.removeValue(forKey: streamID) {
            s.timer?.close()
            s.timer = nil
            if s.method == .chat { session.consumeConnection(s.queue.count) }
        }
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}
    func http2SettingsReceived(_ session: HTTP2Session) {}

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let s = stream(source) else { return .bytes(0, end: .endStream) }
        if s.expandOnDemand { produceExpandReplies(s) }
        let n = min(s.queue.count, maxLength)
        if n == s.queue.count, s.ended {
            let t = s.trailers ?? DemoRequest.okTrailers()
            s.trailers = nil
            session.submitTrailer(streamID: streamID, t)
            return .bytes(n, end: .trailers)
        }
        return n > 0 ? .bytes(n, end: .none) : .deferred
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let s = stream(source) else { return }
        s.queue.read(into: into)
        if s.method == .chat { session.consume(streamID: streamID, into.count) }
    }
}

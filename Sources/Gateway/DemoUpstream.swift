import Channel
import Glibc
import HTTP2
import UVLoop

/// The demo gRPC service `trestle.demo.v1.Echo`, served by the project's own HTTP/2 code: a fast
/// upstream for tests and benchmarks. `Echo` (unary) and `Chat` (bidi) send every request
/// message back as the response (EchoRequest and EchoResponse share their field numbers, so the
/// bytes are the same message); each request byte is echoed as it arrives, with back-pressure.
/// Other methods answer UNIMPLEMENTED until the load-test issue completes the service.
public enum DemoUpstream {
    public static func run(host: String, port: UInt16, workers: Int) -> Int32 {
        guard let addr = ResolvedAddress(ip: host, port: port) else {
            printStderr("trestle demo-upstream: \(host) is not an IP address")
            return 1
        }
        signal(SIGPIPE, SIG_IGN)
        var servers: [DemoServer] = []
        do {
            for _ in 0 ..< max(1, workers) { servers.append(try DemoServer(address: addr)) }
        } catch {
            printStderr("trestle demo-upstream: cannot listen on \(host):\(port): \(error)")
            return 1
        }
        for s in servers.dropFirst() { s.start() }
        printStderr("trestle demo-upstream: ready listen=\(addr) workers=\(servers.count)")
        servers[0].runHere()
        return 0
    }
}

final class DemoServer {
    let loop: Loop
    let flushQueue: FlushQueue
    private var listener: TCPListener!
    private var thread = pthread_t()
    var connections: [ObjectIdentifier: DemoConnection] = [:]

    init(address: ResolvedAddress) throws {
        loop = try Loop()
        flushQueue = FlushQueue(loop: loop)
        listener = try TCPListener(loop: loop, address: address, reusePort: true) { [unowned self] l in
            guard let tcp = l.accept() else { return }
            let c = DemoConnection(server: self, tcp: tcp)
            self.connections[ObjectIdentifier(c)] = c
        }
    }

    func start() {
        pthread_create(&thread, nil, { arg in
            Unmanaged<DemoServer>.fromOpaque(arg!).takeRetainedValue().runHere()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
    }

    func runHere() { loop.run() }
}

final class DemoStream {
    let id: Int32
    var method: DemoMethod = .unknown
    var queue = ByteQueue()
    var ended = false
    init(id: Int32) { self.id = id }
}

enum DemoMethod { case echo, unknown }

final class DemoConnection: TCPStreamDelegate, HTTP2SessionDelegate, Flushable {
    unowned(unsafe) let server: DemoServer
    let tcp: TCPStream
    var session: HTTP2Session!
    var streams: [Int32: DemoStream] = [:]
    var out = OutputBuffer(), writing = OutputBuffer()
    var flushScheduled = false
    private var closed = false

    static let echoPaths: [[UInt8]] = ["/trestle.demo.v1.Echo/Echo", "/trestle.demo.v1.Echo/Chat"].map { Array($0.utf8) }

    init(server: DemoServer, tcp: TCPStream) {
        self.server = server
        self.tcp = tcp
        session = HTTP2Session(role: .server, delegate: self,
                               settings: HTTP2LocalSettings(maxConcurrentStreams: 1000, initialStreamWindow: 1 << 20,
                                                            connectionWindow: 1 << 26))
        tcp.delegate = self
        tcp.startReading()
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        if session.receive(bytes) != nil { close(); return }
        server.flushQueue.schedule(self)
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        writing.reset()
        if error != nil { close(); return }
        flush()
    }

    func flush() {
        guard !closed, !tcp.writeInFlight else { return }
        while true {
            if session.produce(into: out, limit: 256 * 1024) != nil { close(); return }
            guard out.count > 0 else { break }
            swap(&out, &writing)
            guard tcp.write(writing.bytes) else { return }
            writing.reset()
        }
        if !session.wantsRead && !session.wantsWrite { close() }
    }

    private func close() {
        guard !closed else { return }
        closed = true
        streams.removeAll()
        session = nil
        tcp.close()
        server.connections.removeValue(forKey: ObjectIdentifier(self))
    }

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
        if Self.echoPaths.contains(where: { value.elementsEqual($0) }) { s.method = .echo }
    }

    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {
        guard let s = stream(userData) else { return }
        if kind != .request {
            if endStream { s.ended = true; session.resumeData(streamID: streamID) }
            return
        }
        let h = HTTP2Headers(reservingBytes: 96, fields: 4)
        h.append(":status", "200")
        h.append("content-type", "application/grpc")
        switch s.method {
        case .echo:
            s.ended = endStream
            session.submitResponse(streamID: streamID, h, hasBody: true, source: userData)
        case .unknown:
            h.append("grpc-status", "12")
            h.append("grpc-message", "method not implemented by the demo service")
            session.submitResponse(streamID: streamID, h, hasBody: false, source: nil)
        }
    }

    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                   bytes: UnsafeRawBufferPointer) {
        guard let s = stream(userData), s.method == .echo else {
            session.consume(streamID: streamID, bytes.count)
            return
        }
        s.queue.append(bytes)
        session.resumeData(streamID: streamID)
    }

    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {
        guard let s = stream(userData) else { return }
        s.ended = true
        session.resumeData(streamID: streamID)
    }

    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                           errorCode: UInt32) {
        if let s = streams.removeValue(forKey: streamID) {
            session.consumeConnection(s.queue.count)
        }
    }

    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}
    func http2SettingsReceived(_ session: HTTP2Session) {}

    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady {
        guard let s = stream(source) else { return .bytes(0, end: .endStream) }
        let n = min(s.queue.count, maxLength)
        if n == s.queue.count, s.ended {
            let t = HTTP2Headers(reservingBytes: 16, fields: 1)
            t.append("grpc-status", "0")
            session.submitTrailer(streamID: streamID, t)
            return .bytes(n, end: .trailers)
        }
        return n > 0 ? .bytes(n, end: .none) : .deferred
    }

    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {
        guard let s = stream(source) else { return }
        s.queue.read(into: into)
        session.consume(streamID: streamID, into.count)
    }
}

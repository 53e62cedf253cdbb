import Glibc
import HTTP2
import Testing
import TLS
import Transport
import UVLoop

/// `HTTP2ClientConnection`'s life on a real loop, against an in-test HTTP/2 server on 127.0.0.1
/// (with TLS through a `TLSConnection` as that server's record layer, or h2c): ready after the
/// server's SETTINGS, drained closed, TLS resumption on the second connection, and each way of
/// never becoming ready reported once with its reason. libuv style: callbacks counted, a
/// watchdog that must not fire, no handle left.
@Suite struct HTTP2ClientConnectionTests {
    static let pki = PKI()

    @Test func readyOverTLSWithALPNThenDrainsClosedAndResumesNextTime() throws {
        let run = try Run(server: .tls(Self.pki.server()))
        let context = try TLSClientContext(caFile: Self.pki.ca)
        let first = run.connect(tls: context, serverName: "localhost", sessionKey: "k")
        run.loop.run()
        #expect(first.readyCount == 1 && first.failures.isEmpty)
        #expect(first.handshake?.alpn == .h2 && first.handshake?.resumed == false)
        #expect(first.closedReasons.count == 1 && first.closedReasons[0] == nil)  // drained on purpose
        // A second connection to the same key resumes the session the first one was given.
        let second = run.connect(tls: context, serverName: "localhost", sessionKey: "k")
        run.loop.run()
        #expect(second.readyCount == 1 && second.handshake?.resumed == true)
        run.finish()
    }

    @Test func cleartextIsReadyAfterSettings() throws {
        let run = try Run(server: .cleartext)
        let owner = run.connect(tls: nil, serverName: nil, sessionKey: nil)
        run.loop.run()
        #expect(owner.readyCount == 1 && owner.handshake == nil && owner.failures.isEmpty)
        run.finish()
    }

    @Test func nameMismatchFailsOnceWithTheReason() throws {
        let run = try Run(server: .tls(Self.pki.server()))
        let owner = run.connect(tls: try TLSClientContext(caFile: Self.pki.ca), serverName: "elsewhere.example", sessionKey: nil)
        run.loop.run()
        #expect(owner.readyCount == 0 && owner.failures.count == 1 && owner.closedReasons.isEmpty)
        #expect(owner.failures.first?.contains("TLS handshake with 127.0.0.1:") == true)
        #expect(owner.failures.first?.contains("name mismatch") == true)
        #expect(owner.tlsReason == .nameMismatch)
        run.finish()
    }

    @Test func unknownCAFailsOnceWithTheReason() throws {
        let run = try Run(server: .tls(Self.pki.server()))
        let owner = run.connect(tls: try TLSClientContext(caFile: Self.pki.otherCA), serverName: "localhost", sessionKey: nil)
        run.loop.run()
        #expect(owner.failures.count == 1 && owner.tlsReason == .unknownCA)
        run.finish()
    }

    @Test func aServerThatNeverAnswersTimesOutInTheTLSHandshake() throws {
        let run = try Run(server: .silent)
        let owner = run.connect(tls: try TLSClientContext(caFile: Self.pki.ca), serverName: "localhost", sessionKey: nil,
                                timeoutMs: 2000)
        run.loop.run()
        #expect(owner.failures.count == 1)
        #expect(owner.failures.first?.contains("did not complete within the connect timeout (2000ms)") == true)
        run.finish()
    }

    @Test func connectRefusedFailsOnce() throws {
        let run = try Run(server: .none)
        let owner = run.connect(tls: nil, serverName: nil, sessionKey: nil)
        run.loop.run()
        #expect(owner.failures.count == 1 && owner.failures.first?.contains("failed") == true)
        run.finish()
    }
}

// MARK: test doubles

/// A loop, a listener (or a port nobody listens on) and a watchdog.
final class Run {
    enum Server { case tls(TLSServerContext), cleartext, silent, none }
    let loop: Loop
    let flushQueue: FlushQueue
    private(set) var address = ResolvedAddress()
    private var listener: TCPListener?
    private var watchdog: UVLoop.Timer!
    private var servers: [TestServer] = []
    private(set) var watchdogFired = false

    init(server: Server) throws {
        loop = try Loop()
        flushQueue = FlushQueue(loop: loop)
        var port: UInt16 = 1
        switch server {
        case .none:
            // A port bound and closed again: nothing listens there.
            let probe = try TCPListener(loop: loop, address: ResolvedAddress(ip: "127.0.0.1", port: 0)!, reusePort: false) { _ in }
            port = probe.port
            probe.close()
        default:
            let l = try TCPListener(loop: loop, address: ResolvedAddress(ip: "127.0.0.1", port: 0)!, reusePort: false) {
                [unowned self] l in
                guard let tcp = l.accept() else { return }
                switch server {
                case .tls(let context): self.servers.append(TestServer(tcp: tcp, tls: context, flushQueue: self.flushQueue))
                case .cleartext: self.servers.append(TestServer(tcp: tcp, tls: nil, flushQueue: self.flushQueue))
                default: self.servers.append(TestServer(tcp: tcp, silent: true, flushQueue: self.flushQueue))
                }
            }
            port = l.port
            listener = l
        }
        address = ResolvedAddress(ip: "127.0.0.1", port: port)!
        watchdog = UVLoop.Timer(loop: loop) { [unowned self] in
            self.watchdogFired = true
            self.loop.stop()
        }
        watchdog.start(timeoutMs: 10_000)
        watchdog.unref()
    }

    func connect(tls: TLSClientContext?, serverName: String?, sessionKey: String?, timeoutMs: UInt64 = 5000) -> TestOwner {
        let owner = TestOwner(loop: loop)
        let options = HTTP2ClientConnection.Options(address: address, connectTimeoutMs: timeoutMs, http2: HTTP2LocalSettings(),
                                                    tls: tls, serverName: serverName, sessionKey: sessionKey)
        owner.connection = HTTP2ClientConnection(owner: owner, loop: loop, flushQueue: flushQueue, options: options,
                                                 plaintextBuffer: TLSPlaintextBuffer())
        owner.connection!.start()
        return owner
    }

    func finish(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!watchdogFired, "the watchdog fired", sourceLocation: sourceLocation)
        for s in servers { s.close() }
        listener?.close()
        watchdog.close()
        flushQueue.close()
        loop.closeAllHandles()
    }
}

/// The owner under test: counts what the connection reports; once ready, drains it (it has no
/// streams, so it closes), which stops the loop; a failure stops it too.
final class TestOwner: HTTP2ClientConnectionOwner {
    let loop: Loop
    var connection: HTTP2ClientConnection?
    var readyCount = 0
    var failures: [String] = []
    var closedReasons: [String?] = []
    var handshake: TLSHandshake?
    var tlsReason: TLSError.Reason?

    init(loop: Loop) { self.loop = loop }

    var hasOpenStreams: Bool { false }

    func clientConnectionFailed(_ connection: HTTP2ClientConnection, reason: String) {
        failures.append(reason)
        tlsReason = connection.tlsError?.reason
        self.connection = nil
        loop.stop()
    }

    func clientConnectionClosed(_ connection: HTTP2ClientConnection, reason: String?) {
        closedReasons.append(reason)
        self.connection = nil
        loop.stop()
    }

    func http2SettingsReceived(_ session: HTTP2Session) {
        guard let connection, connection.settingsReceived() else { return }
        readyCount += 1
        handshake = connection.handshake
        connection.drain()
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {}
    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {}
    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {}
    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) {}
    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {}
    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?, errorCode: UInt32) {}
    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}
    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady { .bytes(0, end: .endStream) }
    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {}
}

/// The server end: an HTTP/2 server session behind an optional TLS record layer (the same
/// `WritePump` wiring `ServerConnection` uses), or a socket that never answers.
final class TestServer: TCPStreamDelegate, HTTP2SessionDelegate, Flushable {
    let tcp: TCPStream
    let tls: TLSConnection?
    var session: HTTP2Session?
    let pump = WritePump()
    let flushQueue: FlushQueue
    var flushScheduled = false
    let buffer = TLSPlaintextBuffer()

    init(tcp: TCPStream, tls context: TLSServerContext? = nil, silent: Bool = false, flushQueue: FlushQueue) {
        self.tcp = tcp
        self.flushQueue = flushQueue
        let plaintext = buffer
        tls = context.map { TLSConnection(server: $0, plaintextBuffer: plaintext) }
        pump.recordLayer = tls
        tcp.delegate = self
        if !silent {
            session = HTTP2Session(role: .server, delegate: self, settings: HTTP2LocalSettings())
            tcp.startReading()
        }
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        if let tls {
            let events = tls.receive(bytes)
            if events.plaintext.count > 0 { _ = session?.receive(events.plaintext) }
        } else {
            _ = session?.receive(bytes)
        }
        flushQueue.schedule(self)
    }

    func flush() {
        guard !tcp.isClosed else { return }
        _ = pump.pump(tcp, session: session)
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) { close() }
    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        pump.written()
        flush()
    }

    func close() {
        session = nil
        tcp.close()
    }

    func http2StreamOpened(_ session: HTTP2Session, streamID: Int32) {}
    func http2Header(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                     name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {}
    func http2HeadersComplete(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?,
                              kind: HTTP2HeadersKind, endStream: Bool) {}
    func http2Data(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?, bytes: UnsafeRawBufferPointer) {}
    func http2RemoteEnded(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?) {}
    func http2StreamClosed(_ session: HTTP2Session, streamID: Int32, userData: UnsafeMutableRawPointer?, errorCode: UInt32) {}
    func http2GoAway(_ session: HTTP2Session, lastStreamID: Int32, errorCode: UInt32) {}
    func http2SettingsReceived(_ session: HTTP2Session) {}
    func http2DataReady(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        maxLength: Int) -> HTTP2DataReady { .bytes(0, end: .endStream) }
    func http2WriteData(_ session: HTTP2Session, streamID: Int32, source: UnsafeMutableRawPointer?,
                        into: UnsafeMutableRawBufferPointer) {}
}

/// A CA, a server certificate for localhost and 127.0.0.1, and an unrelated CA, made once with the
/// openssl command line in a fresh temporary folder.
struct PKI: Sendable {
    let dir: String

    init() {
        var template = Array("/tmp/trestle-transport-tests.XXXXXX".utf8CString)
        dir = String(cString: mkdtemp(&template)!)
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        let script = """
            cd '\(dir)' && \
            openssl req -x509 \(ec) -keyout ca.key -out ca.crt -days 30 -subj /CN=CA && \
            openssl req -x509 \(ec) -keyout other.key -out other.crt -days 30 -subj /CN=Other && \
            openssl req -new \(ec) -keyout server.key -out server.csr -subj /CN=localhost && \
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && \
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
              -extfile server.ext -out server.crt
            """
        precondition(system("(\(script)) > '\(dir)/make.log' 2>&1") == 0, "making test certificates failed in \(dir)")
    }

    var ca: String { dir + "/ca.crt" }
    var otherCA: String { dir + "/other.crt" }

    func server() throws -> TLSServerContext {
        try TLSServerContext(certificates: [TLSCertificateFiles(certificate: dir + "/server.crt", key: dir + "/server.key")])
    }
}

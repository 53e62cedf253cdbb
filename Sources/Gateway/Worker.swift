import Channel
import Glibc
import HTTP2
import Logging
import RouteConfig
import Synchronization
import TLS
import Transcoding
import Upstream
import UVLoop

/// One worker thread: its own loop, its own listening sockets on the shared ports (SO_REUSEPORT),
/// its own upstream pools, deadline heap and flush queue. Nothing here is shared with other
/// workers except the immutable config; nothing on the per-call path takes a lock.
final class Worker {
    let index: Int
    let loop: Loop
    /// The config new connections and calls use; replaced by a reload (Worker+Reload.swift).
    var config: GatewayConfig
    /// The tables and pools new calls start on (a call keeps the one it started on).
    var snapshot: ConfigSnapshot!
    /// For new client connections (a reload may change them).
    var serverSettings: HTTP2LocalSettings
    /// The initial stream window of upstream connections: 64 KiB, as nghttpx's backend (a
    /// response past its first 32 KiB grows it, `Call.growResponseWindow`).
    let upstreamInitialWindow: Int32 = 65_535
    /// `config.limits`, and the head-list bound of every header block this worker decodes, kept
    /// apart from the config for the per-stream paths (set again by a reload).
    var limits: ResourceLimits
    var headerLimit: HeaderListLimit
    let flushQueue: FlushQueue
    let deadlines: DeadlineQueue
    let headerPool = MetadataPool()
    /// Native gRPC calls share one frontend: it keeps no state of its own.
    let grpcFrontend: GRPCFrontend
    /// Written by this worker only; read by the admin endpoint.
    let counters = CallCounters()
    /// Calls by service and method (written by this worker only; read by the admin endpoint).
    let methods = MethodTable()
    /// This worker's access-log lines (nil: no access log).
    let accessLog: AccessLog?
    let logger: Logger
    /// The TLS contexts of listeners and clusters (shared by all workers, swapped on reload).
    let tls: GatewayTLS
    /// Where this thread's TLS connections decrypt into (client and upstream side alike).
    let tlsPlaintext = TLSPlaintextBuffer()
    private var listeners: [TCPListener] = []
    private var connections: [ObjectIdentifier: ServerConnection] = [:]
    private var drainWakeup: Wakeup!
    private var graceTimer: Timer?
    private(set) var draining = false
    private var thread = pthread_t()
    /// Sent (from this worker's thread) when its loop has ended; set before `start()`.
    var onExit: Wakeup?
    private let exitedFlag = Atomic<Bool>(false)
    /// Thread-safe.
    var hasExited: Bool { exitedFlag.load(ordering: .acquiring) }
    private let runningFlag = Atomic<Bool>(false)
    /// Thread-safe: the worker's loop has started (it serves calls).
    var isRunning: Bool { runningFlag.load(ordering: .acquiring) }

    // Reload (Worker+Reload.swift): the next config, handed over from the main thread.
    let nextConfig = Mutex<PendingConfig?>(nil)
    var reloadWakeup: Wakeup!
    /// The generation of `snapshot`, for the admin endpoint (written by this worker only).
    let appliedGenerationValue = Atomic<Int>(1)
    /// Pools of clusters a reload removed or changed, kept until their connections are gone.
    var retiredPools: [ClusterPool] = []
    var retiredPoolTimer: Timer?
    /// Every `tlsIdleSweepMs`, TLS client connections that read nothing since the last sweep give
    /// their record buffers back (`ServerConnection.tlsIdleSweep`); only with a TLS listener.
    private var tlsIdleTimer: Timer?
    static let tlsIdleSweepMs: UInt64 = 10_000

    /// Creates the loop and binds the listeners on the calling thread, so bind errors are
    /// reported at startup; `start()` then hands the loop to the worker's own thread.
    init(index: Int, config: GatewayConfig, router: ServiceRouter<Int>, tls: GatewayTLS,
         accessLog writer: AccessLogWriter? = nil) throws {
        self.index = index
        logger = Logger(label: "trestle[w\(index)]")
        self.config = config
        limits = config.limits
        headerLimit = HeaderListLimit(maxBytes: config.limits.maxHeaderListBytes, maxFields: config.limits.maxHeaderFields)
        self.tls = tls
        grpcFrontend = GRPCFrontend(pool: headerPool)
        loop = try Loop()
        serverSettings = Worker.serverSettings(config)
        flushQueue = FlushQueue(loop: loop)
        let flushQueue = self.flushQueue
        accessLog = writer.map { AccessLog(writer: $0, flushQueue: flushQueue) }
        deadlines = DeadlineQueue(loop: loop)
        snapshot = ConfigSnapshot(config: config, generation: 1, router: router,
                                  pools: config.clusters.enumerated().map { makePool($1, config: config, tls: tls.initialClusters[$0]) })
        for (i, l) in config.listeners.enumerated() {
            guard let addr = ResolvedAddress(ip: l.host, port: l.port) else {
                throw StartupError("listener \(l): not an IP address")
            }
            do {
                listeners.append(try TCPListener(loop: loop, address: addr, reusePort: true) { [unowned self] l in
                    self.accept(l, listener: i)
                })
            } catch {
                throw StartupError("cannot listen on \(l): \(error)")
            }
        }
        drainWakeup = Wakeup(loop: loop) { [unowned self] in self.beginDrain() }
        reloadWakeup = Wakeup(loop: loop) { [unowned self] in self.adoptNextConfig() }
        if tls.listeners.contains(where: { $0 != nil }) {
            tlsIdleTimer = Timer(loop: loop) { [unowned self] in
                for c in self.connections.values { c.tlsIdleSweep() }
            }
            tlsIdleTimer?.start(timeoutMs: Self.tlsIdleSweepMs, repeatMs: Self.tlsIdleSweepMs)
            tlsIdleTimer?.unref()  // never what keeps the loop running
        }
    }

    // MARK: the worker's memory budget (README "Hardening")

    /// Upstream response window granted to this worker's calls beyond the pools' initial one.
    private var responseGranted = 0

    /// The bytes held for this worker's clients are over `max_buffered_per_worker`: new streams
    /// and requests are refused until they fall.
    var overBudget: Bool {
        counters.bufferedBytes.load(ordering: .relaxed) > Int64(limits.maxBufferedPerWorker)
    }

    /// Up to `wanted` bytes of response window beyond the initial one, from what the worker may
    /// still grant: the grants of all its calls together are at most `max_buffered_per_worker`,
    /// so the response bytes its upstream connections can send it are bounded whatever the number
    /// of client connections. The caller gives the grant back (`returnResponseWindow`) when its
    /// stream closes.
    // MARK: the per-call path
    // What calls and streams reach in the worker, as methods: here its members are one `let`
    // deep, where `worker.deadlines.insert(call)` from a call is two, past what the optimizer
    // proves alive, and retains and releases `deadlines` at every use.

    @inline(__always)
    func takeBlock() -> Metadata { headerPool.take() }
    @inline(__always)
    func giveBlock(_ block: consuming Metadata) { headerPool.give(block) }
    @inline(__always)
    func insertDeadline(_ call: Call) { deadlines.insert(call) }
    @inline(__always)
    func removeDeadline(_ call: Call) { deadlines.remove(call) }
    /// The loop's time, in milliseconds.
    @inline(__always)
    var now: UInt64 { loop.now }
    /// Bytes held for clients (`trestle_buffered_bytes`): `delta` more, or fewer.
    @inline(__always)
    func countBuffered(_ delta: Int) { counters.add(counters.bufferedBytes, Int64(delta)) }
    @inline(__always)
    func callFinished(status: UInt8) { counters.finished(status: status) }
    @inline(__always)
    func newAttempt(for call: Call) -> UpstreamAttempt {
        UpstreamAttempt(owner: call, pool: headerPool, headerLimit: headerLimit)
    }
    @inline(__always)
    func withMethods<R>(_ body: (MethodTable) -> R) -> R { body(methods) }
    @inline(__always)
    func withNativeFrontend<R>(_ body: (GRPCFrontend) -> R) -> R { body(grpcFrontend) }

    func grantResponseWindow(_ wanted: Int) -> Int {
        let grant = min(wanted, max(0, limits.maxBufferedPerWorker - responseGranted))
        guard grant > 0 else { return 0 }
        responseGranted += grant
        counters.add(counters.responseWindowGranted, Int64(grant))
        return grant
    }

    func returnResponseWindow(_ grant: Int) {
        guard grant != 0 else { return }
        responseGranted -= grant
        counters.add(counters.responseWindowGranted, -Int64(grant))
    }

    /// An upstream connection window that every stream's full window fits in (RFC 9113 §6.9),
    /// so streams whose reader is slow cannot starve the other streams of the connection (they
    /// are bounded per client connection instead, by the grants of `connection_window`).
    static func connectionWindow(streams: Int, window: Int32) -> Int32 {
        Int32(clamping: max(streams.multipliedReportingOverflow(by: Int(window)).partialValue, 1 << 24))
    }

    private func accept(_ listener: TCPListener, listener index: Int) {
        guard !draining, let tcp = listener.accept() else { return }
        guard connections.count < limits.maxConnectionsPerWorker else {
            counters.limitHit(.connectionsPerWorker)
            tcp.close()
            return
        }
        // A TLS listener's context is read once per connection (a reload reaches the next one).
        let c = ServerConnection(worker: self, tcp: tcp, tls: tls.listeners[index]?.current,
                                 forwardClientCertificate: tls.forwardClientCertificate[index])
        connections[ObjectIdentifier(c)] = c
        log("connection from \(c.peerText ?? "?") accepted (\(connections.count) open)", level: .debug)
    }

    func connectionClosed(_ c: ServerConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
        log("connection from \(c.peerText ?? "?") closed (\(connections.count) open)", level: .debug)
        if draining && connections.isEmpty { finishDrain() }
    }

    /// Logs at `level` (info by default); the message is built only when the level is on.
    func log(_ message: @autoclosure () -> String, level: Logger.Level = .info) {
        logger.log(level: level, "\(message())")
    }

    // MARK: thread

    func start() {
        thread = startThread { self.run() }
    }

    func join() {
        pthread_join(thread, nil)
    }

    private func run() {
        runningFlag.store(true, ordering: .releasing)
        loop.run()
        loop.closeAllHandles()
        exitedFlag.store(true, ordering: .releasing)
        onExit?.send()
    }

    /// Thread-safe: asks the worker to drain.
    func requestDrain() { drainWakeup.send() }

    // MARK: shutdown

    /// Stop accepting, GOAWAY every client, let calls in flight finish up to the grace period.
    private func beginDrain() {
        guard !draining else { return }
        draining = true
        for l in listeners { l.close() }
        listeners.removeAll()
        graceTimer = Timer(loop: loop) { [unowned self] in
            self.log("shutdown grace period over: closing \(self.connections.count) connections")
            for c in Array(self.connections.values) { c.close() }
            self.finishDrain()
        }
        graceTimer?.start(timeoutMs: config.shutdownGraceMs)
        for c in Array(connections.values) { c.beginDrain() }
        if connections.isEmpty { finishDrain() }
    }

    private var finished = false

    private func finishDrain() {
        guard !finished else { return }
        finished = true
        for p in snapshot.pools { p.drain() }
        for p in retiredPools { p.drain() }
        // Let the last frames go out, then stop; closeAllHandles frees what is left.
        flushQueue.run()
        graceTimer?.close()
        drainWakeup.close()
        reloadWakeup.close()
        retiredPoolTimer?.close()
        tlsIdleTimer?.close()
        deadlines.close()
        flushQueue.close()
        loop.stop()
    }
}

struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

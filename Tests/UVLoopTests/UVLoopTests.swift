import CLibUV
import Glibc
import Synchronization
import Testing
import UVLoop

/// Loop tests in libuv's own style: count every callback, assert the counts after the loop has
/// run, keep a watchdog timer that must never fire, and end with a loop that holds no handle.
@Suite struct UVLoopTests {
    /// A TCP echo on 127.0.0.1 (port 0): the client sends 1 MiB (more than one read buffer and
    /// more than the socket takes at once), the server echoes what it reads, the client checks
    /// every byte and closes, the server sees EOF and closes. Meanwhile another thread sends a
    /// Wakeup, whose callback runs once, on the loop's thread.
    @Test func tcpEchoAndWakeupFromAnotherThread() throws {
        let loop = try Loop()
        let loopThread = pthread_self()
        let test = EchoTest(loop: loop, message: Self.pattern(1 << 20))

        test.watchdog.start(timeoutMs: 10_000)
        let listener = try TCPListener(loop: loop, address: ResolvedAddress(ip: "127.0.0.1", port: 0)!,
                                       reusePort: false) { l in test.accepted(l) }
        test.listener = listener
        #expect(listener.port != 0)

        var wakeupThreads: [pthread_t] = []
        test.wakeup = Wakeup(loop: loop) {
            wakeupThreads.append(pthread_self())
            test.wakeups += 1
            test.wakeup?.close()
            test.wakeup = nil
            test.finishIfDone()
        }
        let sender = onAnotherThread { [wakeup = test.wakeup!] in wakeup.send() }

        test.client.tcp = try TCPStream.connect(loop: loop, to: ResolvedAddress(ip: "127.0.0.1", port: listener.port)!,
                                                delegate: test.client).get()
        loop.run()
        pthread_join(sender, nil)
        if test.watchdogFired > 0 { loop.closeAllHandles() }

        #expect(test.watchdogFired == 0, "the watchdog fired: the loop did not finish on its own")
        #expect(test.connections == 1)
        #expect(test.client.connects == 1)
        #expect(test.client.connectError == nil)
        #expect(test.client.received == test.message, "the echo differs")
        #expect(test.server.received == test.message.count)
        #expect(test.server.ends == 1, "the server saw EOF")
        #expect(test.server.endError == nil)
        #expect(test.client.writeErrors == 0 && test.server.writeErrors == 0)
        #expect(test.wakeups == 1)
        #expect(wakeupThreads.count == 1 && wakeupThreads.allSatisfy { pthread_equal($0, loopThread) != 0 })
        Self.expectNoHandles(loop)
    }

    /// The one way into a loop from outside: a locked queue plus `Wakeup.send()`. Another thread
    /// queues 1000 items, sending after each; the loop gets every one, in order, in at most 1000
    /// callbacks (sends coalesce), then closes the Wakeup and the loop ends by itself.
    @Test func wakeupDeliversALockedQueueInOrder() throws {
        let loop = try Loop()
        let count = 1000
        let inbox = Inbox()
        var received: [Int] = []
        var callbacks = 0
        var watchdogFired = 0
        var wakeup: Wakeup?
        var watchdog: UVLoop.Timer?
        watchdog = UVLoop.Timer(loop: loop) {
            watchdogFired += 1
            loop.stop()
        }
        watchdog?.start(timeoutMs: 10_000)
        wakeup = Wakeup(loop: loop) {
            callbacks += 1
            received += inbox.items.withLock { items in
                defer { items.removeAll() }
                return items
            }
            if received.count == count {
                wakeup?.close()
                watchdog?.close()
                wakeup = nil
                watchdog = nil
            }
        }
        let sender = onAnotherThread { [wakeup = wakeup!] in
            for i in 0 ..< count {
                inbox.items.withLock { $0.append(i) }
                wakeup.send()
            }
        }
        loop.run()
        pthread_join(sender, nil)
        if watchdogFired > 0 { loop.closeAllHandles() }

        #expect(watchdogFired == 0)
        #expect(received == Array(0 ..< count))
        #expect((1 ... count).contains(callbacks))
        Self.expectNoHandles(loop)
    }

    /// The loop would close cleanly (uv_loop_close would not report EBUSY): no handle is left,
    /// open or closing, and nothing keeps it alive.
    static func expectNoHandles(_ loop: Loop, sourceLocation: SourceLocation = #_sourceLocation) {
        var handles = 0
        withUnsafeMutablePointer(to: &handles) { counter in
            uv_walk(loop.raw, { _, arg in arg!.assumingMemoryBound(to: Int.self).pointee += 1 }, counter)
        }
        #expect(handles == 0, "\(handles) handles still on the loop", sourceLocation: sourceLocation)
        #expect(uv_loop_alive(loop.raw) == 0, sourceLocation: sourceLocation)
    }

    static func pattern(_ count: Int) -> [UInt8] {
        (0 ..< count).map { UInt8(truncatingIfNeeded: $0 % 251) }
    }
}

// MARK: test doubles

/// What another thread hands to the loop: a locked queue (the Wakeup says when to look).
final class Inbox: Sendable {
    let items = Mutex<[Int]>([])
}

/// Everything the echo test's callbacks touch; loop-thread only.
final class EchoTest {
    let loop: Loop
    let message: [UInt8]
    var listener: TCPListener?
    var wakeup: Wakeup?
    var watchdog: UVLoop.Timer!
    let client: EchoClient
    let server = EchoServer()
    var connections = 0
    var wakeups = 0
    var watchdogFired = 0

    init(loop: Loop, message: [UInt8]) {
        self.loop = loop
        self.message = message
        client = EchoClient(message: message)
        client.test = self
        server.test = self
        watchdog = UVLoop.Timer(loop: loop) { [unowned self] in
            watchdogFired += 1
            loop.stop()  // the test closes what is left once `run` has returned
        }
    }

    func accepted(_ listener: TCPListener) {
        connections += 1
        guard let tcp = listener.accept() else {
            Issue.record("accept failed")
            return
        }
        server.start(tcp)
    }

    /// Everything has happened: close the last handles so that the loop ends by itself.
    func finishIfDone() {
        guard client.closed, server.ends == 1, wakeups == 1 else { return }
        listener?.close()
        watchdog.close()
    }
}

/// Writes through one write in flight at a time, double-buffered, as the gateway's connections do.
final class Writer {
    private var out = OutputBuffer()
    private var writing = OutputBuffer()

    func send(_ bytes: UnsafeRawBufferPointer, on tcp: TCPStream) {
        out.append(bytes)
        flush(tcp)
    }

    func writeCompleted(_ tcp: TCPStream) {
        writing.reset()
        flush(tcp)
    }

    private func flush(_ tcp: TCPStream) {
        while !tcp.writeInFlight, out.count > 0 {
            swap(&out, &writing)
            // Written at once: no completion follows; else `writing` stays untouched until it does.
            guard tcp.write(writing.bytes) else { return }
            writing.reset()
        }
    }
}

final class EchoServer: TCPStreamDelegate {
    unowned(unsafe) var test: EchoTest!
    private var tcp: TCPStream?
    private let writer = Writer()
    var received = 0
    var ends = 0
    var endError: UVError?
    var writeErrors = 0

    func start(_ tcp: TCPStream) {
        self.tcp = tcp
        tcp.delegate = self
        tcp.startReading()
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        received += bytes.count
        writer.send(bytes, on: stream)  // copied: `bytes` is the loop's shared read buffer
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        ends += 1
        endError = error
        stream.close()
        test.finishIfDone()
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        if error != nil { writeErrors += 1 }
        writer.writeCompleted(stream)
    }
}

final class EchoClient: TCPStreamDelegate {
    unowned(unsafe) var test: EchoTest!
    var tcp: TCPStream?
    let message: [UInt8]
    private let writer = Writer()
    var received: [UInt8] = []
    var connects = 0
    var connectError: UVError?
    var writeErrors = 0
    var closed = false

    init(message: [UInt8]) { self.message = message }

    func streamConnected(_ stream: TCPStream, error: UVError?) {
        connects += 1
        connectError = error
        guard error == nil else {
            stream.close()
            return
        }
        stream.startReading()
        message.withUnsafeBytes { writer.send($0, on: stream) }
    }

    func streamRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        received.append(contentsOf: bytes)
        if received.count >= message.count {
            closed = true
            stream.close()
            test.finishIfDone()
        }
    }

    func streamEnded(_ stream: TCPStream, error: UVError?) {
        Issue.record("the server closed first (\(error.map { "\($0)" } ?? "EOF"))")
        stream.close()
    }

    func streamWriteCompleted(_ stream: TCPStream, error: UVError?) {
        if error != nil { writeErrors += 1 }
        writer.writeCompleted(stream)
    }
}

/// Runs `body` on a new thread (not the loop's); join the returned thread.
func onAnotherThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { arg in
        Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create: \(rc)")
    return thread
}

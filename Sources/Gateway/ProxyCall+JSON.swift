import HTTP2

/// JSON over HTTP/2: a stream whose request is not `application/grpc` is handed to a `JSONCall`,
/// and this object only carries the stream's bytes both ways (the same response queue, DATA
/// pull and trailers as a native call).
extension ProxyCall: JSONDownstream {
    func startJSON(conn: ServerConnection, endStream: Bool) {
        var head = JSONRequestHead(method: "", target: "", authority: nil, fields: .http2(requestHeaders),
                                   peer: conn.peerHost, acceptsTrailers: false)
        requestHeaders.forEach { name, value in
            guard name.first == UInt8(ascii: ":") || name.equals("te") else { return }
            let v = String(decoding: value, as: UTF8.self)
            if name.equals(":method") {
                head.method = v
            } else if name.equals(":path") {
                head.target = v
            } else if name.equals(":authority") {
                head.authority = v
            } else if name.equals("te") {
                head.acceptsTrailers = v.split(separator: ",").contains { $0.trimmed() == "trailers" }
            }
        }
        let call = JSONCall(worker: worker, downstream: self, countsStart: false)
        jsonCall = call
        call.start(head)
        if endStream { call.requestEnd() }
    }

    func jsonResponseHead(status: Int, headers: [(String, String)], contentLength: Int?) {
        guard let conn, let session = conn.session, !responseHeadersSent else { return }
        let h = worker.headerPool.take()
        defer { worker.headerPool.give(h) }
        h.append(":status", String(status))
        for (name, value) in headers { h.append(name.lowercased(), value) }
        if let contentLength { h.append("content-length", String(contentLength)) }
        responseHeadersSent = true
        session.submitResponse(streamID: streamID, h, hasBody: true, source: Unmanaged.passUnretained(self).toOpaque())
        conn.scheduleFlush()
    }

    func jsonResponseBody(_ bytes: UnsafeRawBufferPointer) {
        guard let conn, let session = conn.session else { return }
        responseQueue.append(bytes)
        session.resumeData(streamID: streamID)
        conn.scheduleFlush()
    }

    func jsonResponseEnd(trailers fields: [(String, String)]) {
        guard let conn, let session = conn.session else { return }
        responseEnded = true
        if !fields.isEmpty {
            let t = worker.headerPool.take()
            for (name, value) in fields { t.append(name.lowercased(), value) }
            trailers = t
        }
        session.resumeData(streamID: streamID)
        conn.scheduleFlush()
    }

    func jsonRequestTaken(_ count: Int) {
        downUnconsumed -= count
        guard let conn, let session = conn.session, !windowless else { return }
        session.consume(streamID: streamID, count)
        conn.scheduleFlush()
    }

    var jsonResponseBacklog: Int { responseQueue.count }
}

import Channel
import RouteConfig

/// A CORS preflight (Fetch standard, "CORS-preflight request": `OPTIONS` with
/// `Access-Control-Request-Method`), answered by the gateway as soon as its head is read
/// (README, "gRPC-Web and CORS"): never forwarded, and no `Call` is made for it, so it is not
/// counted among the calls on `/metrics`. The policy is the route's (`CORSFields`): for a gRPC
/// path the service's route; for a `google.api.http` path the route of the method the binding
/// names for the requested method. 200 with the Access-Control fields when the origin is
/// allowed, else 403 with none. Loop-thread only.
enum CORSPreflight {
    /// Whether a request is a preflight.
    static func isPreflight(_ head: JSONRequestHead) -> Bool {
        head.method == "OPTIONS" && GRPCWebFrontend.field(head.fields, "access-control-request-method") != nil
    }

    /// Writes the whole answer to a preflight on `client`.
    static func answer(_ head: JSONRequestHead, snapshot: ConfigSnapshot, client: any ClientStream, pool: MetadataPool) {
        var cors = CORSFields(fields: head.fields, snapshot: snapshot)
        var target = head.target
        let parts = target.withUTF8 { GRPCPath.split(UnsafeRawBufferPointer($0)) }
        var routeIndex = parts.flatMap { p in
            target.withUTF8 { snapshot.router.route(service: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[p.service])) }
        }
        var methods = "POST, OPTIONS"
        // A JSON path (a google.api.http binding) is routed by the method it binds.
        if routeIndex == nil, let method = GRPCWebFrontend.field(head.fields, "access-control-request-method"),
           let table = snapshot.httpRoutes
        {
            let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
            if case .matched(let m) = table.match(method: method, path: path[...]) {
                routeIndex = snapshot.router.route(service: m.method.serviceName)
                methods = "\(method), OPTIONS"
            }
        }
        cors.choose(snapshot: snapshot, route: routeIndex)
        let h = pool.take()
        if cors.allowed {
            // 200 and empty, as Envoy answers.
            cors.appendPreflight(to: h, methods: methods)
            client.sendHead(status: 200, fields: h, contentLength: 0, endStream: true)
        } else {
            let body = Array("CORS preflight refused: origin \(cors.origin ?? "(none)") is not allowed for \(head.target)\n".utf8)
            h.append("content-type", "text/plain")
            client.sendHead(status: 403, fields: h, contentLength: body.count, endStream: false)
            body.withUnsafeBytes { client.sendBody($0) }
            client.sendEnd(trailers: nil)
        }
        pool.give(h)
    }
}

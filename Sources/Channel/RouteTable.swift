/// The compiled route table as the workers use it: a service name to an index into the
/// config's routes. A class around the generic router so that the per-request lookup is a plain
/// method call on a shared immutable object, not a copy of the router's storage at each call.
public final class RouteTable: Sendable {
    public let router: ServiceRouter<Int>

    public init(_ router: ServiceRouter<Int>) {
        self.router = router
    }

    @inline(__always)
    public func route(service: UnsafeRawBufferPointer) -> Int? {
        router.route(service: service)
    }

    public func route(service: String) -> Int? {
        router.route(service: service)
    }
}

import Glibc

/// Starts an OS thread that runs `body` once and ends (a worker's loop, the access-log writer,
/// a load worker, the demo server); join it with `pthread_join`. What `body` captures is held
/// until it returns, so the object that runs there stays alive while it runs.
public func startThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, Unmanaged.passRetained(ThreadBody(body)).toOpaque())
    precondition(rc == 0, "pthread_create failed (\(rc))")
    return thread
}

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

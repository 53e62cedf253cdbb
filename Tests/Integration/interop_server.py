"""grpc.testing.TestService for the integration tests, in-process or as a subprocess.

It behaves like the official interop server (response_status echo, x-grpc-test-echo-initial and
x-grpc-test-echo-trailing-bin echo, response_parameters with interval_us) except that response
payloads are filled with `pattern(size)` instead of zeros, so that corrupted or reordered bytes are
noticed. FullDuplexCall with no response_parameters echoes each request's payload.

Hooks for the tests, driven by request metadata:
  x-test-id        names the call: `service.record(id)` gives its CallRecord, before or after it arrives;
                   the SHA-256 of each request payload is kept in record.request_digests.
  x-test-delay-ms  the handler waits this long before answering (less if the call ends first).
  x-test-hold      the handler waits until the test sets record.release (or the call ends);
                   StreamingInputCall waits before it reads any request, so its requests back up.
  x-test-gate      the handler waits at `service.gate`, a threading.Barrier (with a timeout) that
                   the test sets.
Every call is kept in `service.calls` with its peer, so the tests can count upstream connections.

Run as a program it serves on 127.0.0.1 (port 0 picks a free one), prints `listening PORT` on
stdout, and serves until killed.
"""
import argparse
import hashlib
import sys
import threading
from concurrent import futures
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_gen"))

import grpc  # noqa: E402
from testing_stubs import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

MAX_MESSAGE = 32 * 1024 * 1024
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE),
           ("grpc.max_receive_message_length", MAX_MESSAGE)]
HOLD_LIMIT = 30.0  # seconds a held call waits at most
STATUS_BY_CODE = {code.value[0]: code for code in grpc.StatusCode}

_PATTERN_UNIT = bytes(range(251))  # a prime length, so the pattern never lines up with power-of-two sizes


def pattern(size):
    """The deterministic payload body of `size` bytes that responses carry."""
    return (_PATTERN_UNIT * (size // len(_PATTERN_UNIT) + 1))[:size]


def digest(data):
    return hashlib.sha256(data).hexdigest()


class CallRecord:
    def __init__(self):
        self.arrived = threading.Event()    # the handler has started
        self.release = threading.Event()    # set by the test to end a hold, and when the call ends
        self.cancelled = threading.Event()  # the client reset the call, or its deadline passed
        self.method = None
        self.peer = None
        self.metadata = {}
        self.time_remaining = None          # context.time_remaining() when the call arrived
        self.request_digests = []
        self.responses_yielded = 0          # StreamingOutputCall: responses handed to grpcio so far


class TestService(test_pb2_grpc.TestServiceServicer):
    def __init__(self):
        self._lock = threading.Lock()
        self._named = {}
        self.calls = []
        self.gate = None

    def record(self, call_id):
        with self._lock:
            return self._named.setdefault(call_id, CallRecord())

    def peers(self):
        with self._lock:
            return {rec.peer for rec in self.calls}

    # --- the service ---

    def EmptyCall(self, request, context):
        rec = self._begin(context, "EmptyCall")
        self._wait(context, rec)
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        rec = self._begin(context, "UnaryCall")
        self._keep(rec, request.payload)
        if self._wait(context, rec):
            self._status(context, request.response_status)
        return messages_pb2.SimpleResponse(payload=messages_pb2.Payload(body=pattern(request.response_size)))

    def StreamingOutputCall(self, request, context):
        rec = self._begin(context, "StreamingOutputCall")
        if not self._wait(context, rec):
            return
        for params in request.response_parameters:
            if not self._pause(context, rec, params.interval_us):
                return
            rec.responses_yielded += 1  # grpcio asks for the next one once this one is sent
            yield _response(pattern(params.size))
        self._status(context, request.response_status)

    def StreamingInputCall(self, request_iterator, context):
        rec = self._begin(context, "StreamingInputCall")
        if not self._wait(context, rec):
            return messages_pb2.StreamingInputCallResponse()
        total = 0
        for request in self._requests(context, request_iterator):
            self._keep(rec, request.payload)
            total += len(request.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        rec = self._begin(context, "FullDuplexCall")
        if not self._wait(context, rec):
            return
        for request in self._requests(context, request_iterator):
            self._keep(rec, request.payload)
            self._status(context, request.response_status)
            if not request.response_parameters:
                yield _response(request.payload.body)
            for params in request.response_parameters:
                if not self._pause(context, rec, params.interval_us):
                    return
                yield _response(pattern(params.size))

    def HalfDuplexCall(self, request_iterator, context):
        rec = self._begin(context, "HalfDuplexCall")
        requests = list(self._requests(context, request_iterator))
        for request in requests:
            self._status(context, request.response_status)
            for params in request.response_parameters:
                yield _response(pattern(params.size))

    # UnimplementedCall is left to the generated base class: UNIMPLEMENTED "Method not implemented!".

    # --- helpers ---

    def _begin(self, context, method):
        metadata = dict(context.invocation_metadata())
        call_id = metadata.get("x-test-id")
        rec = self.record(call_id) if call_id else CallRecord()
        rec.method = method
        rec.peer = context.peer()
        rec.metadata = metadata
        rec.time_remaining = context.time_remaining()
        with self._lock:
            self.calls.append(rec)
        if not context.add_callback(lambda: self._ended(context, rec)):
            self._ended(context, rec)  # the call was over (reset) before its handler started
        if "x-grpc-test-echo-initial" in metadata:
            context.send_initial_metadata(
                (("x-grpc-test-echo-initial", metadata["x-grpc-test-echo-initial"]),))
        if "x-grpc-test-echo-trailing-bin" in metadata:
            context.set_trailing_metadata(
                (("x-grpc-test-echo-trailing-bin", metadata["x-grpc-test-echo-trailing-bin"]),))
        rec.arrived.set()
        return rec

    def _wait(self, context, rec):
        """Apply the gate, hold and delay hooks; False if the call ended meanwhile."""
        if "x-test-gate" in rec.metadata:
            try:
                self.gate.wait()
            except threading.BrokenBarrierError:
                context.abort(grpc.StatusCode.ABORTED, "x-test-gate: the barrier broke")
        if "x-test-hold" in rec.metadata:
            rec.release.wait(HOLD_LIMIT)
        elif "x-test-delay-ms" in rec.metadata:
            rec.release.wait(int(rec.metadata["x-test-delay-ms"]) / 1000)
        return context.is_active()

    def _pause(self, context, rec, interval_us):
        if interval_us:
            rec.release.wait(interval_us / 1e6)
        return context.is_active()

    @staticmethod
    def _ended(context, rec):
        """Runs when the call is over, however it ended. grpcio has no public "was it cancelled?":
        its end-of-call callbacks run after RECV_CLOSE_ON_SERVER has completed, whose `cancelled`
        flag (the client reset the stream or the deadline passed; not set when the server sent its
        status) grpcio keeps as state.client. Nothing else tells it reliably: a reset stream may
        first look like the end of the requests to the handler."""
        if context._state.client == "cancelled":
            rec.cancelled.set()
        rec.release.set()

    @staticmethod
    def _requests(context, request_iterator):
        """The requests; after a cancellation the iteration just stops."""
        try:
            yield from request_iterator
        except grpc.RpcError:
            if context.is_active():
                raise

    @staticmethod
    def _keep(rec, payload):
        if rec.metadata.get("x-test-id"):
            rec.request_digests.append(digest(payload.body))

    @staticmethod
    def _status(context, echo_status):
        if echo_status.code:
            context.abort(STATUS_BY_CODE[echo_status.code], echo_status.message)


def _response(body):
    return messages_pb2.StreamingOutputCallResponse(payload=messages_pb2.Payload(body=body))


def serve(port=0, max_workers=400, options=()):
    """Start a server on 127.0.0.1; returns (server, port, service). The pool is large enough for
    every call of the concurrency test to be held in a handler at once. `options` are more grpcio
    channel arguments."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=OPTIONS + list(options))
    service = TestService()
    test_pb2_grpc.add_TestServiceServicer_to_server(service, server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port, service


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server, port, _ = serve(args.port)
    print(f"listening {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()

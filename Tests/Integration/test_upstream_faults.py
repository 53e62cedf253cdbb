"""Upstreams that misbehave below gRPC: silent after the TCP handshake, protocol errors that
leave the socket open; and client deadlines at the edge of the grpc-timeout range."""
import socket
import re
import subprocess
import threading

import grpc
import pytest

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 10


def simple(size):
    return messages_pb2.SimpleRequest(response_size=size)


class SilentUpstream:
    """A listening socket that is never accepted: the kernel completes TCP handshakes, nothing
    ever speaks HTTP/2 (a hung server, or one whose accept queue is full)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# A connection-level protocol error: WINDOW_UPDATE with increment 0 on stream 0 (RFC 9113 §6.9).
BAD_WINDOW_UPDATE = b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


def rst_stream(stream_id, code):
    """An RST_STREAM frame (RFC 9113 §6.4)."""
    return b"\x00\x00\x04\x03\x00" + stream_id.to_bytes(4, "big") + code.to_bytes(4, "big")


class BrokenUpstream:
    """Accepts one connection, sends its SETTINGS, and once the gateway's first request arrives
    sends `answer` (by default a connection-level protocol error) — then keeps the socket open
    and silent."""

    def __init__(self, answer=BAD_WINDOW_UPDATE):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.sent = threading.Event()
        self.conn = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        self.conn = conn
        conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        received = b""
        # The client preface (24 bytes) and SETTINGS come first; a HEADERS frame (type 1) follows.
        while not self._has_headers(received):
            chunk = conn.recv(65536)
            if not chunk:
                return
            received += chunk
        self.sent.set()  # before answering: the gateway may finish the call before this thread runs on
        conn.sendall(self.answer)

    @staticmethod
    def _has_headers(data):
        i = 24
        while i + 9 <= len(data):
            length = int.from_bytes(data[i:i + 3], "big")
            if data[i + 3] == 1:
                return True
            i += 9 + length
        return False

    def close(self):
        if self.conn:
            self.conn.close()
        self.sock.close()


def test_h2_grpc_unary_route_deadline_while_upstream_is_silent(gateway):
    """The route's deadline expires while the call waits for an upstream handshake: the client
    gets DEADLINE_EXCEEDED from the gateway on time (the answer comes from a timer, with no
    socket event to carry it)."""
    up = SilentUpstream()
    try:
        gw = gateway(harness.routes([up.port], workers=1, route_timeout="300ms", connect_timeout="20s"))
        with harness.channel(gw.port) as ch:
            # No client deadline (grpcio would send grpc-timeout, which takes precedence): the
            # route's applies. The wait below only bounds the test.
            future = test_pb2_grpc.TestServiceStub(ch).UnaryCall.future(simple(1))
            error = future.exception(timeout=2)
        assert error is not None, "the call succeeded against a silent upstream"
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
        assert error.details() == "deadline exceeded (route timeout)"
    finally:
        up.close()


def test_h2_grpc_unary_upstream_sends_no_settings_unavailable(gateway):
    """connect_timeout covers the HTTP/2 handshake: a server that accepts TCP but never sends
    SETTINGS fails the call with UNAVAILABLE saying so, within the connect timeout."""
    up = SilentUpstream()
    try:
        gw = gateway(harness.routes([up.port], workers=1, connect_timeout="300ms"))
        with harness.channel(gw.port) as ch:
            code, details, seconds = harness.status_of(
                lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=WAIT))
        assert code == grpc.StatusCode.UNAVAILABLE, details
        assert "no HTTP/2 SETTINGS" in details, details
        assert seconds < 2, f"UNAVAILABLE after {seconds:.2f}s for a 300ms connect timeout"
    finally:
        up.close()


def test_h2_grpc_unary_upstream_protocol_error_unavailable(gateway):
    """An upstream connection error that leaves the socket open: the call on it ends with
    UNAVAILABLE at once, not at its deadline."""
    up = BrokenUpstream()
    try:
        gw = gateway(harness.routes([up.port], workers=1))
        with harness.channel(gw.port) as ch:
            code, details, seconds = harness.status_of(
                lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=WAIT))
        assert up.sent.is_set(), "the fake upstream never received the call"
        assert code == grpc.StatusCode.UNAVAILABLE, details
        assert seconds < 3, f"UNAVAILABLE after {seconds:.2f}s"
    finally:
        up.close()


def test_h2_grpc_unary_largest_grpc_timeout(relay, tmp_path):
    """grpc-timeout: 99999999H is valid (PROTOCOL-HTTP2.md: at most 8 digits, unit H): the call
    succeeds, and the gateway does not trip over nanoseconds past 2^64."""
    request = tmp_path / "request.bin"
    data = simple(5).SerializeToString()
    request.write_bytes(b"\x00" + len(data).to_bytes(4, "big") + data)
    url = f"http://127.0.0.1:{relay.gateway.port}/grpc.testing.TestService/UnaryCall"
    out = subprocess.run(["nghttp", "-v", "-d", str(request), "-H", "content-type: application/grpc",
                          "-H", "te: trailers", "-H", "grpc-timeout: 99999999H", url],
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "grpc-status: 0" in out.stdout, out.stdout
    assert relay.stub.UnaryCall(simple(2), timeout=WAIT).payload.body  # still serving


@pytest.mark.parametrize("code, status", [
    (8, grpc.StatusCode.CANCELLED),            # CANCEL
    (11, grpc.StatusCode.RESOURCE_EXHAUSTED),  # ENHANCE_YOUR_CALM
    (2, grpc.StatusCode.INTERNAL),             # INTERNAL_ERROR
], ids=["cancel", "enhance-your-calm", "internal"])
def test_h2_grpc_unary_upstream_rst_stream_status(gateway, code, status):
    """An upstream RST_STREAM reaches the client as the status PROTOCOL-HTTP2.md maps its code to,
    and /metrics counts it as a reset received (not sent). (REFUSED_STREAM is sent again once:
    `test_h2_grpc_unary_refused_unprocessed_is_sent_again`, `..._refused_every_time_...`.)"""
    up = BrokenUpstream(rst_stream(1, code))  # the gateway's first stream on a new connection is 1
    try:
        config = harness.routes([up.port], workers=1)
        admin = harness.free_port()
        config["admin"] = {"address": f"127.0.0.1:{admin}"}
        gw = gateway(config)
        with harness.channel(gw.port) as ch:
            got, details, seconds = harness.status_of(
                lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=WAIT))
        assert up.sent.is_set(), "the fake upstream never received the call"
        assert got == status, details
        assert f"HTTP/2 error code {code}" in details, details
        assert seconds < 3
        assert harness.metric(admin, "trestle_upstream_resets_received_total") == 1
        assert harness.metric(admin, "trestle_upstream_resets_sent_total") == 0
    finally:
        up.close()


def test_h2_grpc_unary_refused_endpoint_backs_off(gateway):
    """After a refused connect the endpoint is left alone for backoff_base: the calls meanwhile
    fail with UNAVAILABLE at once, and the gateway makes no new connection attempt (counted by
    its own metrics)."""
    config = harness.routes([harness.free_port()], workers=1, backoff_base="30s", backoff_max="60s")
    admin = harness.free_port()
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    gw = gateway(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        for _ in range(5):
            got, details, seconds = harness.status_of(lambda: stub.UnaryCall(simple(1), timeout=WAIT))
            assert got == grpc.StatusCode.UNAVAILABLE, details
            assert "connection refused" in details, details
            assert seconds < 2
    metrics = subprocess.run(["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{admin}/metrics"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    failures = re.search(r"^trestle_upstream_connect_failures_total (\d+)$", metrics, re.M)
    assert failures and int(failures.group(1)) == 1, metrics


class RefusingUpstream(harness.RawServer):
    """A gRPC upstream in Python `h2` that refuses the first request it receives without
    processing it — by `how`: "goaway" (GOAWAY naming no stream processed, as a server that is
    shutting down gracefully does; nghttp2 then closes the stream REFUSED_STREAM), "rst"
    (RST_STREAM REFUSED_STREAM), "rst-always" (every request so), or "rst-after-headers" (the
    response HEADERS first, then
    RST_STREAM REFUSED_STREAM: the stream was taken, it must not be sent again) — and answers
    every later UnaryCall with the request's payload. `bodies` holds every request body received,
    in order."""

    def __init__(self, how):
        import h2.config, h2.connection
        self.how = how
        self.bodies = []
        self.refused = threading.Event()
        self._h2 = (h2.config, h2.connection)
        super().__init__()

    def _serve(self, sock):
        import h2.events
        config, connection = self._h2
        h2c = connection.H2Connection(config.H2Configuration(client_side=False, header_encoding="utf-8"))
        h2c.initiate_connection()
        sock.sendall(h2c.data_to_send())
        bodies = {}
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                    h2c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    self._answer(h2c, event.stream_id, bodies.pop(event.stream_id, b""))
            sock.sendall(h2c.data_to_send())

    def _answer(self, h2c, stream_id, body):
        self.bodies.append(body)
        if not self.refused.is_set() or self.how == "rst-always":
            self.refused.set()
            if self.how == "goaway":
                h2c.close_connection(error_code=0, last_stream_id=0)
                return
            if self.how == "rst-after-headers":
                h2c.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
            h2c.reset_stream(stream_id, error_code=7)
            return
        request = messages_pb2.SimpleRequest.FromString(body[5:])
        reply = messages_pb2.SimpleResponse(payload=request.payload).SerializeToString()
        h2c.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
        h2c.send_data(stream_id, b"\0" + len(reply).to_bytes(4, "big") + reply)
        h2c.send_headers(stream_id, [("grpc-status", "0")], end_stream=True)

    close = harness.RawServer.stop


def refusing_gateway(gateway, up):
    config = harness.routes([up.port], workers=1)
    admin = harness.free_port()
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    return gateway(config), admin


@pytest.mark.parametrize("how", ["goaway", "rst"])
def test_h2_grpc_unary_refused_unprocessed_is_sent_again(gateway, how):
    """An upstream that refuses a stream without processing it — GOAWAY during a graceful
    shutdown, or RST_STREAM REFUSED_STREAM — gets the same request again (the gateway kept the
    bytes it sent), and the client sees one successful call, counted once as a retry."""
    up = RefusingUpstream(how)
    try:
        gw, admin = refusing_gateway(gateway, up)
        payload = bytes(range(256)) * 40  # 10 KiB: more than one DATA frame's worth is fine
        with harness.channel(gw.port) as ch:
            reply = test_pb2_grpc.TestServiceStub(ch).UnaryCall(
                messages_pb2.SimpleRequest(payload=messages_pb2.Payload(body=payload)), timeout=WAIT)
        assert reply.payload.body == payload
        assert len(up.bodies) == 2 and up.bodies[0] == up.bodies[1], [len(b) for b in up.bodies]
        assert harness.metric(admin, "trestle_upstream_retries_total") == 1
        assert harness.metric(admin, "trestle_buffered_bytes") == 0
    finally:
        up.close()


def test_h2_grpc_unary_refused_every_time_is_unavailable_after_one_retry(gateway):
    """An upstream that refuses every stream: the request goes again once, then the call ends
    UNAVAILABLE naming the reset (PROTOCOL-HTTP2.md's mapping of REFUSED_STREAM)."""
    up = RefusingUpstream("rst-always")
    try:
        gw, admin = refusing_gateway(gateway, up)
        with harness.channel(gw.port) as ch:
            got, details, seconds = harness.status_of(
                lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=WAIT))
        assert got == grpc.StatusCode.UNAVAILABLE, details
        assert "HTTP/2 error code 7" in details, details
        assert seconds < 3
        assert len(up.bodies) == 2
        assert harness.metric(admin, "trestle_upstream_retries_total") == 1
    finally:
        up.close()


def test_h2_grpc_refused_after_its_response_began_is_not_sent_again(gateway):
    """REFUSED_STREAM after the response HEADERS: the upstream took the stream, so the call ends
    UNAVAILABLE and the request was received once."""
    up = RefusingUpstream("rst-after-headers")
    try:
        gw, admin = refusing_gateway(gateway, up)
        with harness.channel(gw.port) as ch:
            got, details, _ = harness.status_of(
                lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=WAIT))
        assert got == grpc.StatusCode.UNAVAILABLE, details
        assert "error code 7" in details, details
        assert len(up.bodies) == 1
        assert harness.metric(admin, "trestle_upstream_retries_total") == 0
    finally:
        up.close()


def test_h2_grpc_request_larger_than_what_is_kept_is_not_sent_again(gateway):
    """A request of 100 KiB is more than the gateway keeps for a retry (64 KiB): refused, the
    call ends UNAVAILABLE naming the reset, and nothing is left held."""
    up = RefusingUpstream("goaway")
    try:
        gw, admin = refusing_gateway(gateway, up)
        payload = bytes(100 * 1024)
        with harness.channel(gw.port) as ch:
            got, details, _ = harness.status_of(lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(
                messages_pb2.SimpleRequest(payload=messages_pb2.Payload(body=payload)), timeout=WAIT))
        assert got == grpc.StatusCode.UNAVAILABLE, details
        assert "error code 7" in details, details
        assert len(up.bodies) == 1
        assert harness.metric(admin, "trestle_upstream_retries_total") == 0
        assert harness.metric(admin, "trestle_buffered_bytes") == 0
    finally:
        up.close()

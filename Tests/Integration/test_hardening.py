"""Hostile HTTP/2 clients against the gateway's memory and time budgets (README "Hardening"): each
attack runs against a real grpcio upstream on one worker, while the gateway's resident memory is read
from /proc/PID/status; a legitimate grpcio call on a fresh connection succeeds during the attack, and
the attacker gets the documented error. Every loop is bounded."""
import copy
import json
import select
import socket
import struct
import threading
import time

import grpc
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

MiB = 1 << 20
WAIT = 5
SERVICE = "grpc.testing.TestService"

# The worst case of one client connection with the defaults (README "Hardening"): 16 MiB of request
# bytes (connection_window), 100 x 64 KiB of request bytes kept for retries, 16 MiB of upstream
# response grants, 100 streams x 64 KiB of initial upstream windows and 100 x 64 KiB of header
# lists: about 51 MiB. The gateway itself idles at about
# 25 MiB; so while one attacker connection is at its worst, the gateway stays under this.
ATTACK_RSS_CAP_MIB = 80


def config_for(up, admin, sink=None, **keys):
    """One worker, the admin port, grpc.testing.TestService routed to `up`; with `sink` (a
    StuckUpstream), the service SINK routed to it."""
    config = harness.routes([up.port], workers=1)
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    if sink:
        config["clusters"].append({"name": "sink", "endpoints": [f"127.0.0.1:{sink.port}"]})
        config["routes"].append({"service": SINK, "cluster": "sink"})
    config.update(keys)
    return config


SINK = "attack.v1.Sink"


class StuckUpstream:
    """An HTTP/2 server that answers the connection preface with its SETTINGS (so the gateway's
    pool sees a ready connection) and then never reads its socket again: an upstream that does not
    read at all, below any gRPC library's own buffering."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            server.initiate_connection()
            conn.sendall(server.data_to_send())
            preface = b""
            while len(preface) < 24 + 9:  # the client preface and its SETTINGS frame header
                chunk = conn.recv(24 + 9 - len(preface))
                if not chunk:
                    break
                preface += chunk
            conn.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")  # SETTINGS ACK; nothing read after

    def stop(self):
        self.listener.close()
        for c in self.connections:
            c.close()


@pytest.fixture
def sink():
    s = StuckUpstream()
    yield s
    s.stop()


metric = harness.metric


def limit_hits(admin, limit):
    return metric(admin, "trestle_limit_hits_total", f'{{limit="{limit}"}}')


def legit_call(port):
    """A unary grpcio call on a fresh connection: it must succeed while an attack runs."""
    with harness.channel(port) as ch:
        reply = test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=7), timeout=WAIT)
    assert len(reply.payload.body) == 7


def grpc_frame(payload):
    return b"\x00" + struct.pack(">I", len(payload)) + payload


class Attacker:
    """One raw HTTP/2 client connection (the `h2` library over a socket), driven by hand."""

    def __init__(self, port, window=65535, read_responses=True):
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config)
        self.h2.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20})
        self.h2.initiate_connection()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.read_responses = read_responses
        self.resets = {}        # stream id -> RST_STREAM error code
        self.trailers = {}      # stream id -> trailer dict
        self.headers = {}       # stream id -> response headers
        self.goaway = None
        self.closed = False
        self.flush()

    def headers_for(self, method, extra=()):
        return [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
                (":path", f"/{SERVICE}/{method}"), ("content-type", "application/grpc"), ("te", "trailers"),
                *extra]

    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                self.closed = True

    def pump(self, timeout=0.0):
        """Reads what has arrived (waiting at most `timeout` for the first bytes)."""
        while not self.closed:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return
            timeout = 0
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            try:
                events = self.h2.receive_data(chunk)
            except h2.exceptions.ProtocolError:
                self.closed = True
                return
            for event in events:
                if isinstance(event, h2.events.StreamReset):
                    self.resets[event.stream_id] = event.error_code
                elif isinstance(event, h2.events.TrailersReceived):
                    self.trailers[event.stream_id] = dict(event.headers)
                elif isinstance(event, h2.events.ResponseReceived):
                    self.headers[event.stream_id] = dict(event.headers)
                    if event.stream_ended:
                        self.trailers[event.stream_id] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived) and self.read_responses:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.goaway = event
            self.flush()

    def send_some(self, stream_id, body, offset):
        """Sends what the windows allow of body[offset:]; returns the new offset."""
        try:
            room = min(self.h2.local_flow_control_window(stream_id), len(body) - offset)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            return len(body)
        while room > 0:
            n = min(room, self.h2.max_outbound_frame_size)
            self.h2.send_data(stream_id, body[offset:offset + n])
            offset += n
            room -= n
        return offset

    def close(self):
        self.sock.close()


class RSSWatch:
    """Samples the gateway's VmRSS (from /proc) every few ms on a thread while an attack runs."""

    def __init__(self, gw):
        self.gw = gw
        self.peak_kib = gw.vm_rss_kib()
        self.start_kib = self.peak_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self.gw.vm_rss_kib())
            self._stop.wait(0.005)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        return self.peak_kib / 1024


def push_until_stalled(attacker, bodies, deadline_s=15, quiet_s=0.5):
    """Sends bodies[stream] on every stream as fast as the windows allow, until nothing more can
    be sent for `quiet_s` (observation of a stall) or all is sent. Returns the bytes sent."""
    offsets = {sid: 0 for sid in bodies}
    start = changed = time.monotonic()
    while True:
        before = sum(offsets.values())
        for sid, body in bodies.items():
            offsets[sid] = attacker.send_some(sid, body, offsets[sid])
        attacker.flush()
        attacker.pump(0.01)
        sent = sum(offsets.values())
        now = time.monotonic()
        if sent != before:
            changed = now
        if sent == sum(len(b) for b in bodies.values()) or now - changed >= quiet_s or attacker.closed:
            return sent
        assert now - start < deadline_s, f"still sending after {deadline_s}s: {sent} bytes"


def upload_streams(attacker, count, path=f"/{SINK}/Upload", extra=()):
    bodies = {}
    for _ in range(count):
        sid = attacker.h2.get_next_available_stream_id()
        headers = [(k, path if k == ":path" else v) for k, v in attacker.headers_for("X", extra)]
        attacker.h2.send_headers(sid, headers)
        bodies[sid] = grpc_frame(bytes(MiB - 5))
    attacker.flush()
    return bodies


@pytest.mark.rss
def test_h2_grpc_96_uploads_into_unread_upstream_bounded_by_connection_window(upstream, sink, gateway):
    """96 streams on one connection each push a 1 MiB message into an upstream that reads nothing
    from its socket. The gateway takes at most connection_window (16 MiB) of request bytes from
    the connection, whatever its stream count, its RSS stays under the bound meanwhile, and a
    legitimate call on a fresh connection succeeds during the attack."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, sink))
    watch = RSSWatch(gw)
    attacker = Attacker(gw.port)
    bodies = upload_streams(attacker, 96)
    try:
        sent = push_until_stalled(attacker, bodies)
        held = metric(admin, "trestle_buffered_bytes")
        legit_call(gw.port)
        peak = watch.stop()
    finally:
        attacker.close()
        watch.stop()
    print(f"attack uploads: sent {sent / MiB:.1f} MiB, gateway held {held / MiB:.1f} MiB, "
          f"RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB")
    assert held <= 16 * MiB, f"the gateway held {held} request bytes of one connection"
    assert sent < 16 * MiB + 8 * MiB, f"the gateway let {sent} bytes in (the sink's socket buffers take a few MiB)"
    assert peak < ATTACK_RSS_CAP_MIB, f"gateway RSS peaked at {peak:.1f} MiB"


@pytest.mark.rss
def test_h2_grpc_50_streams_never_read_are_reset_by_min_rate(upstream, gateway):
    """A client asks for 50 streams of 1 MiB responses and never opens its window: the response
    bytes the gateway accepts for the connection are bounded by connection_window, each stream is
    reset (RST_STREAM CANCEL) once it moved less than min_rate over a window, and a legitimate
    call succeeds meanwhile."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, min_rate="1KiB", min_rate_window="1s"))
    watch = RSSWatch(gw)
    attacker = Attacker(gw.port, read_responses=False)
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=MiB) for _ in range(8)]).SerializeToString()
    streams = []
    for _ in range(50):
        sid = attacker.h2.get_next_available_stream_id()
        attacker.h2.send_headers(sid, attacker.headers_for("StreamingOutputCall"))
        attacker.h2.send_data(sid, grpc_frame(request), end_stream=True)
        streams.append(sid)
    attacker.flush()
    try:
        held_peak = 0
        deadline = time.monotonic() + 15
        while len(attacker.resets) < len(streams) and time.monotonic() < deadline and not attacker.closed:
            attacker.pump(0.05)
            held_peak = max(held_peak, metric(admin, "trestle_buffered_bytes"))
        legit_call(gw.port)
        peak = watch.stop()
    finally:
        attacker.close()
        watch.stop()
    print(f"attack unread responses: gateway held at most {held_peak / MiB:.1f} MiB, "
          f"RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB, {len(attacker.resets)} resets")
    assert sorted(attacker.resets) == streams, f"streams not reset: {sorted(set(streams) - set(attacker.resets))}"
    assert set(attacker.resets.values()) == {8}, attacker.resets  # CANCEL
    assert held_peak <= 16 * MiB + 50 * 65535, f"the gateway held {held_peak} response bytes for one connection"
    assert peak < ATTACK_RSS_CAP_MIB, f"gateway RSS peaked at {peak:.1f} MiB"
    assert limit_hits(admin, "min_rate_response") == 50


def test_h2_grpc_slow_body_gets_deadline_exceeded_from_min_rate(upstream, gateway):
    """A request message trickling in at 20 bytes per 100 ms (200 B/s, under min_rate 1 KiB/s):
    the call ends DEADLINE_EXCEEDED naming min_rate, the stream is then reset, and a legitimate
    call succeeds meanwhile."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, min_rate="1KiB", min_rate_window="1s"))
    attacker = Attacker(gw.port)
    sid = attacker.h2.get_next_available_stream_id()
    attacker.h2.send_headers(sid, attacker.headers_for("StreamingInputCall"))
    body = grpc_frame(bytes(100_000))
    offset = 0
    start = time.monotonic()
    try:
        while sid not in attacker.trailers and time.monotonic() - start < 10 and not attacker.closed:
            attacker.h2.send_data(sid, body[offset:offset + 20])
            offset += 20
            attacker.flush()
            attacker.pump(0.1)  # the attacker's pace: 20 bytes per 100 ms
        elapsed = time.monotonic() - start
        legit_call(gw.port)
        # The gateway resets the stream once its answer is out (RFC 9113 §8.1: it wants no more).
        deadline = time.monotonic() + WAIT
        while sid not in attacker.resets and time.monotonic() < deadline and not attacker.closed:
            try:
                attacker.h2.send_data(sid, body[offset:offset + 20])
                offset += 20
            except h2.exceptions.StreamClosedError:
                break
            attacker.flush()
            attacker.pump(0.1)
    finally:
        attacker.close()
    trailers = attacker.trailers.get(sid)
    assert trailers, "no answer to the slow body"
    assert trailers["grpc-status"] == "4", trailers
    assert "min_rate" in trailers["grpc-message"], trailers
    assert elapsed < 4, f"answered after {elapsed:.1f}s with min_rate_window 1s"
    assert attacker.resets.get(sid) == 0, attacker.resets  # RST_STREAM(NO_ERROR) after the answer
    assert limit_hits(admin, "min_rate_request") == 1


def test_h2_grpc_long_stream_that_moves_data_outlives_stream_idle_timeout(upstream, gateway):
    """stream_idle_timeout 1s: a bidi stream exchanging a message every 200 ms for 3 s is never
    idle and completes; a stream quiet for longer than the timeout ends DEADLINE_EXCEEDED."""
    import queue
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, stream_idle_timeout="1s", min_rate_window="500ms"))
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        requests = queue.Queue()
        call = stub.FullDuplexCall(iter(requests.get, None), timeout=30)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 3:
            requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"%d" % n)))
            assert next(call).payload.body == b"%d" % n
            n += 1
            time.sleep(0.2)  # the client's pace, the behaviour under test: one message per 200 ms
        requests.put(None)
        assert list(call) == []
        assert call.code() == grpc.StatusCode.OK
        # A quiet stream is idle: ended after about the timeout.
        quiet = stub.FullDuplexCall(iter(queue.Queue().get, None), timeout=30)
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as error:
            list(quiet)
        elapsed = time.monotonic() - start
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.value
    assert "stream idle" in error.value.details()
    # Idleness is counted in ticks of min_rate_window (500 ms here), from the first whole tick.
    assert 0.9 <= elapsed < 3, elapsed
    assert limit_hits(admin, "stream_idle_timeout") == 1


def test_h2_worker_buffer_cap_refuses_new_streams(upstream, sink, gateway):
    """max_buffered_per_worker 2MiB: once uploads into an upstream that reads nothing hold more
    than that, a new stream gets REFUSED_STREAM (grpcio: UNAVAILABLE); when the attacker goes,
    new calls work again."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, sink, max_buffered_per_worker="2MiB"))
    attacker = Attacker(gw.port)
    bodies = upload_streams(attacker, 16)
    try:
        push_until_stalled(attacker, bodies)
        assert metric(admin, "trestle_buffered_bytes") > 2 * MiB
        with harness.channel(gw.port) as ch:
            with pytest.raises(grpc.RpcError) as error:
                test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(), timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value
        assert "REFUSED_STREAM" in error.value.details() or "code 7" in error.value.details(), error.value.details()
    finally:
        attacker.close()
    deadline = time.monotonic() + WAIT
    while metric(admin, "trestle_buffered_bytes") != 0:
        assert time.monotonic() < deadline, "buffered bytes not given back after the attacker left"
        threading.Event().wait(0.01)
    legit_call(gw.port)
    assert limit_hits(admin, "max_buffered_per_worker") >= 1


def test_connections_beyond_max_connections_per_worker_are_closed(upstream, gateway):
    """max_connections_per_worker 3: a fourth connection is closed at once and counted; the three
    keep working."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, max_connections_per_worker=3))
    held = [socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) for _ in range(3)]
    try:
        deadline = time.monotonic() + WAIT
        while metric(admin, "trestle_downstream_connections") < 3:
            assert time.monotonic() < deadline
            threading.Event().wait(0.01)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as extra:
            extra.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            try:
                assert extra.recv(100) == b""
            except ConnectionResetError:
                pass
        assert limit_hits(admin, "max_connections_per_worker") == 1
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + WAIT
    while metric(admin, "trestle_downstream_connections") > 0:
        assert time.monotonic() < deadline
        threading.Event().wait(0.01)
    legit_call(gw.port)


# Floods (nghttp2's own limits, RFC 9113 §10.5): the connection that floods gets GOAWAY, the
# process lives on, its memory stays bounded, and other connections do not notice.

def drain_until_closed(attacker, limit_s=10):
    """Reads (and answers nothing more) until the gateway closes the connection."""
    deadline = time.monotonic() + limit_s
    while not attacker.closed and time.monotonic() < deadline:
        attacker.pump(0.05)
    return attacker.closed


def flood_frames(kind, count):
    """`count` raw frames: PING (8 bytes of opaque data) or empty SETTINGS."""
    if kind == "ping":
        return b"".join(b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + struct.pack(">Q", i) for i in range(count))
    return b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" * count


@pytest.mark.rss
@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_h2_ping_and_settings_floods_get_goaway_enhance_your_calm(upstream, gateway, kind):
    """100,000 PINGs (or empty SETTINGS) sent without reading the ACKs: nghttp2's outbound-ACK
    limit trips, the gateway answers GOAWAY(ENHANCE_YOUR_CALM) and closes that connection; it
    keeps serving others, and its memory stays flat."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin))
    watch = RSSWatch(gw)
    attacker = Attacker(gw.port)
    try:
        frames = flood_frames(kind, 100_000)
        try:
            attacker.sock.sendall(frames)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the gateway while the flood was still going out
        assert drain_until_closed(attacker), "the flooding connection is still open"
        legit_call(gw.port)
        peak = watch.stop()
    finally:
        attacker.close()
        watch.stop()
    print(f"attack {kind} flood: RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB, GOAWAY "
          f"{attacker.goaway.error_code if attacker.goaway else None}")
    assert attacker.goaway is not None and attacker.goaway.error_code == 11, attacker.goaway
    assert limit_hits(admin, "flood") == 1
    assert peak < watch.start_kib / 1024 + 16, f"gateway RSS peaked at {peak:.1f} MiB"


@pytest.mark.rss
def test_h2_rapid_reset_flood_gets_goaway_and_others_are_served(upstream, gateway):
    """HEADERS then RST_STREAM(CANCEL), 5,000 times on one connection (CVE-2023-44487): past a
    burst of 1000 resets (refilled at 33/s) the connection gets GOAWAY(ENHANCE_YOUR_CALM); the
    calls it opened are all counted as ended, the gateway keeps serving, and its memory stays flat."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin))
    watch = RSSWatch(gw)
    attacker = Attacker(gw.port)
    headers = attacker.headers_for("EmptyCall")
    try:
        for _ in range(5_000):
            if attacker.closed:
                break
            try:
                sid = attacker.h2.get_next_available_stream_id()
                attacker.h2.send_headers(sid, headers)
                attacker.h2.reset_stream(sid, 8)
            except h2.exceptions.ProtocolError:
                break  # the GOAWAY arrived: h2 opens no more streams
            attacker.flush()
            attacker.pump(0)
        assert drain_until_closed(attacker), "the connection survived a rapid reset flood"
        legit_call(gw.port)
        peak = watch.stop()
    finally:
        attacker.close()
        watch.stop()
    print(f"attack rapid reset: RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB, GOAWAY "
          f"{attacker.goaway.error_code if attacker.goaway else None}")
    assert attacker.goaway is not None and attacker.goaway.error_code == 11, attacker.goaway
    assert limit_hits(admin, "flood") == 1
    deadline = time.monotonic() + WAIT
    while metric(admin, "trestle_calls_active") != 0:
        assert time.monotonic() < deadline, "calls of the flooding connection still active"
        threading.Event().wait(0.01)
    assert peak < watch.start_kib / 1024 + 32, f"gateway RSS peaked at {peak:.1f} MiB"


def test_h1_json_slow_body_gets_408_from_min_rate(upstream, gateway):
    """An HTTP/1.1 JSON request with `Content-Length: 100000` whose body trickles in at 20 bytes
    per 100 ms: 408 with a JSON status naming min_rate, the connection closed after it; a
    legitimate call succeeds meanwhile."""
    import demo_server
    up = upstream()
    demo = demo_server.DemoUpstream()
    try:
        admin = harness.free_port()
        config = config_for(up, admin, min_rate="1KiB", min_rate_window="1s")
        config["descriptors"] = [str(demo_server.DESCRIPTOR_SET)]
        config["clusters"].append({"name": "demo", "endpoints": [f"127.0.0.1:{demo.port}"]})
        config["routes"].append({"service": demo_server.SERVICE, "cluster": "demo"})
        gw = gateway(config)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: 100000\r\n\r\n".encode())
            start = time.monotonic()
            answer = b""
            while time.monotonic() - start < 10:
                try:
                    sock.sendall(b" " * 20)
                except (BrokenPipeError, ConnectionResetError):
                    break
                ready, _, _ = select.select([sock], [], [], 0.1)  # the attacker's pace: 20 bytes per 100 ms
                if ready:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
                    if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                        break
            elapsed = time.monotonic() - start
            legit_call(gw.port)
            rest = b""
            try:
                while chunk := sock.recv(65536):
                    rest += chunk
            except ConnectionResetError:
                pass
    finally:
        demo.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":4' in body.replace(b" ", b""), body
    assert b"min_rate" in body, body
    assert elapsed < 4, f"answered after {elapsed:.1f}s with min_rate_window 1s"
    assert limit_hits(admin, "min_rate_request") == 1


def demo_config(up, admin, demo, **keys):
    import demo_server
    config = config_for(up, admin, **keys)
    config["descriptors"] = [str(demo_server.DESCRIPTOR_SET)]
    config["clusters"].append({"name": "demo", "endpoints": [f"127.0.0.1:{demo.port}"]})
    config["routes"].append({"service": demo_server.SERVICE, "cluster": "demo"})
    return config


def trickle(sock, piece, until, seconds=10, pace=0.1):
    """Sends `piece` every `pace` seconds (reading what arrives) until `until(answer)` holds, the
    connection ends or `seconds` pass. Returns (answer, elapsed)."""
    start = time.monotonic()
    answer = b""
    while time.monotonic() - start < seconds and not until(answer):
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        ready, _, _ = select.select([sock], [], [], pace)
        if ready:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - start


def json_answered(answer):
    return b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}")


def test_h1_json_slow_chunk_gets_408_from_min_rate(upstream, gateway):
    """A chunked HTTP/1.1 JSON request announces a 100,000-byte chunk and trickles it at 20 bytes
    per 100 ms (200 B/s, under min_rate 1 KiB/s): inside a chunk, the body is under way, so it
    gets 408 with a JSON status naming min_rate, and a legitimate call succeeds meanwhile."""
    import demo_server
    up, demo = upstream(), demo_server.DemoUpstream()
    try:
        admin = harness.free_port()
        gw = gateway(demo_config(up, admin, demo, min_rate="1KiB", min_rate_window="1s"))
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Transfer-Encoding: chunked\r\n\r\n186a0\r\n".encode())
            answer, elapsed = trickle(sock, b" " * 20, json_answered)
            legit_call(gw.port)
    finally:
        demo.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":4' in body.replace(b" ", b""), body
    assert b"request body slower than min_rate" in body, body
    assert elapsed < 4, f"answered after {elapsed:.1f}s with min_rate_window 1s"
    assert limit_hits(admin, "min_rate_request") == 1


def test_h1_keep_alive_request_is_not_judged_by_a_window_that_began_before_it(upstream, gateway):
    """min_rate on a keep-alive connection: the connection's timer ticks from its first request, so
    a second request that starts just before a tick (here 0.85 s into a 1 s window) has moved almost
    nothing by then. It is judged from its first whole window, and a body sent at 2 KiB/s (above
    min_rate 1 KiB/s) completes 200. (Found by the mixed soak: such a request got 408 "0 bytes in
    10000ms" 2 ms after it began.)"""
    import demo_server
    up, demo = upstream(), demo_server.DemoUpstream()
    try:
        admin = harness.free_port()
        gw = gateway(demo_config(up, admin, demo, min_rate="1KiB", min_rate_window="1s"))
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            first = b'{"message": "hi"}'
            start = time.monotonic()  # the connection's timer starts with this head
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(first)}\r\n\r\n".encode() + first)
            answer = b""
            while not json_answered(answer):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            # The client's schedule, not a synchronisation: its next request starts late in the window.
            select.select([], [], [], max(0.0, start + 0.85 - time.monotonic()))
            body = b'{"message": "' + b"x" * 4984 + b'"}'
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            sent = 0
            answer, elapsed = b"", 0.0
            began = time.monotonic()
            while sent < len(body):
                sock.sendall(body[sent:sent + 200])  # 200 bytes per 100 ms: 2 KiB/s
                sent += 200
                ready, _, _ = select.select([sock], [], [], 0.1)
                if ready:
                    answer += sock.recv(65536)
                    break
            while not json_answered(answer):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            elapsed = time.monotonic() - began
    finally:
        demo.stop()
    head, _, reply = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), (elapsed, answer[:300])
    assert json.loads(reply)["message"] == "x" * 4984
    assert limit_hits(admin, "min_rate_request") == 0


def test_h1_json_chunked_body_may_pause_between_chunks(upstream, gateway):
    """A chunked JSON body that stops between two chunks for 2.5 windows of min_rate (a client
    streaming values as they come) is not judged: the call completes 200."""
    import demo_server
    up, demo = upstream(), demo_server.DemoUpstream()
    try:
        admin = harness.free_port()
        gw = gateway(demo_config(up, admin, demo, min_rate="1KiB", min_rate_window="1s"))
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Transfer-Encoding: chunked\r\n\r\n".encode())
            first, second = b'{"message":', b'"still here"}'
            sock.sendall(b"%x\r\n%s\r\n" % (len(first), first))
            ready, _, _ = select.select([sock], [], [], 2.5)  # the pause; an answer would end it early
            assert not ready, sock.recv(65536)
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
            answer = b""
            deadline = time.monotonic() + WAIT
            while not json_answered(answer) and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    finally:
        demo.stop()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b"still here" in answer, answer
    assert limit_hits(admin, "min_rate_request") == 0


def test_h1_grpc_slow_chunked_message_gets_deadline_exceeded_from_min_rate(upstream, gateway):
    """gRPC over HTTP/1.1 with a chunked body: a 100,000-byte message arrives in complete 20-byte
    chunks every 100 ms. Between chunks but inside a gRPC message the body is under way: 408 with
    grpc-status 4 (DEADLINE_EXCEEDED) naming min_rate."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, min_rate="1KiB", min_rate_window="1s"))
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
        sock.sendall(f"POST /{SERVICE}/StreamingInputCall HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
                     f"TE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sock.sendall(b"5\r\n\x00" + struct.pack(">I", 100_000) + b"\r\n")
        answer, elapsed = trickle(sock, b"14\r\n" + b"\x00" * 20 + b"\r\n",
                                  lambda a: a.endswith(b"\r\n\r\n") and b"grpc-status" in a)
        legit_call(gw.port)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"grpc-status: 4\r\n" in answer, answer
    assert b"request body slower than min_rate" in answer, answer
    assert elapsed < 4, f"answered after {elapsed:.1f}s with min_rate_window 1s"
    assert limit_hits(admin, "min_rate_request") == 1


@pytest.mark.rss
def test_h1_grpc_response_never_read_is_closed_by_min_rate(upstream, gateway):
    """A gRPC-over-HTTP/1.1 client asks for 16 MiB of responses and never reads its socket (a
    small receive buffer). The bytes the gateway holds stay bounded (its RSS under the attack
    cap), and once the output waited a whole window while the client took less than min_rate,
    the call ends DEADLINE_EXCEEDED and the connection is closed; a legitimate call succeeds
    meanwhile and no call stays active."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, min_rate="1KiB", min_rate_window="1s"))
    watch = RSSWatch(gw)
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=MiB) for _ in range(16)]).SerializeToString()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", gw.port))
    try:
        body = grpc_frame(request)
        sock.sendall(f"POST /{SERVICE}/StreamingOutputCall HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
                     f"TE: trailers\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        deadline = time.monotonic() + 10
        while limit_hits(admin, "min_rate_response") == 0:
            assert time.monotonic() < deadline, "the unread response was not stopped"
            threading.Event().wait(0.05)
        elapsed = 10 - (deadline - time.monotonic())
        legit_call(gw.port)
        peak = watch.stop()
        # The gateway closed its end: reading now drains what the kernel held, then ends.
        received = 0
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
    finally:
        sock.close()
        watch.stop()
    print(f"attack unread HTTP/1.1 response: stopped after {elapsed:.1f}s, {received / MiB:.1f} MiB had reached "
          f"the client's kernel, RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB")
    assert received < 16 * MiB, f"the client got {received} bytes: the response was not stopped"
    assert peak < ATTACK_RSS_CAP_MIB, f"gateway RSS peaked at {peak:.1f} MiB"
    assert metric(admin, "trestle_calls_total", '{code="DEADLINE_EXCEEDED"}') == 1
    deadline = time.monotonic() + WAIT
    while metric(admin, "trestle_calls_active") != 0:
        assert time.monotonic() < deadline, "the unread call is still active"
        threading.Event().wait(0.01)


def test_h1_json_chunked_body_paused_past_stream_idle_timeout_gets_408(upstream, gateway):
    """A chunked JSON body that stops between chunks and stays silent: past stream_idle_timeout
    (1 s here) the exchange ends 408 `stream idle`, and the connection is closed after it."""
    import demo_server
    up, demo = upstream(), demo_server.DemoUpstream()
    try:
        admin = harness.free_port()
        gw = gateway(demo_config(up, admin, demo, stream_idle_timeout="1s", min_rate_window="250ms"))
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Transfer-Encoding: chunked\r\n\r\nb\r\n{{\"message\":\r\n".encode())
            start = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            elapsed = time.monotonic() - start
    finally:
        demo.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"stream idle for" in body, body
    assert 0.9 < elapsed < 3, f"answered after {elapsed:.1f}s with stream_idle_timeout 1s"
    assert limit_hits(admin, "stream_idle_timeout") == 1


# -- the HPACK bomb and the byte-a-second HTTP/1.1 head, as the issue measured them ---------------

HPACK_BOMB_VALUE = 3700  # one field of 3,738 bytes (RFC 9113 §6.5.2): fits the 4 KiB dynamic table
                         # next to the request's other fields, so every block can reference them all
HPACK_BOMB_FRAME = 16384  # each block exactly one HEADERS frame of the default SETTINGS_MAX_FRAME_SIZE


def send_hpack_bomb(attacker, method="UnaryCall", blocks=3):
    """Three HEADERS frames of 16 KiB on one connection (the issue's attack): the first adds one
    3.7 KB field to the dynamic table and references it ~14,000 times, the next ones reference it
    ~16,000 times each (one byte a reference): ~170 MiB of decoded header fields from 48 KiB on the
    wire. Returns (stream ids, decoded bytes of all blocks)."""
    value = "".join(chr(ord("a") + (i * 7) % 26) for i in range(HPACK_BOMB_VALUE))
    sids, decoded = [], 0
    for _ in range(blocks):
        sid = attacker.h2.get_next_available_stream_id()
        trial = copy.deepcopy(attacker.h2)  # the block's size at 10,000 references, to fill the frame
        trial.send_headers(sid, attacker.headers_for(method, [("x-bomb", value)] * 10_000), end_stream=True)
        references = 10_000 + HPACK_BOMB_FRAME - (len(trial.data_to_send()) - 9)
        attacker.h2.send_headers(sid, attacker.headers_for(method, [("x-bomb", value)] * references),
                                 end_stream=True)
        data = attacker.h2.data_to_send()
        length, kind = int.from_bytes(data[:3], "big"), data[3]
        assert kind == 1 and length == len(data) - 9 == HPACK_BOMB_FRAME, (kind, length, len(data))
        attacker.sock.sendall(data)
        sids.append(sid)
        decoded += references * (len("x-bomb") + HPACK_BOMB_VALUE + 32)
    return sids, decoded


@pytest.mark.rss
def test_h2_hpack_bomb_of_three_16k_frames_gets_431_with_flat_rss(upstream, gateway):
    """The issue's HPACK bomb (three 16 KiB HEADERS frames decoding into ~170 MiB; before the header
    limits it took the gateway from 25 to 175 MiB): each stream gets 431 with RESOURCE_EXHAUSTED,
    nothing reaches the upstream, a legitimate call succeeds meanwhile, and the gateway's RSS,
    sampled while the blocks decode, stays within 8 MiB of where it was."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin))
    watch = RSSWatch(gw)
    attacker = Attacker(gw.port)
    try:
        sids, decoded = send_hpack_bomb(attacker)
        legit_call(gw.port)
        deadline = time.monotonic() + WAIT
        while not all(sid in attacker.trailers or sid in attacker.resets for sid in sids) and not attacker.closed:
            assert time.monotonic() < deadline, f"answers so far: {attacker.headers} {attacker.resets}"
            attacker.pump(0.05)
        peak = watch.stop()
    finally:
        attacker.close()
        watch.stop()
    print(f"attack HPACK bomb ({decoded / MiB:.0f} MiB decoded): RSS "
          f"{watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB, after {gw.vm_rss_kib() / 1024:.1f} MiB")
    for sid in sids:
        assert attacker.headers.get(sid, {}).get(":status") == "431", (sid, attacker.headers, attacker.resets)
        assert attacker.headers[sid].get("grpc-status") == "8", attacker.headers[sid]
    assert [c for c in up.service.calls if c.method != "UnaryCall" or c.metadata.get("x-bomb")] == []
    assert len(up.service.calls) == 1, "only the legitimate call reaches the upstream"
    assert limit_hits(admin, "max_header_list_size") == 3
    assert peak < watch.start_kib / 1024 + 8, f"gateway RSS peaked at {peak:.1f} MiB"


# A GET: its first byte already tells HTTP/1.1 from the HTTP/2 preface, so the head's clock starts
# there. (A POST's "P" could still be "PRI * HTTP/2.0": its clock starts at the second byte.)
SLOW_HEAD = b"GET /v1/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


def trickle_heads(port, count, interval_s, observe_s, on_second=None, head=SLOW_HEAD):
    """`count` HTTP/1.1 connections, each sending one more byte of an unfinished request head every
    `interval_s` (the slowloris client's pace, which is what is under test), for at most
    `observe_s`. Returns [(answer bytes, seconds from the first byte until the gateway closed,
    or None)] per connection. `on_second()` is called once, a second in."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for _ in range(count)]
    answers = {s: b"" for s in socks}
    closed_after = {}
    open_ = set(socks)
    start = time.monotonic()
    sent, next_send, called = 0, start, on_second is None
    try:
        while open_ and time.monotonic() - start < observe_s:
            now = time.monotonic()
            if now >= next_send and sent < len(head):
                for s in list(open_):
                    try:
                        s.send(head[sent:sent + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # closed by the gateway: the read below sees it
                sent += 1
                next_send += interval_s
            if not called and now - start >= 1:
                called = True
                on_second()
            readable, _, _ = select.select(list(open_), [], [], max(0.0, min(next_send - now, 0.1)))
            for s in readable:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                answers[s] += chunk
                if not chunk:
                    closed_after[s] = time.monotonic() - start
                    open_.discard(s)
    finally:
        for s in socks:
            s.close()
    return [(answers[s], closed_after.get(s)) for s in socks]


@pytest.mark.rss
def test_h1_200_heads_a_byte_a_second_get_408_at_preface_timeout_with_flat_rss(upstream, gateway):
    """200 HTTP/1.1 connections each sending one byte of a request head per second (before the
    fix, reads restarted the head timeout: none was closed after 14 s with preface_timeout 10 s):
    every one gets 408 and is closed preface_timeout (2 s here) after its first byte, however the
    bytes keep coming; a legitimate gRPC call succeeds meanwhile; RSS stays within 8 MiB."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, preface_timeout="2s"))
    watch = RSSWatch(gw)
    served = []
    try:
        results = trickle_heads(gw.port, 200, 1.0, 8, on_second=lambda: served.append(legit_call(gw.port)))
        peak = watch.stop()
    finally:
        watch.stop()
    closed = [t for _, t in results if t is not None]
    print(f"attack 200 byte-a-second heads: RSS {watch.start_kib / 1024:.1f} -> peak {peak:.1f} MiB; "
          f"closed {len(closed)} of {len(results)}, after {min(closed, default=0):.2f}-{max(closed, default=0):.2f} s")
    assert served == [None], "the legitimate call did not run"
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer, _ in results), \
        [answer[:80] for answer, _ in results if not answer.startswith(b"HTTP/1.1 408 ")][:3]
    assert len(closed) == 200, f"{200 - len(closed)} connections still open after 8 s"
    assert 1.9 < min(closed) and max(closed) < 2 + 1.5, f"closed after {min(closed):.2f}-{max(closed):.2f} s"
    assert peak < watch.start_kib / 1024 + 8, f"gateway RSS peaked at {peak:.1f} MiB"


def unread_h1_grpc_download(port, responses):
    """A gRPC-over-HTTP/1.1 client (a small receive buffer) that asks for `responses` MiB-sized
    server-streaming replies and never reads them: its socket, open."""
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=MiB) for _ in range(responses)]).SerializeToString()
    body = grpc_frame(request)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"POST /{SERVICE}/StreamingOutputCall HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\n"
                 f"TE: trailers\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def wait_until_given_back(admin):
    deadline = time.monotonic() + WAIT
    while (metric(admin, "trestle_buffered_bytes"), metric(admin, "trestle_response_window_granted_bytes")) != (0, 0):
        assert time.monotonic() < deadline, (
            f"not given back: {metric(admin, 'trestle_buffered_bytes')} bytes held, "
            f"{metric(admin, 'trestle_response_window_granted_bytes')} granted")
        threading.Event().wait(0.01)


def test_h1_unread_responses_count_against_the_worker_budget(upstream, gateway):
    """Six HTTP/1.1 clients whose 16 MiB responses are never read: what waits in their
    connections' output counts in trestle_buffered_bytes against max_buffered_per_worker (2 MiB
    here), and the upstream windows the worker grants their calls stay within it. Past it, a new
    HTTP/1.1 JSON request gets 503 with a JSON status naming the limit (never forwarded) and a
    new HTTP/2 call is refused (UNAVAILABLE); once the readers go, every byte and grant is given
    back and calls work again."""
    import demo_server
    up, demo = upstream(), demo_server.DemoUpstream()
    socks = []
    try:
        admin = harness.free_port()
        gw = gateway(demo_config(up, admin, demo, max_buffered_per_worker="2MiB", min_rate=0))
        socks = [unread_h1_grpc_download(gw.port, 16) for _ in range(6)]
        deadline = time.monotonic() + 10
        while metric(admin, "trestle_buffered_bytes") <= 2 * MiB:
            assert time.monotonic() < deadline, f"held {metric(admin, 'trestle_buffered_bytes')} bytes for unread responses"
            threading.Event().wait(0.01)
        granted = metric(admin, "trestle_response_window_granted_bytes")
        assert 0 < granted <= 2 * MiB, f"{granted} bytes of response window granted with a 2 MiB budget"
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            body = b'{"message": "hi"}'
            sock.sendall(f"POST /{demo_server.SERVICE}/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answer = b""
            while not json_answered(answer) and (chunk := sock.recv(65536)):
                answer += chunk
        head, _, reply = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), answer
        assert b'"code":14' in reply.replace(b" ", b""), reply
        assert b"max_buffered_per_worker" in reply, reply
        with harness.channel(gw.port) as ch:
            with pytest.raises(grpc.RpcError) as error:
                test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(), timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value
    finally:
        for s in socks:
            s.close()
        demo.stop()
    wait_until_given_back(admin)
    legit_call(gw.port)
    assert limit_hits(admin, "max_buffered_per_worker") >= 2


def test_h2_response_windows_granted_within_the_worker_budget(upstream, gateway):
    """50 streams of 8 MiB responses on one connection whose client never opens its window, with
    max_buffered_per_worker 4 MiB: the upstream windows grown past their initial 64 KiB add up to
    at most the budget (not to the connection's 16 MiB), so the response bytes the gateway holds
    stay under 4 MiB + 50 x 64 KiB; new streams are refused while it holds more than the budget,
    and everything is given back when the client goes."""
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, max_buffered_per_worker="4MiB", min_rate=0))
    attacker = Attacker(gw.port, read_responses=False)
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=MiB) for _ in range(8)]).SerializeToString()
    for _ in range(50):
        sid = attacker.h2.get_next_available_stream_id()
        attacker.h2.send_headers(sid, attacker.headers_for("StreamingOutputCall"))
        attacker.h2.send_data(sid, grpc_frame(request), end_stream=True)
    attacker.flush()
    try:
        # Every stream's window filled: what is held is 50 initial windows plus the grants, less
        # the one window (64 KiB) the client's connection took before it stopped.
        deadline = time.monotonic() + 15
        while True:
            held = metric(admin, "trestle_buffered_bytes")
            granted = metric(admin, "trestle_response_window_granted_bytes")
            if held + 65535 >= 50 * 65535 + granted:
                break
            assert time.monotonic() < deadline, f"held {held} bytes, granted {granted}: the windows did not fill"
            attacker.pump(0.05)
        print(f"50 unread streams with a 4 MiB budget: {held / MiB:.1f} MiB held, {granted / MiB:.1f} MiB granted")
        assert granted <= 4 * MiB, f"{granted} bytes of response window granted with a 4 MiB budget"
        assert held <= 4 * MiB + 50 * 65535, f"the gateway held {held} response bytes"
        with harness.channel(gw.port) as ch:
            with pytest.raises(grpc.RpcError) as error:
                test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(), timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value
    finally:
        attacker.close()
    wait_until_given_back(admin)
    legit_call(gw.port)


def test_h2_stream_granted_nothing_is_granted_once_the_budget_is_given_back(upstream, gateway):
    """A response window grant the worker could not give is asked for again: with
    max_buffered_per_worker 1 MiB and stream_window 2 MiB, call A's response grows its upstream
    window by the whole budget; call B, past its first 32 KiB while A holds it, is granted
    nothing. When A ends its grant comes back, and B's next 32 KiB of response asks again and
    gets one (without that rule B kept the initial 64 KiB window for good)."""
    import queue
    up = upstream()
    admin = harness.free_port()
    gw = gateway(config_for(up, admin, max_buffered_per_worker="1MiB", stream_window="2MiB", min_rate=0))
    chunk = messages_pb2.StreamingOutputCallRequest(response_parameters=[messages_pb2.ResponseParameters(size=40 * 1024)])

    def granted():
        return metric(admin, "trestle_response_window_granted_bytes")

    def wait_for(what, ok):
        deadline = time.monotonic() + WAIT
        while not ok(granted()):
            assert time.monotonic() < deadline, f"{what}: {granted()} bytes granted"
            threading.Event().wait(0.01)

    with harness.channel(gw.port) as ch_a, harness.channel(gw.port) as ch_b:
        requests_a, requests_b = queue.Queue(), queue.Queue()
        a = test_pb2_grpc.TestServiceStub(ch_a).FullDuplexCall(iter(requests_a.get, None), timeout=WAIT)
        b = test_pb2_grpc.TestServiceStub(ch_b).FullDuplexCall(iter(requests_b.get, None), timeout=WAIT)
        requests_a.put(chunk)
        assert len(next(a).payload.body) == 40 * 1024
        wait_for("A's grant", lambda g: g == MiB)
        requests_b.put(chunk)
        assert len(next(b).payload.body) == 40 * 1024
        assert granted() == MiB, "B was granted window out of a budget A holds whole"
        a.cancel()
        wait_for("A's grant given back", lambda g: g == 0)
        requests_b.put(chunk)
        assert len(next(b).payload.body) == 40 * 1024
        wait_for("B asking again once the budget is back", lambda g: g > 0)
        print(f"B granted {granted()} bytes after A's grant came back")
        requests_b.put(None)
        assert list(b) == []
        assert b.code() == grpc.StatusCode.OK
    wait_until_given_back(admin)

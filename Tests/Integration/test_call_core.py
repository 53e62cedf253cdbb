"""The call core's contract, whatever the frontend (native gRPC, JSON over HTTP/1.1 or HTTP/2, an
h2c upgrade): the client's grpc-timeout is the deadline and a malformed one is refused before
anything is forwarded; a unary method answers exactly one message (an upstream that breaks
cardinality is INTERNAL, not 200); a response whose last message is cut short is INTERNAL, to the
client and in /metrics; the headers that `Connection` names are hop-by-hop on every path.

Peers: curl, nghttp, grpcio clients, raw sockets speaking HTTP/2 with the `h2` library; behind the
gateway the grpcio TranscodeService (transcode_server.py, with an interceptor recording every call
that reaches it), grpcio servers that misbehave under a unary method's name, and a raw `h2` server
that sends a truncated message."""
import json
import re
import socket
import subprocess
import threading
import time
import urllib.request
from concurrent import futures

import grpc
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest

import harness
import transcode_protos
import transcode_server

transcode_pb2, transcode_pb2_grpc = transcode_protos.import_stubs()

SERVICE = "trestle.test.v1.TranscodeService"
WAIT = 10  # bound of every wait for something that should happen at once
HTTP = {"h1": "--http1.1", "h2": "--http2-prior-knowledge"}


# -- upstreams ------------------------------------------------------------------------------------

class Recorder(grpc.ServerInterceptor):
    """Records every call that reaches the grpcio server: (method path, metadata as a dict of lists)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []

    def intercept_service(self, continuation, details):
        metadata = {}
        for key, value in details.invocation_metadata:
            metadata.setdefault(key, []).append(value)
        with self._lock:
            self._calls.append((details.method, metadata))
        return continuation(details)

    @property
    def calls(self):
        with self._lock:
            return list(self._calls)

    def methods(self):
        return [method for method, _ in self.calls]


class GrpcUpstream:
    """A grpcio server on 127.0.0.1 with `handlers` (generic handlers) or the TranscodeService, and
    a Recorder."""

    def __init__(self, handlers=None):
        self.recorder = Recorder()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[self.recorder],
                                  options=transcode_server.OPTIONS)
        if handlers is None:
            transcode_pb2_grpc.add_TranscodeServiceServicer_to_server(transcode_server.TranscodeService(), self.server)
        else:
            self.server.add_generic_rpc_handlers(handlers)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self):
        self.server.stop(grace=0).wait(WAIT)


GRPC_PREFIX_TEN_BYTES = b"\x00\x00\x00\x00\x0a"  # uncompressed, 10 bytes announced


class TruncatingUpstream(harness.RawServer):
    """A raw HTTP/2 server (the `h2` library) that answers every request, once its END_STREAM has
    arrived, with response headers, one DATA frame holding a gRPC prefix that announces 10 bytes but
    only 3 of them, then trailers `grpc-status: 0` — a message cut short, then "OK"."""

    def __init__(self, trailers=(("grpc-status", "0"),), truncate=True):
        self.trailers = list(trailers)
        self.truncate = truncate
        self.paths = []  # :path of every request answered
        super().__init__()

    def _serve(self, conn):
        h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        h2conn.local_settings.max_header_list_size = 1 << 24
        h2conn.initiate_connection()
        paths = {}
        try:
            conn.sendall(h2conn.data_to_send())
            while data := conn.recv(65536):
                for event in h2conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        paths[event.stream_id] = dict(event.headers).get(":path")
                    elif isinstance(event, h2.events.DataReceived):
                        h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        self.paths.append(paths.get(event.stream_id))
                        h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                        h2conn.send_data(event.stream_id, GRPC_PREFIX_TEN_BYTES + b"abc" if self.truncate else grpc_message())
                        h2conn.send_headers(event.stream_id, self.trailers, end_stream=True)
                conn.sendall(h2conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            conn.close()


@pytest.fixture
def upstreams():
    """upstreams(handlers=None) starts a GrpcUpstream; upstreams.truncating() a TruncatingUpstream."""
    started = []

    class Start:
        def __call__(self, handlers=None):
            started.append(GrpcUpstream(handlers))
            return started[-1]

        def truncating(self, **options):
            started.append(TruncatingUpstream(**options))
            return started[-1]

    yield Start()
    for up in started:
        up.stop()


@pytest.fixture(scope="module")
def descriptor_set():
    return transcode_protos.build()[0]


class Front:
    """The gateway in front of one upstream that serves SERVICE, with the admin port."""

    def __init__(self, gateway, admin):
        self.gateway = gateway
        self.port = gateway.port
        self.admin = admin

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def curl(self, path, data, http, headers=()):
        """(HTTP status, lower-cased headers, body bytes, seconds) of one JSON POST with curl."""
        argv = ["curl", "-sS", HTTP[http], "-D", "-", "-o", "-", "--max-time", str(WAIT),
                "--data-binary", "@-", "-H", "Content-Type: application/json"]
        for header in headers:
            argv += ["-H", header]
        start = time.monotonic()
        done = subprocess.run([*argv, self.url(path)], input=data.encode(), capture_output=True, timeout=WAIT + 5)
        seconds = time.monotonic() - start
        assert done.returncode == 0, done.stderr.decode()
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):
            head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        return int(lines[0].split()[1]), headers, body, seconds

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=WAIT) as response:
            return response.read().decode()

    def calls_total(self, code):
        match = re.search(rf'^trestle_calls_total{{code="{code}"}} (\d+)$', self.metrics(), re.M)
        return int(match.group(1)) if match else 0

    def wait_no_calls_active(self):
        """Observes /metrics until no call is active (the gateway has counted every call's end)."""
        deadline = time.monotonic() + WAIT
        while True:
            body = self.metrics()
            match = re.search(r"^trestle_calls_active (\d+)$", body, re.M)
            assert match, body
            if int(match.group(1)) == 0:
                return body
            assert time.monotonic() < deadline, f"calls still active after {WAIT}s:\n{body}"
            threading.Event().wait(0.01)  # the polling interval of the observation


@pytest.fixture
def front(gateway, descriptor_set):
    """front(upstream_port) starts the gateway (one worker, admin port) with SERVICE routed to it."""

    def start(upstream_port):
        config = harness.routes([upstream_port], workers=1)
        config["descriptors"] = [str(descriptor_set)]
        config["routes"] = [{"service": SERVICE, "cluster": "testing", "timeout": "30s"}]
        admin = harness.free_port()
        config["admin"] = {"address": f"127.0.0.1:{admin}"}
        return Front(gateway(config), admin)

    return start


def grpc_message(payload=b""):
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def status_json(body):
    """The google.rpc.Status of a JSON error body: exactly code, message, details."""
    error = json.loads(body)
    assert set(error) == {"code", "message", "details"}, error
    return error


# -- 1. grpc-timeout on JSON calls ------------------------------------------------------------------

@pytest.mark.parametrize("http", ["h1", "h2"])
def test_json_grpc_timeout_is_the_deadline(upstreams, front, http):
    """grpc-timeout: 200m on a JSON call whose upstream answers after 1 s: 504 with a
    google.rpc.Status of DEADLINE_EXCEEDED, at the deadline, not when the upstream answers."""
    up = upstreams()
    gw = front(up.port)
    status, headers, body, seconds = gw.curl("/v1/fail", '{"code": 0, "delayMs": 1000}', http,
                                             headers=["grpc-timeout: 200m"])
    assert status == 504, (status, body, f"after {seconds:.2f}s")
    assert headers["content-type"] == "application/json"
    assert status_json(body)["code"] == 4, body
    assert seconds < 0.8, f"the answer took {seconds:.2f}s for a 200 ms grpc-timeout"
    assert up.recorder.methods() == [f"/{SERVICE}/Fail"]


# -- 2. malformed grpc-timeout ------------------------------------------------------------------------

def assert_only_the_follow_up_arrived(gw, up, http):
    """Nothing of the refused call reached the upstream: a valid call made after it (on the same
    gateway, to the same upstream) is the only one the upstream has seen once it is answered."""
    status, _, body, _ = gw.curl(f"/{SERVICE}/Echo", '{"stringValue": "after"}', http)
    assert status == 200 and json.loads(body) == {"stringValue": "after"}, (status, body)
    assert up.recorder.methods() == [f"/{SERVICE}/Echo"], up.recorder.calls


@pytest.mark.parametrize("http", ["h1", "h2"])
def test_json_malformed_grpc_timeout_is_400_and_not_forwarded(upstreams, front, http):
    """grpc-timeout: banana on a JSON call: 400 with a google.rpc.Status (INVALID_ARGUMENT) naming
    the malformed header, and the call is not forwarded."""
    up = upstreams()
    gw = front(up.port)
    status, headers, body, _ = gw.curl(f"/{SERVICE}/Echo", '{"stringValue": "x"}', http,
                                       headers=["grpc-timeout: banana"])
    assert status == 400, (status, body)
    assert headers["content-type"] == "application/json"
    error = status_json(body)
    assert error["code"] == 3, error
    assert "malformed grpc-timeout" in error["message"] and "banana" in error["message"], error
    assert_only_the_follow_up_arrived(gw, up, http)


def test_grpc_malformed_grpc_timeout_is_invalid_argument_and_not_forwarded(upstreams, front, tmp_path):
    """A native gRPC call (nghttp: a raw HTTP/2 client that sends the header as given) with a
    malformed grpc-timeout: grpc-status 3 naming it, and nothing forwarded."""
    up = upstreams()
    gw = front(up.port)
    request = tmp_path / "request.bin"
    request.write_bytes(grpc_message())
    out = subprocess.run(["nghttp", "-v", "-d", str(request), "-H", "content-type: application/grpc",
                          "-H", "te: trailers", "-H", "grpc-timeout: banana", gw.url(f"/{SERVICE}/Echo")],
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stdout + out.stderr
    # nghttp prints each received header as `recv (stream_id=N) name: value`.
    assert re.search(r"\) grpc-status: 3$", out.stdout, re.M), out.stdout
    assert re.search(r'\) grpc-message: malformed grpc-timeout "banana"$', out.stdout, re.M), out.stdout
    assert_only_the_follow_up_arrived(gw, up, "h2")


# -- 3. unary cardinality -----------------------------------------------------------------------------

def misbehaving_echo(replies):
    """Generic handlers that serve SERVICE's unary Echo as a server stream answering `replies`
    copies of the request, then OK."""
    def handler(request, context):
        for _ in range(replies):
            yield request

    echo = grpc.unary_stream_rpc_method_handler(
        handler, request_deserializer=transcode_pb2.Everything.FromString,
        response_serializer=transcode_pb2.Everything.SerializeToString)
    return (grpc.method_handlers_generic_handler(SERVICE, {"Echo": echo}),)


@pytest.mark.parametrize("replies", [0, 2], ids=["no-message", "two-messages"])
@pytest.mark.parametrize("http", ["h1", "h2"])
def test_json_unary_upstream_breaking_cardinality_is_internal(upstreams, front, http, replies):
    """A unary method answered with no message, or with two, then grpc-status 0: the JSON client
    gets 500 INTERNAL, not 200 with `{}` or with one of the messages."""
    up = upstreams(misbehaving_echo(replies))
    gw = front(up.port)
    status, headers, body, _ = gw.curl(f"/{SERVICE}/Echo", '{"stringValue": "once"}', http)
    assert up.recorder.methods() == [f"/{SERVICE}/Echo"], "the call never reached the upstream"
    assert status == 500, (status, body)
    assert headers["content-type"] == "application/json"
    assert status_json(body)["code"] == 13, body


# -- 4. a truncated last message ----------------------------------------------------------------------

@pytest.mark.parametrize("client", ["h1-json", "h2-json", "grpc"])
def test_truncated_last_message_then_ok_is_internal(upstreams, front, client):
    """The upstream's only DATA frame announces a 10-byte message and carries 3 bytes, then
    grpc-status 0: the client sees INTERNAL (JSON: 500 with code 13), and /metrics counts the call
    as INTERNAL, not OK."""
    up = upstreams.truncating()
    gw = front(up.port)
    if client == "grpc":
        with harness.channel(gw.port) as ch:
            try:
                ch.unary_unary(f"/{SERVICE}/Echo")(b"", timeout=WAIT)
                seen = "OK"
            except grpc.RpcError as error:
                seen = error.code().name
        # grpcio does not notice the cut itself (straight to this upstream it returns OK and no
        # message): the INTERNAL must come from the gateway.
        expected = "INTERNAL"
    else:
        status, _, body, _ = gw.curl(f"/{SERVICE}/Echo", "{}", client.split("-")[0])
        seen = (status, json.loads(body).get("code") if status != 200 else body)
        expected = (500, 13)
    assert up.paths == [f"/{SERVICE}/Echo"], "the call never reached the fake upstream"
    gw.wait_no_calls_active()
    counted = {"INTERNAL": gw.calls_total("INTERNAL"), "OK": gw.calls_total("OK")}
    # One assertion for the client's view and the metrics, so that a failure shows both.
    assert (seen, counted) == (expected, {"INTERNAL": 1, "OK": 0}), (
        f"the client saw {seen}, /metrics counted {counted}")


# -- 5. Connection-named headers on an h2c upgrade ------------------------------------------------------

def assert_connection_named_header_dropped(up):
    [(method, metadata)] = up.recorder.calls
    assert method == f"/{SERVICE}/Metadata"
    assert metadata.get("x-visible") == ["2"], metadata
    for dropped in ("x-secret", "connection", "upgrade", "http2-settings"):
        assert dropped not in metadata, metadata


def test_h2c_upgrade_curl_drops_headers_connection_names(upstreams, front):
    """curl --http2 on http:// sends its own `Connection: Upgrade, HTTP2-Settings` and the user's
    `Connection: x-secret` as a second field: x-secret is hop-by-hop, x-visible is metadata."""
    up = upstreams()
    gw = front(up.port)
    done = subprocess.run(["curl", "-sS", "-v", "--http2", "--max-time", str(WAIT), "--data-binary", "{}",
                           "-H", "Content-Type: application/json", "-H", "Connection: x-secret",
                           "-H", "x-secret: 1", "-H", "x-visible: 2", gw.url("/v1/metadata")],
                          capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    assert "> Connection: Upgrade, HTTP2-Settings" in done.stderr and "> Connection: x-secret" in done.stderr
    assert "< HTTP/1.1 101 Switching Protocols" in done.stderr and "< HTTP/2 200" in done.stderr, done.stderr
    assert_connection_named_header_dropped(up)


def test_h2c_upgrade_raw_drops_headers_connection_names(upstreams, front):
    """The upgrade by hand, one Connection field naming x-secret next to the upgrade tokens, then
    HTTP/2 (the `h2` library) for the response on stream 1."""
    up = upstreams()
    gw = front(up.port)
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    settings = client.initiate_upgrade_connection()
    body = b"{}"
    request = (b"POST /v1/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Connection: Upgrade, HTTP2-Settings, x-secret\r\nUpgrade: h2c\r\nHTTP2-Settings: " + settings +
               b"\r\nx-secret: 1\r\nx-visible: 2\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
    status, data = None, b""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"closed before the 101: {received!r}"
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        sock.sendall(client.data_to_send())
        ended = False
        while not ended:
            events = client.receive_data(rest)
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    status = int(dict(event.headers)[":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                    data += event.data
                    client.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and event.stream_id == 1:
                    ended = True
            sock.sendall(client.data_to_send())
            if not ended:
                rest = sock.recv(65536)
                assert rest, "closed before stream 1 ended"
    assert status == 200, (status, data)
    assert_connection_named_header_dropped(up)


def h2_request(port, headers, body=None, window=1 << 20):
    """One request on a fresh HTTP/2 connection with the `h2` library: (response headers, data,
    trailers). The headers go out as the encoder packs them (repeated fields are indexed)."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    client.local_settings.max_header_list_size = 1 << 24  # hpack may decode what we send ourselves
    client.initiate_connection()
    response, trailers, data = None, None, b""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        client.send_headers(1, headers, end_stream=body is None)
        if body is not None:
            client.send_data(1, body, end_stream=True)
        sock.sendall(client.data_to_send())
        ended = False
        while not ended:
            chunk = sock.recv(65536)
            assert chunk, "closed before the stream ended"
            for event in client.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived):
                    response = dict(event.headers)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    client.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended = True
            sock.sendall(client.data_to_send())
    return response, data, trailers


@pytest.mark.rss
@pytest.mark.parametrize("kind", ["grpc", "json"])
def test_h2_hpack_bomb_gets_431_and_is_never_forwarded(upstreams, front, kind):
    """A small header block that references one 3 KB table entry 400 times decodes into 1.2 MB:
    the gateway counts the list as it decodes it, keeps nothing past 64 KiB, answers 431 (with
    grpc-status RESOURCE_EXHAUSTED for a gRPC client), forwards nothing, and its memory stays flat."""
    up = upstreams()
    gw = front(up.port)
    path = f"/{SERVICE}/Echo" if kind == "grpc" else "/v1/echo"
    base = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", path),
            ("content-type", "application/grpc" if kind == "grpc" else "application/json")]
    if kind == "grpc":
        base.append(("te", "trailers"))
    rss_before = gw.gateway.vm_rss_kib()
    bomb = base + [("x-bomb", "b" * 3000)] * 400  # one dynamic-table entry (3 KB < 4 KiB), then indexed
    response, data, _ = h2_request(gw.port, bomb, grpc_message() if kind == "grpc" else b"{}")
    assert response[":status"] == "431", (response, data)
    if kind == "grpc":
        assert response["grpc-status"] == "8", response
        assert "request headers too large" in response["grpc-message"], response
    else:
        assert status_json(data)["code"] == 8, data
    assert up.recorder.calls == [], "the request was forwarded"
    # Another call on the gateway still works, and memory did not follow the decoded size.
    response, data, trailers = h2_request(gw.port, base, grpc_message() if kind == "grpc" else b"{}")
    assert response[":status"] == "200", (response, data)
    assert gw.gateway.vm_rss_kib() - rss_before < 16 * 1024, "gateway memory grew with the decoded header list"


def test_h2_upstream_trailer_bomb_is_internal_and_bounded(upstreams, front):
    """An upstream's trailers are bounded like a client's headers: 400 references to one 3 KB
    entry end the call INTERNAL with a message, and the gateway keeps serving."""
    up = upstreams.truncating(trailers=[("grpc-status", "0")] + [("x-bomb", "b" * 3000)] * 400, truncate=False)
    gw = front(up.port)
    base = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
            (":path", f"/{SERVICE}/Echo"), ("content-type", "application/grpc"), ("te", "trailers")]
    response, data, trailers = h2_request(gw.port, base, grpc_message())
    assert response[":status"] == "200", response
    assert trailers and trailers["grpc-status"] == "13", trailers
    assert "upstream response headers too large" in trailers["grpc-message"], trailers
    assert gw.wait_no_calls_active() and gw.calls_total("INTERNAL") == 1


@pytest.mark.parametrize("value,code", [("abc", "13"), ("42", "2")])
def test_h2_upstream_grpc_status_not_a_code_is_internal_unknown_code_is_unknown(upstreams, front, value, code):
    """A grpc-status that is not a number is no status (INTERNAL); a number gRPC does not know is
    UNKNOWN (as gRPC's own clients read them)."""
    up = upstreams.truncating(trailers=[("grpc-status", value)], truncate=False)
    gw = front(up.port)
    base = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
            (":path", f"/{SERVICE}/Echo"), ("content-type", "application/grpc"), ("te", "trailers")]
    response, data, trailers = h2_request(gw.port, base, grpc_message())
    if code == "2":
        assert trailers["grpc-status"] == "42", trailers  # relayed as the upstream sent it
        assert gw.wait_no_calls_active() and gw.calls_total("UNKNOWN") == 1
    else:
        assert trailers["grpc-status"] == "13", trailers
        assert "valid grpc-status" in trailers["grpc-message"], trailers

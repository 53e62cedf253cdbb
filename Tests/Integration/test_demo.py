"""`trestle demo`: the gateway with the built-in demo service behind it. The three curl commands it
prints must work as printed; the demo service's methods behave as routes/demo.proto says.

The back-pressure and idle-timeout tests of the HTTP/1.1 JSON frontend use the demo methods too,
but served by grpcio (demo_server.py) behind `trestle serve`: the gateway's own memory is then
measured alone, and the upstream's progress (replies made, calls received) can be observed."""
import fcntl
import json
import socket
import struct
import subprocess
import termios
import threading
import time

import grpc
import pytest

import demo_server
import harness

WAIT = 10


def start_demo(tmp_path, **extra):
    listener, admin, upstream = harness.free_port(), harness.free_port(), harness.free_port()
    config = {
        "listeners": [{"address": f"127.0.0.1:{listener}"}],
        "admin": {"address": f"127.0.0.1:{admin}"},
        "workers": 1,
        "descriptors": [str(harness.REPO / "routes" / "demo.pb")],
        "clusters": [{"name": "echo", "endpoints": [f"127.0.0.1:{upstream}"]}],
        "routes": [{"service": "trestle.demo.v1.Echo", "cluster": "echo", "timeout": "30s"}],
        **extra,
    }
    routes = harness.write_routes(config, tmp_path / "demo.yaml")
    process = harness.Process("trestle demo", [harness.TRESTLE_BIN, "demo", "--config", routes], "trestle: ready")
    process.port = listener
    return process


@pytest.fixture
def demo(tmp_path):
    process = start_demo(tmp_path)
    yield process
    process.stop()


def printed_curl_commands(output):
    return [line.strip() for line in output.splitlines() if line.strip().startswith("curl ")]


def run_shell(command):
    done = subprocess.run(["bash", "-c", command + " --max-time 10 -w '\\n%{http_code}'"],
                          capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_demo_prints_three_curl_commands_that_work(demo):
    commands = printed_curl_commands(demo.output())
    assert len(commands) == 3, demo.output()
    assert all(f"127.0.0.1:{demo.port}" in c for c in commands)

    code, body = run_shell(commands[0])
    assert code == 200 and json.loads(body) == {"message": "hello"}

    code, body = run_shell(commands[1])
    assert code == 200
    assert [json.loads(line) for line in body.splitlines()] == [
        {"result": {"message": "hi"}}, {"result": {"message": "hi", "index": 1}},
        {"result": {"message": "hi", "index": 2}}]

    code, body = run_shell(commands[2])
    assert code == 404
    assert json.loads(body) == {"code": 5, "message": "no such thing", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "DEMO_ERROR", "domain": "trestle.demo"}]}


def curl(port, path, data=None, extra=()):
    argv = ["curl", "-sS", "--max-time", str(WAIT), "-w", "\\n%{http_code}", *extra]
    if data is not None:
        argv += ["-d", data]
    done = subprocess.run([*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_demo_echo_response_size_and_delay(demo):
    code, body = curl(demo.port, "/v1/echo", '{"message": "m", "responseSize": 5, "delayMs": 1}')
    assert code == 200 and json.loads(body) == {"message": "m", "payload": "eHh4eHg="}


def test_demo_collect_client_streaming(demo):
    done = subprocess.run(["curl", "-sS", "--max-time", str(WAIT), "-T", "-", "-X", "POST",
                           f"http://127.0.0.1:{demo.port}/v1/echo:collect"],
                          input=b'{"message": "a"}\n{"message": "b"}{"message": "c"}', capture_output=True, timeout=WAIT + 5)
    assert json.loads(done.stdout) == {"message": "a b c", "index": 3}


def test_demo_expand_ends_with_requested_status(demo):
    code, body = curl(demo.port, "/v1/echo:expand", '{"count": 2, "status": {"code": 14, "message": "bye"}}')
    assert code == 200
    lines = [json.loads(line) for line in body.splitlines()]
    assert lines == [{"result": {}}, {"result": {"index": 1}}, {"error": {"code": 14, "message": "bye", "details": []}}]


def test_demo_native_grpc_chat_bidi(demo):
    """Chat echoes every message byte for byte (EchoRequest{message} reads as EchoResponse{message})."""
    messages = [b"\x0a\x03one", b"\x0a\x03two", b"\x0a\x05three"]
    with harness.channel(demo.port) as channel:
        chat = channel.stream_stream("/trestle.demo.v1.Echo/Chat")
        assert list(chat(iter(messages), timeout=WAIT)) == messages
        unknown = channel.unary_unary("/trestle.demo.v1.Echo/Nope")
        with pytest.raises(grpc.RpcError) as error:
            unknown(b"", timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.fixture
def demo_behind_gateway(gateway):
    """demo_behind_gateway(**extra) starts trestle.demo.v1.Echo in grpcio (demo_server.py) and
    `trestle serve` (one worker) in front of it with routes/demo.pb; returns (gateway, upstream)."""
    started = []

    def start(**extra):
        up = demo_server.DemoUpstream()
        started.append(up)
        config = harness.routes([up.port], workers=1)
        config["descriptors"] = [str(demo_server.DESCRIPTOR_SET)]
        config["routes"] = [{"service": demo_server.SERVICE, "cluster": "testing", "timeout": "30s"}]
        config.update(extra)
        return gateway(config), up

    yield start
    for up in started:
        up.stop()


def small_receive_buffer_connection(port, size=16384):
    """A client socket whose receive buffer is set before connecting, so that the window it
    advertises stays small: a client that does not read stops the gateway's writes early."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    return sock


def received_unread(sock):
    """Bytes waiting in the socket's receive queue (FIONREAD), not yet read by the client."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


# What a stalled JSON stream may hold along its path while the client reads nothing: the client's
# and the gateway's kernel socket buffers (a few MiB each at most, autotuned), the gateway's output
# queue and one stream window (1 MiB) per hop, grpcio's send buffer. Far below what is asked for.
STREAM_STALL_BOUND_MIB = 16
GATEWAY_RSS_CAP_MIB = 64


def test_h1_json_server_streaming_to_a_slow_client_stays_bounded(demo_behind_gateway):
    """200 MB of Expand replies (4000 x 50 KB, as JSON base64 lines) to an HTTP/1.1 client that
    does not read: the upstream's generator stalls after a bounded number of replies (back-pressure
    from the client's socket through the gateway to grpcio), the gateway's memory stays bounded
    meanwhile, and every line arrives once the client reads."""
    gw, up = demo_behind_gateway()
    count, size = 4000, 50_000
    bound = STREAM_STALL_BOUND_MIB * 1024 * 1024 // size
    body = json.dumps({"message": "m", "count": count, "responseSize": size}).encode()
    with small_receive_buffer_connection(gw.port) as sock:
        sock.sendall(b"POST /v1/echo:expand HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        stalled = harness.stalled_at(lambda: up.responses_yielded, ceiling=bound)
        assert 1 <= stalled <= bound, (
            f"the upstream produced {stalled} of {count} replies while the client read nothing")
        rss_mib = gw.vm_rss_kib() / 1024
        assert rss_mib < GATEWAY_RSS_CAP_MIB, f"gateway RSS {rss_mib:.1f} MiB with the stream stalled"
        marker, tail, lines = b'{"result"', b"", 0
        while chunk := sock.recv(1 << 20):
            data = tail + chunk
            lines += data.count(marker)
            tail = data[-(len(marker) - 1):]  # too short to hold a whole marker: never counted twice
    assert lines == count
    assert up.responses_yielded == count


def read_http_responses(sock, count):
    """`count` Content-Length HTTP/1.1 responses, in order: [(status line, body)]."""
    data, out = bytearray(), []  # a bytearray: appending a 20 MB body chunk by chunk stays linear
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {len(out)} responses"
            data += chunk
        end = data.index(b"\r\n\r\n")
        head, data = bytes(data[:end]), data[end + 4:]
        length = int(next(l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")).split(b":")[1])
        while len(data) < length:
            chunk = sock.recv(1 << 20)
            assert chunk, "closed inside a body"
            data += chunk
        out.append((head.split(b"\r\n")[0], bytes(data[:length])))
        data = data[length:]
    return out


def test_h1_pipelining_client_that_does_not_read_is_bounded(demo_behind_gateway):
    """300 pipelined calls with 200 KB replies from a client that reads nothing: the gateway parses
    the next request only once earlier replies have drained, so the calls reaching the upstream
    stall after a bounded number and the gateway's memory stays bounded; then every reply arrives,
    in order. Regression: every reply used to be queued at once (~80 MB)."""
    gw, up = demo_behind_gateway()
    total, bound = 300, 64
    body = lambda i: json.dumps({"message": str(i), "responseSize": 200000}).encode()  # noqa: E731
    request = lambda i: (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"  # noqa: E731
                         % len(body(i)) + body(i))
    with small_receive_buffer_connection(gw.port) as sock:
        before = gw.vm_rss_kib()
        sock.sendall(b"".join(request(i) for i in range(total)))
        stalled = harness.stalled_at(lambda: up.calls, ceiling=bound)
        assert 1 <= stalled <= bound, f"{stalled} of {total} pipelined calls reached the upstream unread"
        grown = gw.vm_rss_kib() - before
        assert grown < 24 * 1024, f"RSS grew by {grown} KiB while the client did not read"
        replies = read_http_responses(sock, total)
    assert [json.loads(b)["message"] for _, b in replies] == [str(i) for i in range(total)]
    assert up.calls == total


def test_h1_idle_timeout_does_not_cut_a_response_being_written(demo_behind_gateway):
    """A 20 MB reply that the client reads only after the 1 s idle/head timeout has passed still
    arrives whole. Regression: the idle timer closed the connection with the reply still queued.

    No sleep: the reply is known to be complete in the gateway (a unary JSON head waits for the
    status) and stuck (the client's receive queue has stopped growing); then a witness connection,
    made idle after that, is watched until the gateway closes it for idling — proof that the
    timeout has passed for ours too — and only then does the client read."""
    gw, up = demo_behind_gateway(preface_timeout="1s")
    body = json.dumps({"message": "big", "responseSize": 20_000_000}).encode()
    with small_receive_buffer_connection(gw.port) as sock:
        sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        deadline = time.monotonic() + WAIT
        while received_unread(sock) == 0:  # the reply's first bytes: the gateway has all of it
            assert time.monotonic() < deadline, "no reply within the wait"
            threading.Event().wait(0.01)  # the polling interval of the observation
        harness.stalled_at(lambda: received_unread(sock), ceiling=float("inf"))
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as witness:
            witness.sendall(b"GET /v1/echo/witness HTTP/1.1\r\nHost: x\r\n\r\n")
            [(status, reply)] = read_http_responses(witness, 1)
            assert status.startswith(b"HTTP/1.1 200") and json.loads(reply) == {"message": "witness"}
            started = time.monotonic()
            assert witness.recv(1) == b"", "the idle witness connection received more bytes"
            idled = time.monotonic() - started
        assert 0.5 <= idled < WAIT, f"the witness was closed after {idled:.2f}s idle, not at the 1 s timeout"
        [(status, reply)] = read_http_responses(sock, 1)
    assert status.startswith(b"HTTP/1.1 200")
    assert len(json.loads(reply)["payload"]) == 26_666_668  # base64 of 20 MB


def test_h1_error_for_a_bodyless_request_keeps_the_connection(demo):
    """A 404 for a GET leaves the connection open: the pipelined request after it is answered."""
    with socket.create_connection(("127.0.0.1", demo.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/echo/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        (s1, b1), (s2, b2) = read_http_responses(sock, 2)
    assert s1.startswith(b"HTTP/1.1 404") and s2.startswith(b"HTTP/1.1 200")
    assert json.loads(b2) == {"message": "hello"}


def test_h1_bidi_bad_value_after_first_reply_ends_with_error_line_and_trailers(demo):
    """Once NDJSON lines are out, a bad request value ends the stream with an {"error": …} line
    and grpc-status trailers, not a bare status body."""
    with socket.create_connection(("127.0.0.1", demo.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/echo:chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n")
        first = b'{"message":"one"}\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        data = b""
        while b'"one"' not in data:
            data += sock.recv(65536)
        bad = b'{"message": tru}\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(bad), bad))
        while b"\r\n0\r\n" not in data or not data.endswith(b"\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert b'{"error":{"code":3' in data
    assert b"grpc-status: 3" in data

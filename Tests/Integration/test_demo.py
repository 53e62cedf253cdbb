"""`trestle demo`: the gateway with the built-in demo service behind it. The three curl commands it
prints must work as printed; the demo service's methods behave as routes/demo.proto says."""
import json
import subprocess

import grpc
import pytest

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


@pytest.fixture
def demo_short_idle(tmp_path):
    process = start_demo(tmp_path, preface_timeout="1s")
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


def test_h1_json_server_streaming_to_a_slow_client_stays_bounded(demo):
    """1 GB of Expand replies to an HTTP/1.1 client that does not read for a while: the gateway's
    memory stays bounded (back-pressure down to the demo service, which makes replies only as they
    are pulled), and every line arrives once the client reads. Regression: the demo service used to
    queue all replies at once, recursing once per reply until its stack overflowed."""
    import socket
    import time
    body = json.dumps({"message": "m", "count": 20000, "responseSize": 50000}).encode()
    with socket.create_connection(("127.0.0.1", demo.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/echo:expand HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
        time.sleep(1.0)  # the slow client: nothing read for a second while the stream is pushed
        with open(f"/proc/{demo.pid}/status") as f:
            rss_kib = int(next(l for l in f if l.startswith("VmRSS")).split()[1])
        assert rss_kib < 96 * 1024, f"gateway + demo RSS {rss_kib} KiB while the client does not read"
        marker, tail, lines = b'{"result"', b"", 0
        while chunk := sock.recv(1 << 20):
            data = tail + chunk
            lines += data.count(marker)
            tail = data[-(len(marker) - 1):]  # too short to hold a whole marker: never counted twice
    assert lines == 20000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1])


def read_http_responses(sock, count):
    """`count` Content-Length HTTP/1.1 responses, in order: [(status line, body)]."""
    data, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {len(out)} responses"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = int(next(l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")).split(b":")[1])
        while len(data) < length:
            chunk = sock.recv(1 << 20)
            assert chunk, "closed inside a body"
            data += chunk
        out.append((head.split(b"\r\n")[0], data[:length]))
        data = data[length:]
    return out


def test_h1_pipelining_client_that_does_not_read_is_bounded(demo):
    """300 pipelined calls with 200 KB replies, nothing read for a second: the gateway parses the
    next request only once earlier replies have drained, so its memory stays bounded; then every
    reply arrives, in order. Regression: every reply used to be queued at once (~80 MB)."""
    import socket
    import time
    request = lambda i: (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                         % len(body(i)) + body(i))
    body = lambda i: json.dumps({"message": str(i), "responseSize": 200000}).encode()
    with socket.create_connection(("127.0.0.1", demo.port), timeout=WAIT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        before = rss_kib(demo.pid)
        sock.sendall(b"".join(request(i) for i in range(300)))
        time.sleep(1.0)  # the client that does not read
        grown = rss_kib(demo.pid) - before
        assert grown < 24 * 1024, f"RSS grew by {grown} KiB while the client did not read"
        replies = read_http_responses(sock, 300)
    assert [json.loads(b)["message"] for _, b in replies] == [str(i) for i in range(300)]


def test_h1_idle_timeout_does_not_cut_a_response_being_written(demo_short_idle):
    """A 20 MB reply read only after the 1 s idle/head timeout has passed still arrives whole.
    Regression: the idle timer closed the connection with the reply still queued."""
    import socket
    import time
    body = json.dumps({"message": "big", "responseSize": 20_000_000}).encode()
    with socket.create_connection(("127.0.0.1", demo_short_idle.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(1.5)  # past the timeout before reading anything
        [(status, reply)] = read_http_responses(sock, 1)
    assert status.startswith(b"HTTP/1.1 200")
    assert len(json.loads(reply)["payload"]) == 26_666_668  # base64 of 20 MB


def test_h1_error_for_a_bodyless_request_keeps_the_connection(demo):
    """A 404 for a GET leaves the connection open: the pipelined request after it is answered."""
    import socket
    with socket.create_connection(("127.0.0.1", demo.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/echo/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        (s1, b1), (s2, b2) = read_http_responses(sock, 2)
    assert s1.startswith(b"HTTP/1.1 404") and s2.startswith(b"HTTP/1.1 200")
    assert json.loads(b2) == {"message": "hello"}


def test_h1_bidi_bad_value_after_first_reply_ends_with_error_line_and_trailers(demo):
    """Once NDJSON lines are out, a bad request value ends the stream with an {"error": …} line
    and grpc-status trailers, not a bare status body."""
    import socket
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

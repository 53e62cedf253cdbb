"""`trestle demo`: the gateway with the built-in demo service behind it. The three curl commands it
prints must work as printed; the demo service's methods behave as routes/demo.proto says."""
import json
import subprocess

import grpc
import pytest

import harness

WAIT = 10


@pytest.fixture
def demo(tmp_path):
    listener, admin, upstream = harness.free_port(), harness.free_port(), harness.free_port()
    config = {
        "listeners": [{"address": f"127.0.0.1:{listener}"}],
        "admin": {"address": f"127.0.0.1:{admin}"},
        "workers": 1,
        "descriptors": [str(harness.REPO / "routes" / "demo.pb")],
        "clusters": [{"name": "echo", "endpoints": [f"127.0.0.1:{upstream}"]}],
        "routes": [{"service": "trestle.demo.v1.Echo", "cluster": "echo", "timeout": "30s"}],
    }
    routes = harness.write_routes(config, tmp_path / "demo.yaml")
    process = harness.Process("trestle demo", [harness.TRESTLE_BIN, "demo", "--config", routes], "trestle: ready")
    process.port = listener
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

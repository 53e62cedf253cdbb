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

"""The admin endpoint: /healthz, /readyz (503 while draining), /metrics counting calls by status."""
import re
import signal
import socket
import subprocess
import threading

import grpc
import pytest

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 5
HOLD = [("x-test-hold", "1")]


def curl(port, path, *args):
    """(HTTP status, body) of one request with curl, a client this project did not write."""
    out = subprocess.run(["curl", "-s", "--max-time", str(WAIT), "-o", "-", "-w", "\n%{http_code}",
                          *args, f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=WAIT * 2, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def metric(body, name, labels=""):
    match = re.search(rf"^{re.escape(name + labels)} (\d+)$", body, re.M)
    assert match, f"{name}{labels} missing from /metrics:\n{body}"
    return int(match.group(1))


def admin_routes(up_port, **kw):
    config = harness.routes([up_port], **kw)
    config["admin"] = {"address": f"127.0.0.1:{harness.free_port()}"}
    return config, int(config["admin"]["address"].rsplit(":", 1)[1])


def test_admin_healthz_and_metrics_count_calls_by_status(upstream, gateway):
    up = upstream()
    config, admin = admin_routes(up.port)
    gw = gateway(config)
    assert curl(admin, "/healthz") == (200, "ok\n")
    assert curl(admin, "/readyz") == (200, "ready\n")
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        for _ in range(5):
            stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
        failing = messages_pb2.SimpleRequest(response_status=messages_pb2.EchoStatus(code=9, message="no"))
        with pytest.raises(grpc.RpcError) as error:
            stub.UnaryCall(failing, timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        unknown = ch.unary_unary("/no.Such/Thing")
        with pytest.raises(grpc.RpcError) as error:
            unknown(b"", timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    status, body = curl(admin, "/metrics")
    assert status == 200
    assert metric(body, "trestle_calls_started_total") == 7
    assert metric(body, "trestle_calls_total", '{code="OK"}') == 5
    assert metric(body, "trestle_calls_total", '{code="FAILED_PRECONDITION"}') == 1
    assert metric(body, "trestle_calls_total", '{code="UNIMPLEMENTED"}') == 1
    assert metric(body, "trestle_calls_active") == 0
    assert metric(body, "trestle_upstream_connections") >= 1
    assert metric(body, "trestle_workers") == 2
    assert curl(admin, "/nope")[0] == 404
    assert curl(admin, "/metrics", "-X", "POST")[0] == 405


def test_admin_readyz_fails_while_draining(upstream, gateway):
    up = upstream()
    config, admin = admin_routes(up.port, workers=1, shutdown_grace="10s")
    gw = gateway(config)
    record = up.service.record("drain-ready")
    with harness.channel(gw.port) as ch:
        future = test_pb2_grpc.TestServiceStub(ch).UnaryCall.future(
            messages_pb2.SimpleRequest(response_size=1), metadata=[("x-test-id", "drain-ready"), *HOLD],
            timeout=20)
        assert record.arrived.wait(WAIT), "the call never reached the upstream"
        assert metric(curl(admin, "/metrics")[1], "trestle_calls_active") == 1
        gw.proc.send_signal(signal.SIGTERM)
        # The signal is handled on the gateway's own thread: poll /readyz a bounded number of times.
        for _ in range(50):
            status, body = curl(admin, "/readyz")
            if status == 503:
                break
            threading.Event().wait(0.02)
        assert (status, body) == (503, "draining\n")
        record.release.set()
        assert future.result(timeout=WAIT)
    assert gw.proc.wait(15) == 0


def raw_admin(port, request):
    """The whole answer to `request` sent on its own connection, read until the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("request_bytes, status_line, message", [
    (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 400 Bad Request", b"whitespace in request target\n"),
    (b"GET /healthz HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 Bad Request", b"missing Host header\n"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 414 URI Too Long", b"request line longer than 8192 bytes\n"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 9000 + b"\r\n\r\n", b"HTTP/1.1 431 Request Header Fields Too Large",
     b"header section larger than 8192 bytes\n"),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", b"HTTP/1.1 505 HTTP Version Not Supported", b"unsupported HTTP version \"HTTP/2.0\"\n"),
])
def test_admin_malformed_request_gets_the_parsers_status(upstream, gateway, request_bytes, status_line, message):
    up = upstream()
    config, admin = admin_routes(up.port, workers=1)
    gateway(config)
    answer = raw_admin(admin, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == status_line
    assert b"\r\nConnection: close" in head
    assert body == message
    # The endpoint still answers afterwards.
    assert curl(admin, "/healthz") == (200, "ok\n")


def test_admin_head_request_has_no_body(upstream, gateway):
    up = upstream()
    config, admin = admin_routes(up.port, workers=1)
    gateway(config)
    answer = raw_admin(admin, b"HEAD /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 6\r\n\r\n"

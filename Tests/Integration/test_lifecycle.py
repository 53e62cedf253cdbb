"""How calls end: cancellation, deadlines, unreachable and dying upstreams, shutdown, bad input."""
import queue
import re
import signal
import socket
import subprocess
import threading

import grpc
import pytest

import harness
from interop_server import pattern
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 5  # seconds to wait for an event that should happen at once
# grpc-timeout becomes a deadline on the server's clock, which context.time_remaining() reads back
# against another clock: allow for the difference.
CLOCK_SLACK = 0.05
HOLD = [("x-test-hold", "1")]


def simple(size):
    return messages_pb2.SimpleRequest(response_size=size)


def test_h2_grpc_unary_cancel(relay):
    record = relay.service.record("cancel")
    future = relay.stub.UnaryCall.future(simple(1), metadata=[("x-test-id", "cancel"), *HOLD], timeout=30)
    assert record.arrived.wait(WAIT), "the call never reached the upstream"
    assert future.cancel()
    assert record.cancelled.wait(WAIT), "the upstream did not see the client's cancellation"


def test_h2_grpc_bidi_cancel(relay):
    """Cancel while the stream is open and idle: the upstream's stream is reset."""
    record = relay.service.record("bidi-cancel")
    requests = queue.Queue()
    call = relay.stub.FullDuplexCall(iter(requests.get, None), metadata=[("x-test-id", "bidi-cancel")],
                                     timeout=30)
    requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"ping")))
    assert next(call).payload.body == b"ping"
    call.cancel()
    assert record.cancelled.wait(WAIT), "the upstream did not see the client's cancellation"
    requests.put(None)


def test_h2_grpc_unary_deadline_exceeded(relay):
    record = relay.service.record("deadline")
    code, _, seconds = harness.status_of(lambda: relay.stub.UnaryCall(
        simple(1), metadata=[("x-test-id", "deadline"), ("x-test-delay-ms", "5000")], timeout=0.5))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seconds < 1.5
    assert record.arrived.wait(WAIT), "the call never reached the upstream"
    assert record.time_remaining <= 0.5 + CLOCK_SLACK, "grpc-timeout did not reach the upstream"
    assert record.cancelled.wait(WAIT), "the upstream's call outlived the deadline"


def test_h2_grpc_unary_route_timeout(upstream, gateway):
    """No client deadline: the route's timeout applies, and is forwarded as grpc-timeout."""
    up = upstream()
    gw = gateway(harness.routes([up.port], route_timeout="300ms"))
    record = up.service.record("route-timeout")
    with harness.channel(gw.port) as ch:
        code, _, seconds = harness.status_of(lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(
            simple(1), metadata=[("x-test-id", "route-timeout"), ("x-test-delay-ms", "5000")]))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seconds < 1.5
    assert record.arrived.wait(WAIT), "the call never reached the upstream"
    assert record.time_remaining <= 0.3 + CLOCK_SLACK, "the upstream did not get grpc-timeout from the route"
    assert record.cancelled.wait(WAIT), "the upstream's call outlived the deadline"


def test_h2_grpc_unary_upstream_unreachable(gateway):
    gw = gateway(harness.routes([harness.free_port()]))  # nothing listens there
    with harness.channel(gw.port) as ch:
        code, _, seconds = harness.status_of(
            lambda: test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(1), timeout=10))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert seconds < 2 + 1.5  # the cluster's connect_timeout, and a margin


def test_h2_grpc_server_streaming_upstream_killed(upstream_process, gateway):
    up = upstream_process()
    gw = gateway(harness.routes([up.port]))
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=10),
        messages_pb2.ResponseParameters(size=10, interval_us=30_000_000)])  # never comes
    with harness.channel(gw.port) as ch:
        call = test_pb2_grpc.TestServiceStub(ch).StreamingOutputCall(request, timeout=20)
        assert next(call).payload.body == pattern(10)
        up.kill()  # SIGKILL: the upstream connection is lost mid-stream
        code, _, seconds = harness.status_of(lambda: next(call))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert seconds < 3


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_h2_grpc_unary_shutdown_drains(upstream, gateway, signum):
    """SIGTERM or SIGINT: no new connections or calls are accepted, the call in flight finishes,
    exit 0. (The GOAWAY frame itself is checked with nghttp below: grpcio's connectivity
    callbacks are too loosely timed to observe it.)"""
    up = upstream()
    gw = gateway(harness.routes([up.port], workers=1, shutdown_grace="10s"))
    record = up.service.record("drain")
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        future = stub.UnaryCall.future(simple(8), metadata=[("x-test-id", "drain"), *HOLD], timeout=20)
        assert record.arrived.wait(WAIT), "the call never reached the upstream"
        gw.proc.send_signal(signum)
        # The listener is closed before the GOAWAY is written. The drain starts with a shutdown
        # notice and sends the final GOAWAY a second later (README, "Behaviour"): a call this
        # channel sends meanwhile is either served (sent before grpcio saw the notice) or
        # refused UNAVAILABLE, never lost or held.
        assert harness.wait_refused(gw.port, WAIT), "the gateway still accepts connections after the signal"
        try:
            assert stub.UnaryCall(simple(1), timeout=WAIT).payload.body == pattern(1)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        assert future.running(), "the call in flight did not survive the signal"
        record.release.set()
        assert future.result(timeout=WAIT).payload.body == pattern(8)
    assert gw.proc.wait(15) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT).close()


def test_h2_grpc_unary_shutdown_sends_goaway(upstream, gateway, tmp_path):
    """nghttp, a raw h2 client, sees the GOAWAY frame while its call is held, then the call's
    response and grpc-status 0 on the same connection."""
    up = upstream()
    gw = gateway(harness.routes([up.port], workers=1, shutdown_grace="10s"))
    record = up.service.record("goaway")
    request = tmp_path / "request.bin"
    data = simple(4).SerializeToString()
    request.write_bytes(b"\x00" + len(data).to_bytes(4, "big") + data)
    url = f"http://127.0.0.1:{gw.port}/grpc.testing.TestService/UnaryCall"
    client = subprocess.Popen(
        ["stdbuf", "-oL", "nghttp", "-v", "-d", str(request), "-H", "content-type: application/grpc",
         "-H", "te: trailers", "-H", "x-test-id: goaway", "-H", "x-test-hold: 1", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert record.arrived.wait(WAIT), "the call never reached the upstream"
        gw.proc.send_signal(signal.SIGTERM)
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(l) for l in client.stdout], daemon=True)
        reader.start()
        seen = []
        while not any("recv GOAWAY frame" in l for l in seen):
            seen.append(lines.get(timeout=WAIT))
        assert any("error_code=NO_ERROR" in l for l in seen[-3:] + [lines.get(timeout=WAIT)]), seen[-3:]
        record.release.set()
        assert client.wait(WAIT) == 0
        reader.join(WAIT)  # nghttp's output is read to its end
        rest = []
        while not lines.empty():
            rest.append(lines.get())
        assert any(re.search(r"grpc-status: 0$", l.rstrip()) for l in seen + rest), "".join(seen + rest)
    finally:
        client.kill()
        client.wait()
    assert gw.proc.wait(15) == 0


def read_until_closed(sock):
    """Everything the peer sends until it closes the connection (a timeout fails the test)."""
    sock.settimeout(WAIT)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the gateway kept the connection open; it sent {received[:200]!r}")
    return received


def test_h1_json_without_descriptors_is_404(relay):
    """HTTP/1.1 on the gRPC port reaches the JSON frontend; with no descriptors nothing matches."""
    with socket.create_connection(("127.0.0.1", relay.gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]
    assert b'"code":5' in answer


GARBAGE = {
    "binary": bytes(range(256)) * 4,
    "tls-client-hello": bytes.fromhex("16030100a5010000a10303") + bytes(160),
    "h2-bad-frame": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64,
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
def test_tcp_garbage_closed(relay, garbage):
    with socket.create_connection(("127.0.0.1", relay.gateway.port), timeout=WAIT) as sock:
        sock.sendall(garbage)
        read_until_closed(sock)
    response = relay.stub.UnaryCall(simple(3), timeout=WAIT)  # and the gateway still serves
    assert response.payload.body == pattern(3)

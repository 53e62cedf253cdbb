"""Native gRPC over h2c through the gateway: every call type, payloads, metadata, status, routing."""
import queue
import subprocess

import grpc
import pytest

import harness
from interop_server import digest, pattern
from testing_stubs import empty_pb2, messages_pb2, test_pb2_grpc

MiB = 1 << 20
DEADLINE = 30  # seconds, for calls carrying up to 16 MiB each way
SIZES = [0, 1, 31415, 16 * MiB]

ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", bytes(range(256)) + b"\x00\xff")
CUSTOM = [("x-custom", "a value, with spaces"), ("x-custom-bin", b"\x00\x01\xfe\xff")]
# grpc-message is percent-encoded on the wire; the client must see exactly this.
AWKWARD_MESSAGE = "\t spaced\n 🦄 done  % %25 é"


def payload(size):
    return messages_pb2.Payload(body=pattern(size))


def simple(size, **fields):
    return messages_pb2.SimpleRequest(response_size=size, payload=payload(size), **fields)


def out_request(*sizes, body=b"", **fields):
    return messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes],
        payload=messages_pb2.Payload(body=body), **fields)


def digests(bodies):
    return [digest(b) for b in bodies]


class Duplex:
    """A FullDuplexCall driven one request at a time (ping-pong)."""

    def __init__(self, stub, **call_options):
        self._requests = queue.Queue()
        self.call = stub.FullDuplexCall(iter(self._requests.get, None), **call_options)

    def exchange(self, request):
        self._requests.put(request)
        return next(self.call)

    def close(self):
        self._requests.put(None)
        return list(self.call)


def test_h2_grpc_empty(relay):
    assert relay.stub.EmptyCall(empty_pb2.Empty(), timeout=5) == empty_pb2.Empty()


def test_h2_grpc_unary(relay):
    for size in SIZES:
        call_id = f"unary-{size}"
        response = relay.stub.UnaryCall(simple(size), metadata=[("x-test-id", call_id)],
                                        timeout=DEADLINE)
        assert len(response.payload.body) == size
        assert digest(response.payload.body) == digest(pattern(size)), f"response of {size} bytes"
        assert relay.service.record(call_id).request_digests == [digest(pattern(size))]


def test_h2_grpc_server_streaming(relay):
    sizes = [16 * MiB, 0, 1, MiB, 31415]
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
    bodies = [r.payload.body for r in relay.stub.StreamingOutputCall(request, timeout=DEADLINE)]
    assert [len(b) for b in bodies] == sizes
    assert digests(bodies) == digests(pattern(s) for s in sizes)


def test_h2_grpc_client_streaming(relay):
    sizes = [16 * MiB, 0, 1, MiB, 8, 45904]
    requests = (messages_pb2.StreamingInputCallRequest(payload=payload(s)) for s in sizes)
    response = relay.stub.StreamingInputCall(requests, metadata=[("x-test-id", "upload")],
                                             timeout=DEADLINE)
    assert response.aggregated_payload_size == sum(sizes)
    assert relay.service.record("upload").request_digests == digests(pattern(s) for s in sizes)


def test_h2_grpc_bidi(relay):
    """Ping-pong: each response arrives before the next request is sent (full duplex)."""
    duplex = Duplex(relay.stub, timeout=DEADLINE)
    for size in [31415, 16 * MiB, 0, 2653]:
        response = duplex.exchange(out_request(size, body=pattern(size // 2)))
        assert digest(response.payload.body) == digest(pattern(size)), f"response of {size} bytes"
    echoed = duplex.exchange(out_request(body=pattern(16 * MiB)))  # no parameters: echo
    assert digest(echoed.payload.body) == digest(pattern(16 * MiB))
    assert duplex.close() == []
    assert duplex.call.code() == grpc.StatusCode.OK


def test_h2_grpc_half_duplex(relay):
    sizes = [MiB, 0, 7]
    requests = [out_request(s) for s in sizes]
    bodies = [r.payload.body for r in relay.stub.HalfDuplexCall(iter(requests), timeout=DEADLINE)]
    assert digests(bodies) == digests(pattern(s) for s in sizes)


def test_h2_grpc_unary_metadata(relay):
    response, call = relay.stub.UnaryCall.with_call(
        simple(10), metadata=[ECHO_INITIAL, ECHO_TRAILING, ("x-test-id", "md"), *CUSTOM], timeout=5)
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()
    received = relay.service.record("md").metadata
    for key, value in CUSTOM:
        assert received.get(key) == value, f"request metadata {key}"


def test_h2_grpc_bidi_metadata(relay):
    call = relay.stub.FullDuplexCall(iter([out_request(5)]),
                                     metadata=[ECHO_INITIAL, ECHO_TRAILING, ("x-test-id", "md"), *CUSTOM],
                                     timeout=5)
    assert [len(r.payload.body) for r in call] == [5]
    assert ECHO_INITIAL in call.initial_metadata()
    assert ECHO_TRAILING in call.trailing_metadata()
    received = relay.service.record("md").metadata
    for key, value in CUSTOM:
        assert received.get(key) == value, f"request metadata {key}"


@pytest.mark.parametrize("code", [grpc.StatusCode.UNKNOWN, grpc.StatusCode.NOT_FOUND,
                                  grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAUTHENTICATED])
def test_h2_grpc_unary_status(relay, code):
    status = messages_pb2.EchoStatus(code=code.value[0], message=AWKWARD_MESSAGE)
    with pytest.raises(grpc.RpcError) as failure:
        relay.stub.UnaryCall(simple(1, response_status=status), metadata=[ECHO_TRAILING], timeout=5)
    assert failure.value.code() == code
    assert failure.value.details() == AWKWARD_MESSAGE
    assert ECHO_TRAILING in failure.value.trailing_metadata()


def test_h2_grpc_server_streaming_status(relay):
    """A status after messages comes in real trailers, not a trailers-only response."""
    request = out_request(3, 4, response_status=messages_pb2.EchoStatus(code=9, message=AWKWARD_MESSAGE))
    call = relay.stub.StreamingOutputCall(request, timeout=5)
    assert [len(next(call).payload.body) for _ in range(2)] == [3, 4]
    with pytest.raises(grpc.RpcError) as failure:
        next(call)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.value.details() == AWKWARD_MESSAGE


def test_h2_grpc_bidi_status(relay):
    duplex = Duplex(relay.stub, timeout=5)
    assert len(duplex.exchange(out_request(6)).payload.body) == 6
    failing = out_request(response_status=messages_pb2.EchoStatus(code=11, message=AWKWARD_MESSAGE))
    with pytest.raises(grpc.RpcError) as failure:
        duplex.exchange(failing)
    assert failure.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert failure.value.details() == AWKWARD_MESSAGE


def test_h2_grpc_unary_unknown_service(relay):
    path = "/grpc.testing.UnimplementedService/UnimplementedCall"
    code, details, _ = harness.status_of(lambda: relay.channel.unary_unary(path)(b"", timeout=5))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert "grpc.testing.UnimplementedService" in details
    assert relay.service.calls == []


def test_h2_grpc_unary_unknown_method(relay):
    """A routed service's unknown or unimplemented method gets the upstream's own answer."""
    unknown = relay.channel.unary_unary("/grpc.testing.TestService/NoSuchMethod")
    code, details, _ = harness.status_of(lambda: unknown(b"", timeout=5))
    assert (code, details) == (grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
    code, details, _ = harness.status_of(lambda: relay.stub.UnimplementedCall(empty_pb2.Empty(), timeout=5))
    assert (code, details) == (grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")


def test_h2_grpc_unary_round_robin(upstream, gateway):
    first, second = upstream(), upstream()
    gw = gateway(harness.routes([first.port, second.port]))
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        for _ in range(20):
            stub.EmptyCall(empty_pb2.Empty(), timeout=5)
    counts = [len(first.service.calls), len(second.service.calls)]
    assert sum(counts) == 20
    assert min(counts) > 0, f"calls per endpoint: {counts}"


def test_h2_grpc_unary_hop_by_hop_headers_not_forwarded(relay, tmp_path):
    """Proxy-* headers are for the gateway, never the upstream; other metadata (text and -bin)
    passes. nghttp sends the call, so the headers are exactly these."""
    request = tmp_path / "request.bin"
    data = simple(3).SerializeToString()
    request.write_bytes(b"\x00" + len(data).to_bytes(4, "big") + data)
    url = f"http://127.0.0.1:{relay.gateway.port}/grpc.testing.TestService/UnaryCall"
    out = subprocess.run(["nghttp", "-v", "-d", str(request), "-H", "content-type: application/grpc",
                          "-H", "te: trailers", "-H", "x-test-id: hop", "-H", "proxy-authorization: secret",
                          "-H", "x-keep-me: yes", "-H", "x-keep-bin: AAEC", url],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0 and "grpc-status: 0" in out.stdout, out.stdout + out.stderr
    seen = relay.service.record("hop").metadata
    assert "proxy-authorization" not in seen, seen
    assert "content-length" not in seen, seen  # framing: each hop has its own
    assert seen.get("x-keep-me") == "yes", seen
    assert seen.get("x-keep-bin") == b"\x00\x01\x02", seen

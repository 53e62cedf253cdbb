"""gRPC over HTTP/1.1 through the gateway (README, "gRPC over HTTP/1.1"): `application/grpc` framed
bodies on HTTP/1.1, from raw sockets and curl, the grpcio TestService behind. With `TE: trailers`
the response streams and its status comes as chunked trailers; without it the response is
buffered and the status is among the headers."""
import subprocess

import pytest

import grpc_web
import harness
import interop_server
from grpc_web import frame, split_body
from testing_stubs import messages_pb2

SVC = "/grpc.testing.TestService"


@pytest.fixture
def gw(upstream, gateway):
    up = upstream()
    g = gateway(harness.routes([up.port], workers=1))
    g.upstream = up
    return g


def unary(size):
    return frame(messages_pb2.SimpleRequest(response_size=size).SerializeToString())


def test_unary_with_te_trailers_status_in_chunked_trailers(gw):
    c = grpc_web.HTTP1Client(gw.port)
    try:
        r = c.request("POST", f"{SVC}/UnaryCall", [("Content-Type", "application/grpc"), ("TE", "trailers"),
                                                   ("x-grpc-test-echo-initial", "hi")], unary(300))
        assert r.status == 200 and r.headers["transfer-encoding"] == "chunked"
        assert r.headers["content-type"] == "application/grpc"
        assert r.headers["x-grpc-test-echo-initial"] == "hi"
        assert "grpc-status" not in r.headers
        c.read_body(r)
        assert c.trailers["grpc-status"] == "0"
    finally:
        c.close()
    messages, _ = split_body(r.body)
    assert messages_pb2.SimpleResponse.FromString(messages[0]).payload.body == interop_server.pattern(300)


def test_unary_without_te_buffered_status_in_headers_with_curl(gw):
    done = subprocess.run(["curl", "-sS", "--http1.1", "-D", "-", "-o", "-", "--max-time", "10",
                           "-H", "Content-Type: application/grpc", "--data-binary", "@-",
                           "-H", "x-grpc-test-echo-trailing-bin: AAE=",
                           f"http://127.0.0.1:{gw.port}{SVC}/UnaryCall"], input=unary(50), capture_output=True, timeout=15)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    assert lines[0].startswith("HTTP/1.1 200")
    assert headers["grpc-status"] == "0" and headers["content-length"] == str(len(body))
    assert headers["x-grpc-test-echo-trailing-bin"].rstrip("=") == "AAE"  # grpcio drops the padding
    messages, _ = split_body(body)
    assert messages_pb2.SimpleResponse.FromString(messages[0]).payload.body == interop_server.pattern(50)


def test_server_streaming_each_message_as_it_arrives(gw):
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=500),
        messages_pb2.ResponseParameters(size=600, interval_us=30_000_000)])
    c = grpc_web.HTTP1Client(gw.port)
    try:
        r = c.request("POST", f"{SVC}/StreamingOutputCall", [("Content-Type", "application/grpc"), ("TE", "trailers"),
                                                              ("x-test-id", "h1-stream")], frame(request.SerializeToString()))
        got = b""
        while len(got) < 5 or len(got) < 5 + int.from_bytes(got[1:5], "big"):
            got += c.read_chunk()
        rec = gw.upstream.service.record("h1-stream")
        assert rec.responses_yielded == 1 and not rec.release.is_set()
        rec.release.set()
        while (chunk := c.read_chunk()):
            got += chunk
        assert c.trailers["grpc-status"] == "0"
    finally:
        c.close()
    bodies = [messages_pb2.StreamingOutputCallResponse.FromString(m).payload.body for m in split_body(got)[0]]
    assert bodies == [interop_server.pattern(500), interop_server.pattern(600)]


def test_server_streaming_without_te_is_buffered_whole(gw):
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in (1, 2, 3)],
        response_status=messages_pb2.EchoStatus(code=10, message="aborted after 3"))
    c = grpc_web.HTTP1Client(gw.port)
    try:
        r = c.request("POST", f"{SVC}/StreamingOutputCall", [("Content-Type", "application/grpc")],
                      frame(request.SerializeToString()))
        c.read_body(r)
    finally:
        c.close()
    assert r.headers["grpc-status"] == "10" and r.headers["grpc-message"] == "aborted after 3"
    assert len(split_body(r.body)[0]) == 3


def test_bidi_full_duplex_over_chunked_http1(gw):
    """Each request message goes upstream as its chunk arrives and its answer comes back before the
    next is sent."""
    c = grpc_web.HTTP1Client(gw.port)
    try:
        c.request("POST", f"{SVC}/FullDuplexCall", [("Content-Type", "application/grpc"), ("TE", "trailers")],
                  chunks="open")
        r = None
        for i in range(3):
            req = messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"x%d" % i))
            c.send_chunk(frame(req.SerializeToString()))
            if r is None:
                r = c.read_head()
                assert r.status == 200
            got = c.read_chunk()
            assert messages_pb2.StreamingOutputCallResponse.FromString(split_body(got)[0][0]).payload.body == b"x%d" % i
        c.send_chunk(b"")
        assert c.read_chunk() == b""
        assert c.trailers["grpc-status"] == "0"
    finally:
        c.close()


def test_client_streaming_chunked_upload(gw):
    parts = [frame(messages_pb2.StreamingInputCallRequest(payload=messages_pb2.Payload(body=b"z" * n)).SerializeToString())
             for n in (1, 100000, 7)]
    body = b"".join(parts)
    c = grpc_web.HTTP1Client(gw.port)
    try:
        # Chunks cut across message boundaries.
        r = c.request("POST", f"{SVC}/StreamingInputCall", [("Content-Type", "application/grpc"), ("TE", "trailers")],
                      chunks=[body[:3], body[3:50000], body[50000:]])
        c.read_body(r)
        assert c.trailers["grpc-status"] == "0"
    finally:
        c.close()
    assert messages_pb2.StreamingInputCallResponse.FromString(split_body(r.body)[0][0]).aggregated_payload_size == 100008


@pytest.mark.parametrize("te", [True, False])
def test_unknown_service_status_in_headers(gw, te):
    c = grpc_web.HTTP1Client(gw.port)
    try:
        headers = [("Content-Type", "application/grpc")] + ([("TE", "trailers")] if te else [])
        r = c.request("POST", "/no.such.Service/M", headers, frame(b""))
        c.read_body(r)
    finally:
        c.close()
    assert r.status == 200 and r.headers["grpc-status"] == "12" and r.body == b""
    assert r.headers["grpc-message"] == "unknown service no.such.Service"


def test_grpc_timeout_honoured(gw):
    c = grpc_web.HTTP1Client(gw.port)
    try:
        r = c.request("POST", f"{SVC}/UnaryCall", [("Content-Type", "application/grpc"), ("grpc-timeout", "200m"),
                                                   ("x-test-delay-ms", "5000")], unary(1))
        c.read_body(r)
    finally:
        c.close()
    assert r.headers["grpc-status"] == "4"

"""gRPC-Web through the gateway (README, "gRPC-Web and CORS"): sonora (a gRPC-Web client for
Python) and raw HTTP/1.1 and HTTP/2 (python h2) clients in front, curl for CORS, the grpcio
TestService behind."""
import base64
import subprocess
import time

import grpc
import pytest
import sonora.client

import grpc_web
import harness
from grpc_web import frame, h1_call, h2_call, split_body
from testing_stubs import messages_pb2, test_pb2_grpc
import interop_server

SVC = "/grpc.testing.TestService"
APP = "http://app.example:8000"
OTHER_ORIGIN = "http://evil.example:8000"


def web_routes(up_port, **route):
    config = harness.routes([up_port], workers=1)
    config["routes"][0]["cors"] = {"allowed_origins": [APP], "allowed_headers": ["x-custom"],
                                   "exposed_headers": ["x-grpc-test-echo-initial"], "max_age": "10m"}
    config["routes"][0].update(route)
    return config


@pytest.fixture
def web(upstream, gateway):
    up = upstream()
    gw = gateway(web_routes(up.port))
    gw.upstream = up
    return gw


class _NoRegisteredMethod:
    """Current grpcio-tools stubs pass `_registered_method=` to the channel, which sonora 0.2.3
    rejects: drop it."""

    def __init__(self, channel):
        self._channel = channel

    def __getattr__(self, name):
        method = getattr(self._channel, name)

        def call(*args, _registered_method=None, **kwargs):
            return method(*args, **kwargs)
        return call


def sonora_stub(port):
    return test_pb2_grpc.TestServiceStub(_NoRegisteredMethod(sonora.client.insecure_web_channel(f"http://127.0.0.1:{port}")))


def unary_request(size=100, **kw):
    return messages_pb2.SimpleRequest(response_size=size, payload=messages_pb2.Payload(body=b"ping"), **kw)


# --- sonora (binary, HTTP/1.1) ---

def test_sonora_unary_with_metadata_both_ways(web):
    stub = sonora_stub(web.port)
    response, call = stub.UnaryCall.with_call(
        unary_request(321), metadata=[("x-test-id", "u1"), ("x-grpc-test-echo-initial", "hello"),
                                      ("x-grpc-test-echo-trailing-bin", b"\x00\x01\xfe")])
    assert response.payload.body == interop_server.pattern(321)
    assert dict(call.initial_metadata())["x-grpc-test-echo-initial"] == "hello"
    trailers = dict(call.trailing_metadata())
    assert trailers["grpc-status"] == "0"
    assert base64.b64decode(trailers["x-grpc-test-echo-trailing-bin"] + "==") == b"\x00\x01\xfe"
    rec = web.upstream.service.record("u1")
    # What the upstream saw: gRPC, not gRPC-Web; X-User-Agent passed on as metadata.
    assert rec.metadata["x-user-agent"] == "grpc-web-python/0.1"
    assert "x-grpc-web" not in rec.metadata
    assert rec.metadata["x-forwarded-for"] == "127.0.0.1"


def test_sonora_server_streaming(web):
    stub = sonora_stub(web.port)
    sizes = [10, 20000, 0, 70000]
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
    bodies = [r.payload.body for r in stub.StreamingOutputCall(request)]
    assert bodies == [interop_server.pattern(s) for s in sizes]


def test_sonora_error_status_and_message(web):
    stub = sonora_stub(web.port)
    with pytest.raises(grpc.RpcError) as failure:
        stub.UnaryCall(unary_request(response_status=messages_pb2.EchoStatus(code=5, message="no such thing: ü")))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure.value.details() == "no such thing: ü"


def test_sonora_grpc_timeout_honoured(web):
    stub = sonora_stub(web.port)
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as failure:
        # No client-side timeout (sonora would send its own grpc-timeout and wait as long): the
        # deadline is the gateway's, from the grpc-timeout header.
        stub.UnaryCall(unary_request(), metadata=[("x-test-delay-ms", "5000"), ("grpc-timeout", "300m")])
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The gateway's timer, or the grpcio upstream's own one (the gateway forwards the time left as
    # grpc-timeout, so the two race: seen in CI under load). Either way the deadline is honoured.
    assert failure.value.details() in ("deadline exceeded (300ms)", "Deadline Exceeded"), failure.value.details()
    assert time.monotonic() - start < 3


# --- raw HTTP/1.1 ---

def test_h1_text_unary(web):
    body = frame(unary_request(77).SerializeToString())
    r, decoded = h1_call(web.port, f"{SVC}/UnaryCall", body, text=True)
    assert r.status == 200
    assert r.headers["content-type"] == "application/grpc-web-text+proto"
    messages, trailers = split_body(decoded)
    assert messages_pb2.SimpleResponse.FromString(messages[0]).payload.body == interop_server.pattern(77)
    assert trailers["grpc-status"] == "0"


def _hold_second(web, test_id, text):
    """A server stream of two messages over HTTP/1.1 whose second the upstream holds back: the first
    must reach the client (one chunk, decodable on its own in text mode) while the upstream has
    yielded only it."""
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=1000),
        messages_pb2.ResponseParameters(size=2000, interval_us=30_000_000)])
    body = frame(request.SerializeToString())
    c = grpc_web.HTTP1Client(web.port)
    try:
        ctype = "application/grpc-web-text" if text else "application/grpc-web"
        r = c.request("POST", f"{SVC}/StreamingOutputCall", [("Content-Type", ctype), ("x-test-id", test_id)],
                      base64.b64encode(body) if text else body)
        assert r.status == 200 and r.headers["transfer-encoding"] == "chunked"
        got = b""
        while len(got) < 1005:
            chunk = c.read_chunk()
            got += grpc_web.b64decode_runs(chunk.decode()) if text else chunk
        rec = web.upstream.service.record(test_id)
        assert rec.responses_yielded == 1 and not rec.release.is_set()
        assert [len(p) for _, p in grpc_web.parse_frames(got)] == [len(messages_pb2.StreamingOutputCallResponse(
            payload=messages_pb2.Payload(body=interop_server.pattern(1000))).SerializeToString())]
        rec.release.set()
        rest = b""
        while (chunk := c.read_chunk()):
            rest += grpc_web.b64decode_runs(chunk.decode()) if text else chunk
        messages, trailers = split_body(got + rest)
        assert len(messages) == 2 and trailers["grpc-status"] == "0"
    finally:
        c.close()


def test_h1_server_streaming_each_message_as_it_arrives(web):
    _hold_second(web, "s-bin", text=False)


def test_h1_text_server_streaming_each_message_decodable_as_it_arrives(web):
    _hold_second(web, "s-text", text=True)


def test_h1_text_request_in_chunks_split_mid_group(web):
    body = frame(unary_request(5).SerializeToString())
    text = base64.b64encode(body)
    c = grpc_web.HTTP1Client(web.port)
    try:
        r = c.request("POST", f"{SVC}/UnaryCall", [("Content-Type", "application/grpc-web-text")],
                      chunks=[text[:1], text[1:6], text[6:7], text[7:]])
        c.read_body(r)
    finally:
        c.close()
    messages, trailers = split_body(grpc_web.b64decode_runs(r.body.decode()))
    assert trailers["grpc-status"] == "0" and len(messages) == 1


# --- raw HTTP/2 ---

def test_h2_binary_unary_and_content_type(web):
    s = h2_call(web.port, f"{SVC}/UnaryCall", [frame(unary_request(64).SerializeToString())])
    assert s.headers[":status"] == "200"
    assert s.headers["content-type"] == "application/grpc-web+proto"
    assert s.trailers is None  # the status is in the body, not in HTTP/2 trailers
    messages, trailers = split_body(s.data)
    assert messages_pb2.SimpleResponse.FromString(messages[0]).payload.body == interop_server.pattern(64)
    assert trailers == {"grpc-status": "0"}


def test_h2_text_split_at_every_byte_and_as_padded_runs(web):
    """A small request's base64 cut at every offset into two DATA frames, and the frame's bytes cut
    at every offset into two separately padded base64 runs: every call decodes to the same request."""
    body = frame(unary_request(3, fill_username=False).SerializeToString())
    text = base64.b64encode(body)
    cases = [[text[:k], text[k:]] for k in range(1, len(text))]
    cases += [[base64.b64encode(body[:k]), base64.b64encode(body[k:])] for k in range(1, len(body))]
    c = grpc_web.H2Client(web.port)
    try:
        for chunks in cases:
            sid = c.start(f"{SVC}/UnaryCall", [("content-type", "application/grpc-web-text")])
            c.send(sid, chunks[0])
            c.send(sid, chunks[1], end=True)
            s = c.streams[sid]
            c.pump(lambda: s.ended)
            assert s.headers[":status"] == "200", chunks
            messages, trailers = split_body(grpc_web.b64decode_runs(s.data.decode()))
            assert trailers["grpc-status"] == "0", (chunks, trailers)
            assert messages_pb2.SimpleResponse.FromString(messages[0]).payload.body == interop_server.pattern(3)
    finally:
        c.close()


def test_h2_text_bad_base64_is_invalid_argument(web):
    s = h2_call(web.port, f"{SVC}/UnaryCall", [b"AAAA*AAA"], text=True)
    assert s.headers["grpc-status"] == "3"
    assert "not base64" in s.headers["grpc-message"]


def test_h2_client_streaming(web):
    payloads = [b"a" * 10, b"b" * 70000, b"c"]
    chunks = [frame(messages_pb2.StreamingInputCallRequest(payload=messages_pb2.Payload(body=p)).SerializeToString())
              for p in payloads]
    s = h2_call(web.port, f"{SVC}/StreamingInputCall", chunks)
    messages, trailers = split_body(s.data)
    assert trailers["grpc-status"] == "0"
    assert messages_pb2.StreamingInputCallResponse.FromString(messages[0]).aggregated_payload_size == 70011


def test_h2_bidi_full_duplex(web):
    """Each request is answered before the next is sent: the stream is full-duplex."""
    c = grpc_web.H2Client(web.port)
    try:
        sid = c.start(f"{SVC}/FullDuplexCall", [("content-type", "application/grpc-web+proto")])
        s = c.streams[sid]
        for i in range(3):
            request = messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"m%d" % i))
            c.send(sid, frame(request.SerializeToString()))
            c.pump(lambda: len(grpc_web.parse_frames(s.data)) == i + 1 if len(s.data) else False)
        c.end(sid)
        c.pump(lambda: s.ended)
    finally:
        c.close()
    messages, trailers = split_body(s.data)
    assert [messages_pb2.StreamingOutputCallResponse.FromString(m).payload.body for m in messages] == [b"m0", b"m1", b"m2"]
    assert trailers["grpc-status"] == "0"


def test_trailers_only_errors_carry_status_in_headers(web):
    # The gateway's own (unknown service), and the upstream's (an unimplemented method).
    for path, code in [("/no.such.Service/M", "12"), (f"{SVC}/UnimplementedCall", "12")]:
        s = h2_call(web.port, path, [frame(b"")])
        assert s.headers[":status"] == "200" and s.headers["grpc-status"] == code, s.headers
        assert s.data == b"" and s.trailers is None
        r, body = h1_call(web.port, path, frame(b""))
        assert r.status == 200 and r.headers["grpc-status"] == code and body == b""
    s = h2_call(web.port, "/no.such.Service/M", [frame(b"")])
    assert s.headers["grpc-message"] == "unknown service no.such.Service"


def test_error_after_messages_is_a_trailer_frame(web):
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=5)],
        response_status=messages_pb2.EchoStatus(code=9, message="stop"))
    r, body = h1_call(web.port, f"{SVC}/StreamingOutputCall", frame(request.SerializeToString()))
    messages, trailers = split_body(body)
    assert len(messages) == 1 and trailers["grpc-status"] == "9" and trailers["grpc-message"] == "stop"


# --- CORS (curl) ---

def curl(port, path, *args, body=None):
    """(status, headers: lower-case name -> list of values) of one curl call; `body` is sent when given."""
    if body is not None:
        args = (*args, "--data-binary", "@-")
    done = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "--max-time", "10", *args,
                           f"http://127.0.0.1:{port}{path}"], input=body or b"", capture_output=True, timeout=15)
    assert done.returncode == 0, done.stderr.decode()
    blocks = done.stdout.decode().split("\r\n\r\n")
    lines = [b for b in blocks if b.startswith("HTTP/")][-1].split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers


PREFLIGHT = ["-X", "OPTIONS", "-H", "Access-Control-Request-Method: POST",
             "-H", "Access-Control-Request-Headers: content-type,x-grpc-web,x-custom"]


@pytest.mark.parametrize("http", ["--http1.1", "--http2-prior-knowledge"])
def test_cors_preflight_answered_without_upstream(web, http):
    status, h = curl(web.port, f"{SVC}/UnaryCall", http, *PREFLIGHT, "-H", f"Origin: {APP}")
    assert status == 200
    assert h["access-control-allow-origin"] == [APP]
    assert h["access-control-allow-methods"] == ["POST, OPTIONS"]
    allowed = h["access-control-allow-headers"][0].split(", ")
    assert {"content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-custom"} <= set(allowed)
    assert h["access-control-max-age"] == ["600"]
    assert h["vary"] == ["origin"]
    assert not web.upstream.service.calls


@pytest.mark.parametrize("http", ["--http1.1", "--http2-prior-knowledge"])
def test_cors_origin_not_allowed_gets_no_cors_headers(web, http):
    status, h = curl(web.port, f"{SVC}/UnaryCall", http, *PREFLIGHT, "-H", f"Origin: {OTHER_ORIGIN}")
    assert status == 403
    assert not [k for k in h if k.startswith("access-control-")]
    # A call from it is served (a browser will not let the page read it), without CORS fields.
    status, h = curl(web.port, f"{SVC}/EmptyCall", http, "-H", f"Origin: {OTHER_ORIGIN}",
                     "-H", "Content-Type: application/grpc-web", body=frame(b""))
    assert status == 200
    assert not [k for k in h if k.startswith("access-control-")]
    assert len(web.upstream.service.calls) == 1  # the call, never the preflight


def test_cors_preflights_are_not_counted_as_calls(upstream, gateway):
    """Preflights (answered and refused, HTTP/1.1 and HTTP/2) are answered without a call: the
    call counters on /metrics see only the one real call."""
    import re
    up = upstream()
    config = web_routes(up.port)
    admin = harness.free_port()
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    gw = gateway(config)
    for http in ["--http1.1", "--http2-prior-knowledge"]:
        assert curl(gw.port, f"{SVC}/UnaryCall", http, *PREFLIGHT, "-H", f"Origin: {APP}")[0] == 200
        assert curl(gw.port, f"{SVC}/UnaryCall", http, *PREFLIGHT, "-H", f"Origin: {OTHER_ORIGIN}")[0] == 403
    status, _ = curl(gw.port, f"{SVC}/EmptyCall", "-H", f"Origin: {APP}", "-H", "Content-Type: application/grpc-web",
                     body=frame(b""))
    assert status == 200
    body = subprocess.run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{admin}/metrics"],
                          capture_output=True, text=True, timeout=15, check=True).stdout
    counted = {m.group(1): int(m.group(2)) for m in re.finditer(r'^trestle_calls_total\{code="(\w+)"\} (\d+)$', body, re.M)}
    assert re.search(r"^trestle_calls_started_total 1$", body, re.M), body
    assert {k: v for k, v in counted.items() if v} == {"OK": 1}, counted


def _cors_fields_present(h):
    assert h["access-control-allow-origin"] == [APP], h
    exposed = h["access-control-expose-headers"][0].split(", ")
    assert exposed[:3] == ["grpc-status", "grpc-message", "grpc-status-details-bin"]
    assert "x-grpc-test-echo-initial" in exposed


def test_cors_fields_on_success_and_every_kind_of_error(upstream, gateway, tmp_path):
    up = upstream()
    dead = harness.free_port()
    config = web_routes(up.port)
    # The top level's policy covers requests no route takes; "down" goes to a port nobody listens on.
    config["cors"] = {"allowed_origins": [APP], "exposed_headers": ["x-grpc-test-echo-initial"]}
    config["clusters"].append({"name": "down", "endpoints": [f"127.0.0.1:{dead}"], "connect_timeout": "1s"})
    config["routes"].append({"service": "grpc.testing.UnimplementedService", "cluster": "down"})
    gw = gateway(config)
    empty = frame(b"")
    for http in ["--http1.1", "--http2-prior-knowledge"]:
        base = [http, "-H", f"Origin: {APP}", "-H", "Content-Type: application/grpc-web+proto"]
        unary = frame(unary_request(1).SerializeToString())
        cases = [
            (f"{SVC}/UnaryCall", [], unary, "0"),                                         # success (in the trailer frame)
            ("/no.such.Service/M", [], empty, "12"),                                      # no route
            ("/grpc.testing.UnimplementedService/UnimplementedCall", [], empty, "14"),   # upstream down
            (f"{SVC}/UnaryCall", ["-H", "grpc-timeout: 200m", "-H", "x-test-delay-ms: 3000"], unary, "4"),  # deadline
        ]
        for path, extra, body, code in cases:
            argv = ["curl", "-sS", "-D", "-", "-o", "-", "--max-time", "10", *base, *extra, "--data-binary", "@-",
                    f"http://127.0.0.1:{gw.port}{path}"]
            done = subprocess.run(argv, input=body, capture_output=True, timeout=15)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            h = {}
            for line in head.decode().split("\r\n")[1:]:
                name, _, value = line.partition(":")
                h.setdefault(name.strip().lower(), []).append(value.strip())
            _cors_fields_present(h)
            if code == "0":
                assert split_body(payload)[1]["grpc-status"] == "0"
            else:
                assert h["grpc-status"] == [code], (path, h)


def test_cors_any_origin_only_when_written(upstream, gateway):
    up = upstream()
    config = web_routes(up.port)
    config["routes"][0]["cors"] = {"allowed_origins": ["*"]}
    gw = gateway(config)
    status, h = curl(gw.port, f"{SVC}/UnaryCall", *PREFLIGHT, "-H", "Origin: http://whoever.example")
    assert status == 200 and h["access-control-allow-origin"] == ["*"] and "vary" not in h
    # Without a cors key nothing is allowed.
    config = web_routes(up.port)
    del config["routes"][0]["cors"]
    gw2 = gateway(config)
    status, h = curl(gw2.port, f"{SVC}/UnaryCall", *PREFLIGHT, "-H", f"Origin: {APP}")
    assert status == 403 and "access-control-allow-origin" not in h


def test_cors_check_reports_position(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("listeners:\n  - address: 127.0.0.1:1\nclusters:\n  - name: c\n    endpoints: [127.0.0.1:2]\n"
                    "routes:\n  - service: a.B\n    cluster: c\n    cors:\n      allowed_origins: [\"https://a.example/x\"]\n"
                    "      max_agee: 1s\n")
    done = subprocess.run([harness.TRESTLE_BIN, "check", "--config", path], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert f"{path}:10:25: invalid origin \"https://a.example/x\"" in out
    assert f"{path}:11:7: unknown key \"max_agee\" in \"cors\" in route \"a.B\"; did you mean \"max_age\"?" in out


@pytest.mark.rss
def test_h1_64mib_server_stream_through_slow_reader_memory_bounded(web):
    """64 MiB of server stream through gRPC-Web over HTTP/1.1 to a client that reads slowly at
    first: the gateway holds back the upstream (its window is not given back while the client's
    backlog is high), so its peak RSS stays far below the stream's size."""
    count, size = 64, 1 << 20
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=size) for _ in range(count)])
    c = grpc_web.HTTP1Client(web.port)
    try:
        c.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 64 * 1024)
        r = c.request("POST", f"{SVC}/StreamingOutputCall", [("Content-Type", "application/grpc-web"),
                                                              ("x-test-id", "big")], frame(request.SerializeToString()))
        assert r.status == 200
        rec = web.upstream.service.record("big")
        # Not reading: the upstream stalls well before the end of the stream.
        stalled = harness.stalled_at(lambda: rec.responses_yielded, count - 1)
        assert stalled < count - 8, f"the upstream produced {stalled} of {count} MiB for a client that reads nothing"
        total = 0
        while (chunk := c.read_chunk()):
            total += len(chunk)
        assert total > count * size
    finally:
        c.close()
    peak_mib = web.vm_hwm_kib() / 1024
    print(f"upstream stalled at {stalled} MiB; gateway peak RSS {peak_mib:.1f} MiB")
    assert peak_mib < 48, f"gateway peak RSS {peak_mib:.1f} MiB for a 64 MiB stream"


# --- CORS on the JSON frontend ---

def _json_gateway(gateway, compression=None, **route):
    import transcode_protos
    import transcode_server
    pb, _ = transcode_protos.build()
    server, port = transcode_server.start_server(compression=compression)
    config = harness.routes([port], workers=1)
    config["descriptors"] = [str(pb)]
    config["clusters"][0]["name"] = "transcode"
    config["routes"] = [{"service": "trestle.test.v1.TranscodeService", "cluster": "transcode", **route}]
    config["cors"] = {"allowed_origins": [APP]}
    return gateway(config), server


@pytest.fixture
def json_cors_gateway(gateway):
    gw, server = _json_gateway(gateway, cors={"allowed_origins": [APP], "exposed_headers": ["x-request-id"]})
    yield gw
    server.stop(0)


def test_json_call_with_gzip_upstream_reply_is_decoded(gateway):
    gw, server = _json_gateway(gateway, compression=grpc.Compression.Gzip)
    try:
        status, _ = curl(gw.port, "/v1/shelves/s1/books/b1")
        assert status == 200
        done = subprocess.run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{gw.port}/v1/shelves/s1/books/b%202"],
                              capture_output=True, timeout=15)
        import json
        assert json.loads(done.stdout) == {"name": "shelves/s1/books/b 2", "title": "Title of shelves/s1/books/b 2"}
    finally:
        server.stop(0)


def test_json_call_with_deflate_upstream_reply_is_unimplemented_naming_it(gateway):
    gw, server = _json_gateway(gateway, compression=grpc.Compression.Deflate)
    try:
        done = subprocess.run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{gw.port}/v1/shelves/s1/books/b1"],
                              capture_output=True, timeout=15)
        import json
        body = json.loads(done.stdout)
        assert body["code"] == 12 and "grpc-encoding deflate" in body["message"], body
    finally:
        server.stop(0)


def test_json_responses_and_preflights_carry_cors(json_cors_gateway):
    port = json_cors_gateway.port
    # A preflight for a google.api.http path is routed by the binding it names.
    status, h = curl(port, "/v1/shelves/s1/books/b1", "-X", "OPTIONS", "-H", f"Origin: {APP}",
                     "-H", "Access-Control-Request-Method: GET")
    assert status == 200 and h["access-control-allow-origin"] == [APP]
    assert h["access-control-allow-methods"] == ["GET, OPTIONS"]
    status, h = curl(port, "/v1/shelves/s1/books/b1", "-H", f"Origin: {APP}")
    assert status == 200
    assert h["access-control-allow-origin"] == [APP]
    assert "x-request-id" in h["access-control-expose-headers"][0]
    # The gateway's own 404 keeps them (the top-level policy), and another origin gets none.
    status, h = curl(port, "/acme.Nope/Call", "-H", f"Origin: {APP}", "-H", "Content-Type: application/json", body=b"{}")
    assert status == 404 and h["access-control-allow-origin"] == [APP]
    status, h = curl(port, "/v1/shelves/s1/books/b1", "-H", f"Origin: {OTHER_ORIGIN}")
    assert status == 200 and not [k for k in h if k.startswith("access-control-")]


# --- compression passes through where both ends speak gRPC framing ---

def test_gzip_upstream_reply_passes_through_to_grpc_web_and_grpc_over_http1(gateway):
    import gzip
    # A grpcio server that compresses every reply (even when the client's accept-encoding leaves
    # gzip out, so the gateway cannot be asked to).
    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=interop_server.OPTIONS,
                         compression=grpc.Compression.Gzip)
    service = interop_server.TestService()
    test_pb2_grpc.add_TestServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        gw = gateway(web_routes(port))
        body = frame(unary_request(2000).SerializeToString())
        expected = interop_server.pattern(2000)
        for text in (False, True):
            r, decoded = h1_call(gw.port, f"{SVC}/UnaryCall", body, headers=[("grpc-accept-encoding", "gzip")], text=text)
            assert r.headers["grpc-encoding"] == "gzip", r.headers
            flags = [f for f, _ in grpc_web.parse_frames(decoded)]
            assert flags[0] == 1  # the compressed flag, untouched
            messages, trailers = split_body(decoded)  # flag 1 is a (compressed) message, not a trailer frame
            assert trailers["grpc-status"] == "0"
            assert messages_pb2.SimpleResponse.FromString(gzip.decompress(messages[0])).payload.body == expected
        c = grpc_web.HTTP1Client(gw.port)
        try:
            r = c.request("POST", f"{SVC}/UnaryCall", [("Content-Type", "application/grpc"), ("TE", "trailers"),
                                                       ("grpc-accept-encoding", "gzip")], body)
            c.read_body(r)
        finally:
            c.close()
        assert r.headers["grpc-encoding"] == "gzip" and c.trailers["grpc-status"] == "0"
        (flag, payload), = grpc_web.parse_frames(r.body)
        assert flag == 1 and messages_pb2.SimpleResponse.FromString(gzip.decompress(payload)).payload.body == expected
    finally:
        server.stop(0).wait(5)

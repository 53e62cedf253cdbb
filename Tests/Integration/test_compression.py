"""Compression end to end (README, "Compression"): a grpcio upstream that gzips every reply, seen
by a native grpcio client, a raw HTTP/2 gRPC client, and JSON clients (curl); JSON request bodies
with a Content-Encoding. (gRPC-Web: test_grpc_web.py passes gzip through, test_grpc_web_json.py
decodes it.)"""
import gzip
import json
import subprocess

import grpc
import pytest

import grpc_web
import harness
import interop_server
from grpc_web import frame
from test_grpc_web_json import b64, start_upstream
from testing_stubs import messages_pb2, test_pb2_grpc

SVC = "/grpc.testing.TestService"


@pytest.fixture
def gzip_upstream_gateway(gateway, testing_pb):
    server, port, service = start_upstream(compression=grpc.Compression.Gzip)
    config = harness.routes([port], workers=1)
    config["descriptors"] = [str(testing_pb)]
    gw = gateway(config)
    gw.service = service
    yield gw
    server.stop(0).wait(5)


def curl(port, path, *args, data=b""):
    done = subprocess.run(["curl", "-sS", "--max-time", "10", "-D", "-", "-o", "-", *args, "--data-binary", "@-",
                           f"http://127.0.0.1:{port}{path}"], input=data, capture_output=True, timeout=15)
    assert done.returncode == 0, done.stderr.decode()
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def test_native_grpc_client_gets_gzip_upstream_reply(gzip_upstream_gateway):
    with harness.channel(gzip_upstream_gateway.port) as ch:
        response = test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=5000), timeout=10)
    assert response.payload.body == interop_server.pattern(5000)


def test_native_h2_gzip_reply_passes_through_compressed(gzip_upstream_gateway):
    s = grpc_web.H2Client(gzip_upstream_gateway.port)
    try:
        sid = s.start(f"{SVC}/UnaryCall", [("content-type", "application/grpc"), ("te", "trailers"),
                                           ("grpc-accept-encoding", "gzip")])
        s.send(sid, frame(messages_pb2.SimpleRequest(response_size=5000).SerializeToString()), end=True)
        st = s.streams[sid]
        s.pump(lambda: st.ended)
    finally:
        s.close()
    assert st.headers["grpc-encoding"] == "gzip"
    (flag, payload), = grpc_web.parse_frames(st.data)
    assert flag == 1  # untouched: still compressed
    assert messages_pb2.SimpleResponse.FromString(gzip.decompress(payload)).payload.body == interop_server.pattern(5000)
    assert st.trailers["grpc-status"] == "0"


@pytest.mark.parametrize("http", ["--http1.1", "--http2-prior-knowledge"])
def test_json_unary_and_server_streaming_gzip_replies_decoded(gzip_upstream_gateway, http):
    status, headers, body = curl(gzip_upstream_gateway.port, f"{SVC}/UnaryCall", http, "-H", "Content-Type: application/json",
                                 data=b'{"responseSize": 3000}')
    assert status == 200, body
    assert "grpc-encoding" not in headers and "content-encoding" not in headers
    assert json.loads(body) == {"payload": {"body": b64(interop_server.pattern(3000))}}
    status, _, body = curl(gzip_upstream_gateway.port, f"{SVC}/StreamingOutputCall", http, "-H", "Content-Type: application/json",
                           data=json.dumps({"responseParameters": [{"size": 2000}, {"size": 10}]}).encode())
    assert status == 200
    assert [json.loads(line) for line in body.splitlines()] == [
        {"result": {"payload": {"body": b64(interop_server.pattern(n))}}} for n in (2000, 10)]


def test_json_gzip_request_body_decoded(gzip_upstream_gateway):
    data = gzip.compress(json.dumps({"responseSize": 9, "payload": {"body": b64(b"zipped")}}).encode())
    status, _, body = curl(gzip_upstream_gateway.port, f"{SVC}/UnaryCall", "-H", "Content-Type: application/json",
                           "-H", "Content-Encoding: gzip", "-H", "x-test-id: gz", data=data)
    assert status == 200, body
    assert json.loads(body) == {"payload": {"body": b64(interop_server.pattern(9))}}
    rec = gzip_upstream_gateway.service.record("gz")
    assert rec.request_digests == [interop_server.digest(b"zipped")]
    assert "content-encoding" not in rec.metadata


def test_json_request_body_bad_gzip_is_400(gzip_upstream_gateway):
    status, _, body = curl(gzip_upstream_gateway.port, f"{SVC}/UnaryCall", "-H", "Content-Type: application/json",
                           "-H", "Content-Encoding: gzip", data=b'{"responseSize": 1}')
    assert status == 400, body
    assert "cannot decompress the gzip request body" in json.loads(body)["message"]
    assert not gzip_upstream_gateway.service.calls


@pytest.mark.parametrize("path,coding,why", [
    ("UnaryCall", "br", "request body has Content-Encoding br; the gateway decodes gzip only"),
    ("StreamingInputCall", "gzip", "a client-streaming JSON body cannot be gzip-compressed"),
])
def test_json_request_content_encoding_refused_415_naming_it(gzip_upstream_gateway, path, coding, why):
    status, headers, body = curl(gzip_upstream_gateway.port, f"{SVC}/{path}", "-H", "Content-Type: application/json",
                                 "-H", f"Content-Encoding: {coding}", data=b"{}")
    assert status == 415, body
    assert headers["accept-encoding"] == "gzip"
    error = json.loads(body)
    assert error["code"] == 12 and why in error["message"]
    assert not gzip_upstream_gateway.service.calls

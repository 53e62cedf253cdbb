"""gRPC-Web with JSON messages (`application/grpc-web+json`, README "gRPC-Web and CORS"): gRPC-Web
framing around proto3-JSON messages, transcoded by the gateway to the grpcio TestService's binary
protobuf with the routes file's descriptors (grpc/testing/test.proto). Raw HTTP/1.1 and HTTP/2
(python h2) clients: sonora has no JSON mode."""
import base64
import gzip
import json
from concurrent import futures

import grpc
import pytest

import grpc_web
import harness
import interop_server
from grpc_web import frame, split_body
from testing_stubs import test_pb2_grpc

SVC = "/grpc.testing.TestService"
JSON_WEB = "application/grpc-web+json"


def b64(data):
    return base64.b64encode(data).decode()


def jframe(obj, flag=0):
    return frame(json.dumps(obj).encode(), flag)


def json_messages(body):
    messages, trailers = split_body(body)
    return [json.loads(m) for m in messages], trailers


def start_upstream(compression=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=interop_server.OPTIONS,
                         compression=compression)
    service = interop_server.TestService()
    test_pb2_grpc.add_TestServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, service


@pytest.fixture
def web_json(gateway, testing_pb):
    server, port, service = start_upstream()
    config = harness.routes([port], workers=1)
    config["descriptors"] = [str(testing_pb)]
    gw = gateway(config)
    gw.service = service
    yield gw
    server.stop(0).wait(5)


def test_h2_grpc_web_json_unary(web_json):
    request = {"responseSize": 7, "payload": {"body": b64(b"ping")}}
    s = grpc_web.h2_call(web_json.port, f"{SVC}/UnaryCall", [jframe(request)], ctype=JSON_WEB,
                         headers=[("x-test-id", "j1")])
    assert s.headers[":status"] == "200"
    assert s.headers["content-type"] == "application/grpc-web+json"
    assert s.headers["grpc-accept-encoding"] == "gzip"
    messages, trailers = json_messages(s.data)
    assert messages == [{"payload": {"body": b64(interop_server.pattern(7))}}]
    assert trailers == {"grpc-status": "0"}
    rec = web_json.service.record("j1")
    # The upstream got protobuf (its servicer parsed the payload), and no gRPC-Web marker.
    assert rec.request_digests == [interop_server.digest(b"ping")]
    assert "x-grpc-web" not in rec.metadata


def test_h1_grpc_web_json_server_streaming(web_json):
    sizes = [3, 0, 20000]
    request = {"responseParameters": [{"size": n} for n in sizes]}
    r, body = grpc_web.h1_call(web_json.port, f"{SVC}/StreamingOutputCall", jframe(request),
                               ctype=JSON_WEB)
    assert r.status == 200 and r.headers["content-type"] == "application/grpc-web+json"
    messages, trailers = json_messages(body)
    assert messages == [{"payload": {"body": b64(interop_server.pattern(n))}} if n else {"payload": {}} for n in sizes]
    assert trailers["grpc-status"] == "0"


def test_h1_grpc_web_text_json_unary(web_json):
    c = grpc_web.HTTP1Client(web_json.port)
    try:
        body = base64.b64encode(jframe({"responseSize": 4}))
        r = c.request("POST", f"{SVC}/UnaryCall", [("Content-Type", "application/grpc-web-text+json")], body)
        c.read_body(r)
    finally:
        c.close()
    assert r.headers["content-type"] == "application/grpc-web-text+json"
    messages, trailers = json_messages(grpc_web.b64decode_runs(r.body.decode()))
    assert messages == [{"payload": {"body": b64(interop_server.pattern(4))}}] and trailers["grpc-status"] == "0"


def test_h2_grpc_web_json_client_streaming_frames_split_anywhere(web_json):
    bodies = [b"a" * 10, b"b" * 30000, b"c"]
    stream = b"".join(jframe({"payload": {"body": b64(p)}}) for p in bodies)
    chunks = [stream[:3], stream[3:20], stream[20:]]  # frames cut inside the prefix and the JSON
    s = grpc_web.h2_call(web_json.port, f"{SVC}/StreamingInputCall", chunks, ctype=JSON_WEB)
    messages, trailers = json_messages(s.data)
    assert messages == [{"aggregatedPayloadSize": 30011}] and trailers["grpc-status"] == "0"


def test_h2_grpc_web_json_bidi(web_json):
    c = grpc_web.H2Client(web_json.port)
    try:
        sid = c.start(f"{SVC}/FullDuplexCall", [("content-type", JSON_WEB)])
        s = c.streams[sid]
        for i in range(3):
            c.send(sid, jframe({"payload": {"body": b64(b"m%d" % i)}}))
            c.pump(lambda: len(grpc_web.parse_frames(s.data)) == i + 1 if s.data else False)
        c.end(sid)
        c.pump(lambda: s.ended)
    finally:
        c.close()
    messages, trailers = json_messages(s.data)
    assert messages == [{"payload": {"body": b64(b"m%d" % i)}} for i in range(3)] and trailers["grpc-status"] == "0"


def test_grpc_web_json_error_status_in_trailer_frame(web_json):
    request = {"responseParameters": [{"size": 1}], "responseStatus": {"code": 9, "message": "stop"}}
    s = grpc_web.h2_call(web_json.port, f"{SVC}/StreamingOutputCall", [jframe(request)], ctype=JSON_WEB)
    messages, trailers = json_messages(s.data)
    assert len(messages) == 1 and trailers["grpc-status"] == "9" and trailers["grpc-message"] == "stop"


def test_grpc_web_json_invalid_json_is_invalid_argument_and_not_forwarded(web_json):
    s = grpc_web.h2_call(web_json.port, f"{SVC}/UnaryCall", [frame(b'{"responseSize": "x"}')], ctype=JSON_WEB)
    assert s.headers["grpc-status"] == "3", s.headers
    assert "responseSize" in s.headers["grpc-message"] and "byte" in s.headers["grpc-message"]
    assert not web_json.service.calls


def test_grpc_web_json_gzip_request_message_decoded(web_json):
    compressed = gzip.compress(json.dumps({"responseSize": 2}).encode())
    s = grpc_web.h2_call(web_json.port, f"{SVC}/UnaryCall", [frame(compressed, flag=1)], ctype=JSON_WEB,
                         headers=[("grpc-encoding", "gzip")])
    messages, trailers = json_messages(s.data)
    assert messages == [{"payload": {"body": b64(interop_server.pattern(2))}}] and trailers["grpc-status"] == "0"


def test_grpc_web_json_other_request_encoding_is_unimplemented_naming_it(web_json):
    s = grpc_web.h2_call(web_json.port, f"{SVC}/UnaryCall", [frame(b"xx", flag=1)], ctype=JSON_WEB,
                         headers=[("grpc-encoding", "deflate")])
    assert s.headers["grpc-status"] == "12"
    assert "grpc-encoding deflate" in s.headers["grpc-message"] and "gzip only" in s.headers["grpc-message"]


def test_grpc_web_other_codec_is_unimplemented_naming_it(web_json):
    s = grpc_web.h2_call(web_json.port, f"{SVC}/UnaryCall", [frame(b"")], ctype="application/grpc-web+thrift")
    assert s.headers["grpc-status"] == "12"
    assert "application/grpc-web+thrift is not served" in s.headers["grpc-message"]


def test_grpc_web_json_without_descriptors_is_unimplemented(upstream, gateway):
    up = upstream()
    gw = gateway(harness.routes([up.port], workers=1))
    s = grpc_web.h2_call(gw.port, f"{SVC}/UnaryCall", [jframe({})], ctype=JSON_WEB)
    assert s.headers["grpc-status"] == "12"
    assert "no descriptor for /grpc.testing.TestService/UnaryCall" in s.headers["grpc-message"]
    assert not up.service.calls


def test_grpc_web_json_gzip_upstream_reply_decoded(gateway, testing_pb):
    server, port, _ = start_upstream(compression=grpc.Compression.Gzip)
    try:
        config = harness.routes([port], workers=1)
        config["descriptors"] = [str(testing_pb)]
        gw = gateway(config)
        for http in ("h1", "h2"):
            if http == "h2":
                s = grpc_web.h2_call(gw.port, f"{SVC}/UnaryCall", [jframe({"responseSize": 3000})], ctype=JSON_WEB)
                head, body = s.headers, s.data
            else:
                r, body = grpc_web.h1_call(gw.port, f"{SVC}/UnaryCall", jframe({"responseSize": 3000}),
                                           ctype=JSON_WEB)
                head = r.headers
            assert "grpc-encoding" not in head, head  # the gateway decoded it: the client gets identity
            messages, trailers = json_messages(body)
            assert messages == [{"payload": {"body": b64(interop_server.pattern(3000))}}], http
            assert trailers["grpc-status"] == "0"
    finally:
        server.stop(0).wait(5)


def test_grpc_web_json_passed_through_to_an_upstream_with_the_json_codec(gateway):
    """Route key upstream_json_codec: the upstream speaks gRPC's JSON codec, so the messages pass
    untouched (no descriptors needed) and the upstream sees application/grpc+json."""
    seen = []

    def unary(request, context):
        seen.append(request)
        return {"echo": json.loads(request)}

    def stream(request, context):
        for i in range(2):
            yield {"index": i}

    handler = grpc.method_handlers_generic_handler("grpc.testing.TestService", {
        "UnaryCall": grpc.unary_unary_rpc_method_handler(unary, request_deserializer=bytes,
                                                         response_serializer=lambda o: json.dumps(o).encode()),
        "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(stream, request_deserializer=bytes,
                                                                    response_serializer=lambda o: json.dumps(o).encode()),
    })

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        config = harness.routes([port], workers=1)
        config["routes"][0]["upstream_json_codec"] = True
        gw = gateway(config)
        raw = b'{"any": ["shape", 1]}'
        s = grpc_web.h2_call(gw.port, f"{SVC}/UnaryCall", [frame(raw)], ctype=JSON_WEB)
        assert s.headers["content-type"] == "application/grpc-web+json"
        messages, trailers = json_messages(s.data)
        assert seen == [raw]  # byte for byte: nothing was transcoded
        assert messages == [{"echo": {"any": ["shape", 1]}}] and trailers["grpc-status"] == "0"
        r, body = grpc_web.h1_call(gw.port, f"{SVC}/StreamingOutputCall", frame(b"{}"), ctype=JSON_WEB)
        messages, trailers = json_messages(body)
        assert messages == [{"index": 0}, {"index": 1}] and trailers["grpc-status"] == "0"
    finally:
        server.stop(0).wait(5)

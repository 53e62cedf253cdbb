"""JSON over HTTP/1.1 and HTTP/2 through the gateway (README, "JSON over HTTP"): curl and raw
sockets in front, the grpcio TranscodeService (transcode_server.py) behind."""
import json
import select
import socket
import subprocess
import sys
import time

import pytest
from google.protobuf import json_format

import harness
import transcode_protos
import transcode_server

transcode_protos.import_stubs()
from trestle.test.v1 import transcode_pb2  # noqa: E402

SERVICE = "trestle.test.v1.TranscodeService"
WAIT = 10


@pytest.fixture(scope="module")
def descriptor_set():
    pb, _ = transcode_protos.build()
    return pb


class JSONGateway:
    def __init__(self, gateway, upstream_port):
        self.gateway = gateway
        self.port = gateway.port
        self.upstream_port = upstream_port

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def curl(self, path, *args, data=None, method=None, http="--http1.1", headers=()):
        """(status, headers dict (lower-case), body bytes) of one curl call."""
        argv = ["curl", "-sS", http, "-D", "-", "-o", "-", "--max-time", str(WAIT)]
        if method:
            argv += ["-X", method]
        for h in headers:
            argv += ["-H", h]
        if data is not None:
            argv += ["--data-binary", "@-"]
            if not any(h.lower().startswith("content-type") for h in headers):
                argv += ["-H", "Content-Type: application/json"]
        argv += [*args, self.url(path)]
        done = subprocess.run(argv, input=data.encode() if isinstance(data, str) else data,
                              capture_output=True, timeout=WAIT + 5)
        assert done.returncode == 0, done.stderr.decode()
        return parse_response(done.stdout)


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return status, headers, body


@pytest.fixture
def json_gateway(gateway, descriptor_set):
    server, port = transcode_server.start_server()
    config = harness.routes([port], workers=1)
    config["descriptors"] = [str(descriptor_set)]
    config["clusters"][0]["name"] = "transcode"
    config["routes"] = [{"service": SERVICE, "cluster": "transcode", "timeout": "30s"},
                        {"service": "grpc.testing.TestService", "cluster": "transcode"}]
    config["preface_timeout"] = "2s"
    gw = gateway(config)
    yield JSONGateway(gw, port)
    server.stop(0)


def everything_json():
    return json_format.MessageToJson(transcode_server.sample_everything(), indent=None)


def as_everything(body):
    return json_format.Parse(body, transcode_pb2.Everything())


# -- unary ------------------------------------------------------------------------------------------

def test_h1_json_unary_by_grpc_path(json_gateway):
    status, headers, body = json_gateway.curl(f"/{SERVICE}/Echo", data=everything_json())
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert as_everything(body) == transcode_server.sample_everything()


def test_h2_json_unary_by_grpc_path(json_gateway):
    status, headers, body = json_gateway.curl(f"/{SERVICE}/Echo", data=everything_json(),
                                              http="--http2-prior-knowledge")
    assert status == 200, body
    assert as_everything(body) == transcode_server.sample_everything()


def test_h1_json_rule_without_http_option_reachable_by_grpc_path(json_gateway):
    status, _, body = json_gateway.curl(f"/{SERVICE}/NoRule", data='{"stringValue": "x", "int64Value": 5}')
    assert status == 200, body
    assert json.loads(body) == {"stringValue": "x", "int64Value": "5"}


def test_h1_json_get_path_template(json_gateway):
    status, _, body = json_gateway.curl("/v1/shelves/s1/books/b%202")
    assert status == 200, body
    assert json.loads(body) == {"name": "shelves/s1/books/b 2", "title": "Title of shelves/s1/books/b 2"}


def test_h1_json_post_body_field_and_path_variable(json_gateway):
    status, _, body = json_gateway.curl("/v1/shelves/s9/books?requestId=r1", data='{"id": "42", "title": "T"}')
    assert status == 200, body
    assert json.loads(body) == {"name": "shelves/s9/books/42", "title": "T", "id": "42", "requestId": "r1"}


def test_h1_json_patch_nested_path_variable_and_field_mask_query(json_gateway):
    status, _, body = json_gateway.curl("/v1/shelves/a/books/b?updateMask=title,author", method="PATCH",
                                        data='{"title": "New", "author": "Me"}')
    assert status == 200, body
    assert json.loads(body) == {"name": "shelves/a/books/b", "title": "New", "author": "Me",
                                "updatedFields": ["title", "author"]}


def test_h1_json_delete_without_body(json_gateway):
    status, headers, body = json_gateway.curl("/v1/shelves/a/books/b", method="DELETE")
    assert status == 200, body
    assert json.loads(body) == {}
    assert headers["deleted-name"] == "shelves/a/books/b"


def test_h1_json_query_parameters_of_every_form(json_gateway):
    query = ("pageSize=2&page_token=tok&tags=a&tags=b%20c&colorFilter=RED&filter.author=Ann&filter.min_year=1999"
             "&includeDeleted=true&maxId=9007199254740993&minRating=4.5&cursor=AAEC%2F_8&colors=GREEN&colors=1"
             "&updatedAfter=2024-01-02T03:04:05.5Z&maxAge=1.5s&minPages=7&optionalNote=")
    status, _, body = json_gateway.curl(f"/v1/shelves/s1/books?{query}")
    assert status == 200, body
    echoed = json.loads(body)["echoed"]
    assert echoed == {
        "shelf": "s1", "pageSize": 2, "pageToken": "tok", "tags": ["a", "b c"], "colorFilter": "RED",
        "filter": {"author": "Ann", "minYear": 1999}, "includeDeleted": True, "maxId": "9007199254740993",
        "minRating": 4.5, "cursor": "AAEC//8=", "colors": ["GREEN", "RED"],
        "updatedAfter": "2024-01-02T03:04:05.500Z", "maxAge": "1.500s", "minPages": 7, "optionalNote": "",
    }


def test_h1_json_query_parameters_set_map_entries(json_gateway):
    """`name[key]=value` sets one map entry (grpc-gateway's syntax), keys and values in their text
    forms, brackets percent-encoded or not; a map named without a key is a 400 saying how."""
    status, _, body = json_gateway.curl("/v1/shelves/s1/books?labels[env]=prod&labels%5Btier%5D=web%20front"
                                        "&colorByRank[1]=RED&color_by_rank[-2]=2", "-g")
    assert status == 200, body
    echoed = json.loads(body)["echoed"]
    assert echoed["labels"] == {"env": "prod", "tier": "web front"}
    assert echoed["colorByRank"] == {"1": "RED", "-2": "GREEN"}
    status, _, body = json_gateway.curl("/v1/shelves/s1/books?labels=prod")
    assert status == 400, body
    error = json.loads(body)
    assert error["code"] == 3 and 'labels[key]=value' in error["message"], error
    status, _, body = json_gateway.curl("/v1/shelves/s1/books?colorByRank[x]=RED", "-g")
    assert status == 400, body
    assert 'invalid value "x" for int32 field' in json.loads(body)["message"], body


def test_h1_json_unknown_query_parameter_is_400(json_gateway):
    status, _, body = json_gateway.curl("/v1/shelves/s1/books?nope=1")
    assert status == 400, body
    error = json.loads(body)
    assert error["code"] == 3 and "nope" in error["message"]


def test_h1_json_response_body_field_and_verb(json_gateway):
    status, _, body = json_gateway.curl("/v1/shelves/a/books/b:title")
    assert status == 200, body
    assert json.loads(body) == "Title of shelves/a/books/b"


def test_h1_json_double_wildcard_path(json_gateway):
    status, _, body = json_gateway.curl("/v1/files/dir/sub/file.txt")
    assert status == 200, body
    assert json.loads(body)["name"] == "dir/sub/file.txt"


def test_h1_json_custom_method(json_gateway):
    status, _, body = json_gateway.curl("/v1/custom", method="REPORT", data='{"stringValue": "r"}')
    assert status == 200, body
    assert json.loads(body) == {"stringValue": "r"}


def test_h1_json_additional_binding(json_gateway):
    status, _, body = json_gateway.curl("/v1/echo/hello")
    assert status == 200, body
    assert json.loads(body) == {"stringValue": "hello"}


def test_h1_json_wrong_method_is_405_with_allow(json_gateway):
    status, headers, body = json_gateway.curl("/v1/echo", method="PUT", data="{}")
    assert status == 405, body
    assert "POST" in headers["allow"]


# -- errors and metadata ----------------------------------------------------------------------------

@pytest.mark.parametrize("code,http", [(3, 400), (5, 404), (7, 403), (8, 429), (9, 400), (10, 409),
                                       (12, 501), (13, 500), (14, 503), (16, 401), (1, 499)])
def test_h1_json_error_status_table(json_gateway, code, http):
    status, headers, body = json_gateway.curl("/v1/fail", data=json.dumps({"code": code, "message": "went wrong"}))
    assert status == http, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"code": code, "message": "went wrong", "details": []}


def test_h1_json_error_details_decoded(json_gateway):
    status, _, body = json_gateway.curl("/v1/fail", data='{"code": 3, "message": "bad", "withDetails": true}')
    assert status == 400, body
    error = json.loads(body)
    assert error["code"] == 3 and error["message"] == "bad"
    assert error["details"] == [
        {"@type": "type.googleapis.com/google.rpc.BadRequest",
         "fieldViolations": [{"field": "name", "description": "must not be empty"}]},
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TEST_FAILURE",
         "domain": "trestle.test", "metadata": {"method": "Fail"}},
    ]


def test_h1_json_invalid_json_is_400_naming_offset(json_gateway):
    status, _, body = json_gateway.curl(f"/{SERVICE}/Echo", data='{"int32Value": "x"}')
    assert status == 400, body
    error = json.loads(body)
    assert error["code"] == 3
    assert "int32" in error["message"] and "byte" in error["message"], error


def test_h1_json_unknown_service_is_404(json_gateway):
    status, _, body = json_gateway.curl("/acme.Nope/Call", data="{}")
    assert status == 404, body
    assert json.loads(body)["code"] == 5


def test_h1_json_routed_service_without_descriptor_is_501(json_gateway):
    status, _, body = json_gateway.curl("/grpc.testing.TestService/EmptyCall", data="{}")
    assert status == 501, body
    assert "descriptor" in json.loads(body)["message"]


def test_h1_json_metadata_both_ways(json_gateway):
    status, headers, body = json_gateway.curl(
        "/v1/metadata", data="{}",
        headers=["X-Custom: one", "Grpc-Metadata-X-Prefixed: two", "Connection: keep-alive, X-Hop",
                 "X-Hop: dropped", "Keep-Alive: timeout=5", "X-Forwarded-For: 10.0.0.1"])
    assert status == 200, body
    seen = json.loads(body)["mapStringString"]
    assert seen["x-custom"] == "one"
    assert seen["x-prefixed"] == "two"
    assert seen["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    for dropped in ("x-hop", "keep-alive", "connection", "grpc-metadata-x-prefixed", "host", "content-length"):
        assert dropped not in seen, seen
    assert headers["echo-x-custom"] == "one"
    assert headers["trailer-x"] == "yes"


def test_h1_json_binary_metadata_base64_both_ways(json_gateway):
    """-bin header values are base64 (padding optional): the upstream receives the bytes."""
    status, headers, body = json_gateway.curl("/v1/metadata", data="{}", headers=["X-Data-Bin: AAH+/w"])
    assert status == 200, body
    assert json.loads(body)["mapStringBytes"]["x-data-bin"] == "AAH+/w=="
    assert headers["echo-x-data-bin"] in ("AAH+/w", "AAH+/w==")


def test_h1_json_grpc_timeout_honoured(json_gateway):
    status, _, body = json_gateway.curl("/v1/fail", data='{"code": 0, "delayMs": 5000}', headers=["grpc-timeout: 200m"])
    assert status == 504, body
    assert json.loads(body)["code"] == 4


def test_h1_json_body_over_route_limit_is_413(gateway, descriptor_set):
    server, port = transcode_server.start_server()
    try:
        config = harness.routes([port], workers=1)
        config["descriptors"] = [str(descriptor_set)]
        config["routes"] = [{"service": SERVICE, "cluster": "testing", "max_request_body": "1KiB"}]
        gw = JSONGateway(gateway(config), port)
        status, _, body = gw.curl(f"/{SERVICE}/Echo", data=json.dumps({"stringValue": "x" * 2000}))
        assert status == 413, body
        status, _, body = gw.curl(f"/{SERVICE}/Echo", data=json.dumps({"stringValue": "x" * 500}))
        assert status == 200, body
    finally:
        server.stop(0)


# -- streaming --------------------------------------------------------------------------------------

def ndjson(body):
    return [json.loads(line) for line in body.decode().splitlines() if line]


def test_h1_json_server_streaming(json_gateway):
    status, headers, body = json_gateway.curl("/v1/stream:server", data='{"count": 3, "text": "hi"}')
    assert status == 200, body
    assert headers["content-type"] == "application/x-ndjson"
    assert headers["transfer-encoding"] == "chunked"
    assert ndjson(body) == [{"result": {"stringValue": "hi"}},
                            {"result": {"int32Value": 1, "stringValue": "hi"}},
                            {"result": {"int32Value": 2, "stringValue": "hi"}}]


def test_h1_json_server_streaming_error_line(json_gateway):
    status, _, body = json_gateway.curl(
        "/v1/stream:server", data='{"count": 5, "failAfter": 2, "failCode": 14, "failMessage": "gone", "text": "t"}')
    assert status == 200, body
    lines = ndjson(body)
    assert len(lines) == 3
    assert lines[2] == {"error": {"code": 14, "message": "gone", "details": []}}


def test_h1_json_server_streaming_failure_before_first_message_is_plain_error(json_gateway):
    status, _, body = json_gateway.curl(
        "/v1/stream:server", data='{"count": 5, "failAfter": 0, "failCode": 7, "failMessage": "no"}')
    assert status == 403, body
    assert json.loads(body)["code"] == 7


def test_h2_json_server_streaming(json_gateway):
    status, _, body = json_gateway.curl("/v1/stream:server", data='{"count": 2, "text": "h2"}',
                                        http="--http2-prior-knowledge")
    assert status == 200, body
    assert len(ndjson(body)) == 2


def test_h1_json_client_streaming_chunked_upload(json_gateway):
    # curl -T - sends the body chunked; values newline-delimited and concatenated.
    data = '{"stringValue": "a"}\n{"stringValue": "b"}{"stringValue":"c"}  \n'
    argv = ["curl", "-sS", "--http1.1", "-T", "-", "-X", "POST", "-H", "Content-Type: application/json",
            "--max-time", str(WAIT), json_gateway.url("/v1/stream:client")]
    done = subprocess.run(argv, input=data.encode(), capture_output=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"count": 3, "strings": ["a", "b", "c"]}


def recv_until(sock, marker, data=b"", start=0):
    """Reads until `marker` appears in data[start:]; returns everything received so far."""
    while marker not in data[start:]:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; received {data!r}")
        data += chunk
    return data


def chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_h1_json_bidi_full_duplex(json_gateway):
    """Each reply arrives before the next request value is sent: full duplex over HTTP/1.1."""
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/stream:bidi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\nTE: trailers\r\n\r\n")
        received = b""
        for i in range(3):
            sock.sendall(chunk(json.dumps({"int32Value": i + 1, "stringValue": f"m{i}"}).encode() + b"\n"))
            received = recv_until(sock, f'"m{i}"'.encode(), received)
        sock.sendall(b"0\r\n\r\n")
        received = recv_until(sock, b"\r\n0\r\n", received)
        received = recv_until(sock, b"\r\n\r\n", received, start=received.index(b"\r\n0\r\n"))
        # The connection stays open for the next request.
        sock.sendall(b"GET /v1/shelves/s/books/after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"books/after" in recv_until(sock, b'after"}')
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower()
    lines = [json.loads(l) for l in body.split(b"\n") if l.startswith(b"{")]
    assert [l["result"]["stringValue"] for l in lines] == ["m0", "m1", "m2"]
    assert b"grpc-status: 0" in body


def test_h1_keep_alive_and_pipelining_in_order(json_gateway):
    req = lambda n: (f"GET /v1/shelves/s/books/{n} HTTP/1.1\r\nHost: x\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(req(1) + req(2) + req(3))
        data = recv_until(sock, b"books/3\"}")
    names = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])["name"]
             for part in data.split(b"HTTP/1.1 200 OK")[1:]]
    assert names == ["shelves/s/books/1", "shelves/s/books/2", "shelves/s/books/3"]


def test_h1_expect_100_continue(json_gateway):
    body = b'{"stringValue": "cont"}'
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        assert recv_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = recv_until(sock, b"cont\"}")
    assert b"HTTP/1.1 200" in answer


# -- strict parsing: never forwarded ----------------------------------------------------------------

SMUGGLING = {
    "cl-and-te": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "differing-cl": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "te-not-final-chunked": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    "te-not-chunked": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    "te-unsupported-coding": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    "bad-chunk-size": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
    "obs-fold": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\n{}", 400),
    "space-before-colon": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\n{}", 400),
    "bare-lf": (b"POST /v1/echo HTTP/1.1\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
    "bare-cr": (b"POST /v1/echo HTTP/1.1\r\nHost: x\rX: y\r\nContent-Length: 2\r\n\r\n{}", 400),
    "control-char-in-value": (b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\n{}", 400),
}


@pytest.mark.parametrize("request_bytes,status", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_h1_smuggling_rejected_with_close(json_gateway, request_bytes, status):
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(request_bytes + b"GET /v1/shelves/s/books/smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk_ := sock.recv(65536):
            answer += chunk_
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"connection: close" in answer.lower()
    assert answer.count(b"HTTP/1.1") == 1 and b"smuggled" not in answer


def test_h1_slow_head_gets_408(json_gateway):
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /v1/shelves/s/books/1 HTTP/1.1\r\nHost: x\r\n")  # never finished
        answer = b""
        while chunk_ := sock.recv(65536):
            answer += chunk_
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_h1_head_trickled_byte_by_byte_still_gets_408_on_time(json_gateway):
    """Slowloris: a head whose bytes keep coming, one every 100 ms, must still be complete within
    preface_timeout (2 s here) of its first byte; reads do not restart the clock."""
    head = b"GET /v1/shelves/s/books/1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        start = time.monotonic()
        sock.setblocking(False)
        answer = b""
        for byte in head:  # the client's behaviour under test: one byte per 100 ms, for 20 s
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                chunk_ = sock.recv(65536)
                answer += chunk_
                if not chunk_ or b"\r\n\r\n" in answer:
                    break
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert elapsed < 4, f"408 after {elapsed:.1f} s of trickling (preface_timeout is 2 s)"


# -- h2c upgrade --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_h1_upgrade_h2c_serves_request_as_stream_1(json_gateway, method):
    """curl --http2 on http:// offers Upgrade: h2c; the answer is 101, then the response in HTTP/2."""
    args = ["-X", "GET"] if method == "GET" else ["--data-binary", '{"stringValue": "up"}',
                                                    "-H", "Content-Type: application/json"]
    path = "/v1/shelves/a/books/b" if method == "GET" else "/v1/echo"
    done = subprocess.run(["curl", "-sS", "-v", "--http2", "--max-time", str(WAIT), *args, json_gateway.url(path)],
                          capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    assert "< HTTP/1.1 101 Switching Protocols" in done.stderr
    assert "< HTTP/2 200" in done.stderr
    expected = {"name": "shelves/a/books/b", "title": "Title of shelves/a/books/b"} if method == "GET" else {"stringValue": "up"}
    assert json.loads(done.stdout) == expected


# -- limits -----------------------------------------------------------------------------------------

LIMITS = {
    "request-line-too-long": (b"GET /v1/shelves/s/books/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header-section-too-large": (b"GET /v1/shelves/s/books/1 HTTP/1.1\r\nHost: x\r\n"
                                 + b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 1000) for i in range(70)) + b"\r\n", 431),
    "too-many-header-fields": (b"GET /v1/shelves/s/books/1 HTTP/1.1\r\nHost: x\r\n"
                               + b"".join(b"X-F%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
}


@pytest.mark.parametrize("request_bytes,status", LIMITS.values(), ids=LIMITS.keys())
def test_h1_limits_answered_with_status_and_close(json_gateway, request_bytes, status):
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk_ := sock.recv(65536):
            answer += chunk_
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"connection: close" in answer.lower()
    # and the gateway still serves
    assert json_gateway.curl("/v1/shelves/s/books/1")[0] == 200


# -- per-route output options and config errors ---------------------------------------------------

def test_h1_json_route_output_options(gateway, descriptor_set):
    server, port = transcode_server.start_server()
    try:
        config = harness.routes([port], workers=1)
        config["descriptors"] = [str(descriptor_set)]
        config["routes"] = [{"service": SERVICE, "cluster": "testing", "json_emit_defaults": True,
                             "json_enums_as_numbers": True, "json_original_names": True}]
        gw = JSONGateway(gateway(config), port)
        status, _, body = gw.curl("/v1/shelves/s/books?colorFilter=GREEN")
        assert status == 200, body
        echoed = json.loads(body)["echoed"]
        assert echoed["color_filter"] == 2             # enum as number, proto field name
        assert echoed["page_size"] == 0 and echoed["tags"] == []  # defaults emitted
        assert "pageSize" not in echoed
    finally:
        server.stop(0)


COLLIDING_PROTO = """
syntax = "proto3";
package collide.v1;
import "google/api/annotations.proto";
message Req { string name = 1; string id = 2; }
service A { rpc Get(Req) returns (Req) { option (google.api.http) = { get: "/v1/{name=things/*}" }; } }
service B { rpc Fetch(Req) returns (Req) { option (google.api.http) = { get: "/v1/{id=things/*}" }; } }
"""


def test_colliding_http_rules_are_a_config_error(tmp_path):
    (tmp_path / "collide.proto").write_text(COLLIDING_PROTO)
    includes = [f"-I{d}" for d in [tmp_path, *transcode_protos.include_dirs()[1:]]]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", *includes, "--include_imports",
                    f"--descriptor_set_out={tmp_path / 'collide.pb'}", "collide.proto"], check=True, cwd=tmp_path)
    config = harness.routes([1], workers=1)
    config["descriptors"] = ["collide.pb"]
    config["routes"] = [{"service": "collide.v1.*", "cluster": "testing"}]
    routes_file = harness.write_routes(config, tmp_path / "routes.yaml")
    done = subprocess.run([str(harness.TRESTLE_BIN), "check", "--config", str(routes_file)],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode != 0
    assert "collides" in done.stderr and "collide.v1.A/Get" in done.stderr and "collide.v1.B/Fetch" in done.stderr, done.stderr
    assert done.stderr.startswith(f"{routes_file}:"), done.stderr


def test_h2_json_client_streaming(json_gateway):
    data = b'{"stringValue": "x"}\n{"stringValue": "y"}\n'
    done = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-T", "-", "-X", "POST", "--max-time", str(WAIT),
                           json_gateway.url("/v1/stream:client")], input=data, capture_output=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"count": 2, "strings": ["x", "y"]}


def test_h1_json_client_streaming_bad_value_is_400_naming_offset(json_gateway):
    data = b'{"stringValue": "x"}\n{"int32Value": "zz"}\n'
    done = subprocess.run(["curl", "-sS", "--http1.1", "-T", "-", "-X", "POST", "--max-time", str(WAIT), "-w", "\n%{http_code}",
                           json_gateway.url("/v1/stream:client")], input=data, capture_output=True, timeout=WAIT + 5)
    body, _, code = done.stdout.rpartition(b"\n")
    assert int(code) == 400, done.stdout
    error = json.loads(body)
    # the offset counts from the start of the whole body, not of the second value
    assert error == {"code": 3, "message": 'invalid JSON at byte 36: invalid value "zz" for int32 field "int32Value"',
                     "details": []}


def test_h1_curl_keep_alive_reuses_the_connection(json_gateway):
    """Two calls in one curl run go over one kept-alive HTTP/1.1 connection."""
    done = subprocess.run(["curl", "-sS", "-v", "--http1.1", "--max-time", str(WAIT),
                           json_gateway.url("/v1/shelves/s/books/1"), json_gateway.url("/v1/shelves/s/books/2")],
                          capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"title"') == 2, done.stdout
    assert "Re-using existing connection" in done.stderr or "Reusing existing connection" in done.stderr, done.stderr


def read_to_close(sock):
    data = b""
    while chunk_ := sock.recv(65536):
        data += chunk_
    return data


def test_h1_0_request_answered_and_closed(json_gateway):
    """HTTP/1.0 without keep-alive: a Content-Length response, then the connection closes."""
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /v1/shelves/s/books/old HTTP/1.0\r\n\r\n")
        answer = read_to_close(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length:" in head.lower()
    assert json.loads(body)["name"] == "shelves/s/books/old"


def test_h1_0_server_stream_is_delimited_by_close(json_gateway):
    """HTTP/1.0 cannot take chunked: a streamed body ends when the connection closes."""
    body = b'{"count": 2, "text": "z"}'
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/stream:server HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        answer = read_to_close(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert len(ndjson(body)) == 2


def test_h1_absolute_form_target(json_gateway):
    """RFC 9112 §3.2.2: a server accepts a request-target in absolute form."""
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET http://example.test/v1/shelves/s/books/abs HTTP/1.1\r\nHost: example.test\r\n"
                     b"Connection: close\r\n\r\n")
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"name":"shelves/s/books/abs"' in answer


def test_h1_empty_server_stream_is_chunked_with_trailers(json_gateway):
    with socket.create_connection(("127.0.0.1", json_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /v1/stream:server HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n"
                     b"Content-Length: 12\r\n\r\n{\"count\": 0}")
        answer = read_to_close(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert body.startswith(b"0\r\n") and b"grpc-status: 0" in body

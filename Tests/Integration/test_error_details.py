"""Standard error details built in (README, "JSON over HTTP": Errors): a grpcio upstream that
fails with a rich google.rpc.Status (grpcio-status) carrying every message of
google/rpc/error_details.proto, behind a routes file whose descriptor set (grpc/testing/test.proto)
does not include error_details.proto. JSON clients get every detail decoded; gRPC-Web clients get
the status details as the upstream sent them."""
import json
import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, json_format
from google.rpc import error_details_pb2 as ed, status_pb2
from grpc_status import rpc_status

import grpc_web
import harness
from grpc_web import frame, h1_call, h2_call
from testing_stubs import messages_pb2, test_pb2_grpc

SVC = "/grpc.testing.TestService"

DETAILS = [
    ed.ErrorInfo(reason="QUOTA", domain="acme.example", metadata={"zone": "eu-1"}),
    ed.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000)),
    ed.DebugInfo(stack_entries=["a.py:1", "b.py:2"], detail="boom"),
    ed.QuotaFailure(violations=[ed.QuotaFailure.Violation(subject="project:1", description="daily limit")]),
    ed.PreconditionFailure(violations=[ed.PreconditionFailure.Violation(type="TOS", subject="acme", description="not accepted")]),
    ed.BadRequest(field_violations=[ed.BadRequest.FieldViolation(field="name", description="must not be empty")]),
    ed.RequestInfo(request_id="req-1", serving_data="xyz"),
    ed.ResourceInfo(resource_type="book", resource_name="shelves/1", owner="me", description="gone"),
    ed.Help(links=[ed.Help.Link(description="docs", url="https://docs.example")]),
    ed.LocalizedMessage(locale="de-DE", message="Fehler"),
    # A user type: decoded from the routes file's own descriptors.
    messages_pb2.SimpleResponse(username="alice"),
]


def rich_status():
    status = status_pb2.Status(code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message="rich failure")
    for detail in DETAILS:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status


class RichErrors(test_pb2_grpc.TestServiceServicer):
    def UnaryCall(self, request, context):
        context.abort_with_status(rpc_status.to_status(rich_status()))


def test_testing_pb_has_no_google_file(testing_pb):
    from google.protobuf import descriptor_pb2
    names = [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(testing_pb.read_bytes()).file]
    assert names and not [n for n in names if n.startswith("google/")], names


@pytest.fixture
def rich(gateway, testing_pb):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    test_pb2_grpc.add_TestServiceServicer_to_server(RichErrors(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    config = harness.routes([port], workers=1)
    config["descriptors"] = [str(testing_pb)]
    gw = gateway(config)
    yield gw
    server.stop(0).wait(5)


def expected_json():
    return json_format.MessageToDict(rich_status())


def test_h1_json_error_every_standard_detail_decoded_without_their_descriptors(rich):
    done = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\\n%{http_code}", "-H", "Content-Type: application/json",
                           "-d", "{}", f"http://127.0.0.1:{rich.port}{SVC}/UnaryCall"],
                          capture_output=True, text=True, timeout=15)
    body, _, http = done.stdout.rpartition("\n")
    assert http == "400", done.stdout
    got = json.loads(body)
    want = expected_json()
    assert got["code"] == 9 and got["message"] == "rich failure"
    assert [d["@type"] for d in got["details"]] == [d["@type"] for d in want["details"]]
    assert got["details"] == want["details"]
    assert not [d for d in got["details"] if "value" in d and len(d) == 2]  # nothing left opaque


def test_h2_json_error_details_decoded(rich):
    c = grpc_web.H2Client(rich.port)
    try:
        sid = c.start(f"{SVC}/UnaryCall", [("content-type", "application/json")])
        c.send(sid, b"{}", end=True)
        s = c.streams[sid]
        c.pump(lambda: s.ended)
    finally:
        c.close()
    assert s.headers[":status"] == "400"
    assert json.loads(s.data)["details"] == expected_json()["details"]


def _details_of(fields):
    value = fields["grpc-status-details-bin"]
    return status_pb2.Status.FromString(grpc_web.b64decode_runs(value + "=" * (-len(value) % 4)))


def test_grpc_web_error_details_pass_through(rich):
    # A trailers-only answer over HTTP/1.1 and HTTP/2: the details in the headers, as sent.
    r, body = h1_call(rich.port, f"{SVC}/UnaryCall", frame(messages_pb2.SimpleRequest().SerializeToString()))
    assert r.headers["grpc-status"] == "9" and body == b""
    assert _details_of(r.headers) == rich_status()
    s = h2_call(rich.port, f"{SVC}/UnaryCall", [frame(b"")])
    assert s.headers["grpc-status"] == "9"
    assert _details_of(s.headers) == rich_status()


def test_sonora_rich_error_code_and_message(rich):
    """sonora 0.2.3 keeps no trailing metadata on an error (its WebRpcError has code and details
    only): the details themselves are checked on the wire above."""
    import sonora.client
    from test_grpc_web import _NoRegisteredMethod
    stub = test_pb2_grpc.TestServiceStub(_NoRegisteredMethod(sonora.client.insecure_web_channel(f"http://127.0.0.1:{rich.port}")))
    with pytest.raises(grpc.RpcError) as failure:
        stub.UnaryCall(messages_pb2.SimpleRequest())
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.value.details() == "rich failure"

"""The fixtures of the JSON-transcoding tests, proven without the gateway: the descriptor set that
transcode_protos.build() makes, and every method of transcode_server.py called with grpcio."""
import os
import queue
import sys

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, empty_pb2, field_mask_pb2, json_format
from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

import harness
import transcode_protos
import transcode_server
from transcode_server import transcode_pb2 as pb, transcode_pb2_grpc as pb_grpc

TIMEOUT = 5.0
F = descriptor_pb2.FieldDescriptorProto

HTTP_RULES = {  # method: (verb, path, body, response_body, additional bindings as (verb, path, body))
    "Echo": ("post", "/v1/echo", "*", "", [("get", "/v1/echo/{string_value}", "")]),
    "GetBook": ("get", "/v1/{name=shelves/*/books/*}", "", "", []),
    "CreateBook": ("post", "/v1/shelves/{shelf}/books", "book", "", []),
    "UpdateBook": ("patch", "/v1/{book.name=shelves/*/books/*}", "book", "", []),
    "DeleteBook": ("delete", "/v1/{name=shelves/*/books/*}", "", "", []),
    "ListBooks": ("get", "/v1/shelves/{shelf}/books", "", "", []),
    "GetBookTitle": ("get", "/v1/{name=shelves/*/books/*}:title", "", "title", []),
    "GetFile": ("get", "/v1/files/{path=**}", "", "", []),
    "Custom": ("REPORT", "/v1/custom", "*", "", []),
    "ServerStream": ("post", "/v1/stream:server", "*", "", []),
    "ClientStream": ("post", "/v1/stream:client", "*", "", []),
    "Bidi": ("post", "/v1/stream:bidi", "*", "", []),
    "Fail": ("post", "/v1/fail", "*", "", []),
    "Metadata": ("post", "/v1/metadata", "*", "", []),
}


def _verb_path(rule):
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        return rule.custom.kind, rule.custom.path
    return kind, getattr(rule, kind)


@pytest.fixture(scope="module")
def descriptor_set():
    path, _ = transcode_protos.build()
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


@pytest.fixture(scope="module")
def stub():
    server, port = transcode_server.start_server()
    with harness.channel(port) as channel:
        yield pb_grpc.TranscodeServiceStub(channel)
    server.stop(grace=0).wait(5)


def _file(fds, name):
    return next(f for f in fds.file if f.name == name)


def test_descriptor_set_is_self_contained(descriptor_set):
    names = [f.name for f in descriptor_set.file]
    assert names[-1] == transcode_protos.PROTO  # imports come first
    for needed in ("google/api/annotations.proto", "google/api/http.proto", "google/protobuf/any.proto",
                   "google/protobuf/struct.proto", "google/protobuf/wrappers.proto",
                   "google/rpc/status.proto", "google/rpc/error_details.proto"):
        assert needed in names
    assert not any(f.HasField("source_code_info") for f in descriptor_set.file)


def test_build_reuses_fresh_outputs(tmp_path):
    descriptor_set, module_dir = transcode_protos.build(tmp_path)
    assert module_dir == tmp_path and descriptor_set == tmp_path / "transcode.pb"
    stubs = [tmp_path / "trestle/test/v1/transcode_pb2.py", tmp_path / "trestle/test/v1/transcode_pb2_grpc.py"]
    assert all(p.is_file() for p in stubs)
    built = descriptor_set.stat().st_mtime_ns
    transcode_protos.build(tmp_path)
    assert descriptor_set.stat().st_mtime_ns == built
    os.utime(descriptor_set, (0, 0))  # older than the .proto: rebuilt
    transcode_protos.build(tmp_path)
    assert descriptor_set.stat().st_mtime > 0


def test_descriptor_set_has_http_rules(descriptor_set):
    service = _file(descriptor_set, transcode_protos.PROTO).service[0]
    assert service.name == "TranscodeService"
    methods = {m.name: m for m in service.method}
    assert set(methods) == set(HTTP_RULES) | {"NoRule"}
    assert not methods["NoRule"].options.HasExtension(annotations_pb2.http)
    for name, (verb, path, body, response_body, bindings) in HTTP_RULES.items():
        rule = methods[name].options.Extensions[annotations_pb2.http]
        assert (_verb_path(rule), rule.body, rule.response_body) == ((verb, path), body, response_body), name
        assert [(*_verb_path(b), b.body) for b in rule.additional_bindings] == bindings, name
    streaming = {m.name: (m.client_streaming, m.server_streaming) for m in service.method}
    assert streaming["ServerStream"] == (False, True)
    assert streaming["ClientStream"] == (True, False)
    assert streaming["Bidi"] == (True, True)


def test_everything_covers_every_field_kind(descriptor_set):
    messages = {m.name: m for m in _file(descriptor_set, transcode_protos.PROTO).message_type}
    everything = messages["Everything"]
    fields = {f.name: f for f in everything.field}
    kinds = {f.type for f in everything.field}
    assert set(F.Type.values()) - kinds == {F.TYPE_GROUP}
    repeated_kinds = {f.type for f in everything.field if f.label == F.LABEL_REPEATED}
    assert set(F.Type.values()) - repeated_kinds == {F.TYPE_GROUP}  # maps give TYPE_MESSAGE
    entries = {e.name: e for e in everything.nested_type if e.options.map_entry}
    key_types = {e.field[0].type for e in entries.values()}
    assert key_types == set(F.Type.values()) - {F.TYPE_GROUP, F.TYPE_MESSAGE, F.TYPE_ENUM, F.TYPE_FLOAT,
                                                F.TYPE_DOUBLE, F.TYPE_BYTES}
    value_types = {e.field[1].type_name or e.field[1].type for e in entries.values()}
    assert {".trestle.test.v1.Nested", ".trestle.test.v1.Color", ".google.protobuf.Timestamp",
            F.TYPE_STRING, F.TYPE_INT64, F.TYPE_DOUBLE, F.TYPE_BYTES} <= value_types
    well_known = {f.type_name for f in everything.field if f.type_name.startswith(".google.protobuf.")}
    assert {".google.protobuf." + n for n in (
        "Timestamp", "Duration", "FieldMask", "Struct", "Value", "ListValue", "NullValue",
        "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value",
        "BoolValue", "StringValue", "BytesValue", "Empty", "Any")} <= well_known
    assert fields["child"].type_name == ".trestle.test.v1.Everything"
    assert everything.oneof_decl[0].name == "choice"
    real_oneof = [f.name for f in everything.field if f.HasField("oneof_index") and not f.proto3_optional]
    assert real_oneof == ["choice_string", "choice_int32", "choice_nested"]
    assert sum(f.proto3_optional for f in everything.field) == 5
    assert fields["custom_named"].json_name == "renamedField"
    assert fields["field_1_x"].json_name == "field1X"
    assert fields["uint64_value"].json_name == "uint64Value"
    assert fields["repeated_int32_unpacked"].options.packed is False


def test_sample_is_complete_and_json_round_trips():
    sample = transcode_server.sample_everything()
    def is_set(field):
        return sample.HasField(field.name) if field.has_presence else bool(getattr(sample, field.name))

    unset = [f.name for f in pb.Everything.DESCRIPTOR.fields if not is_set(f)]
    assert set(unset) == {"choice_string", "choice_int32", "null_value"}  # oneof siblings; NULL_VALUE is 0
    as_json = json_format.MessageToDict(sample)
    assert as_json["renamedField"] == "renamed" and as_json["field1X"] == 11
    assert as_json["int64Value"] == "-9223372036854775808" and as_json["bytesValue"] == "AP9hYg=="
    assert json_format.ParseDict(as_json, pb.Everything()) == sample
    assert json_format.ParseDict({"custom_named": "x", "field_1_x": 1}, pb.Everything()) == \
        pb.Everything(custom_named="x", field_1_x=1)


def test_echo_custom_and_norule_answer_the_request(stub):
    sample = transcode_server.sample_everything(depth=2)
    for method in (stub.Echo, stub.Custom, stub.NoRule):
        assert method(sample, timeout=TIMEOUT) == sample
        assert method(pb.Everything(), timeout=TIMEOUT) == pb.Everything()


def test_books(stub):
    name = "shelves/s1/books/b2"
    assert stub.GetBook(pb.GetBookRequest(name=name), timeout=TIMEOUT) == \
        pb.Book(name=name, title="Title of " + name)
    assert stub.GetBookTitle(pb.GetBookRequest(name=name), timeout=TIMEOUT).title == "Title of " + name

    created = stub.CreateBook(pb.CreateBookRequest(shelf="s1", request_id="r-1",
                                                   book=pb.Book(id="b9", title="T", year=1999)),
                              timeout=TIMEOUT)
    assert created == pb.Book(name="shelves/s1/books/b9", id="b9", title="T", year=1999, request_id="r-1")
    by_title = stub.CreateBook(pb.CreateBookRequest(shelf="s2", book=pb.Book(title="Dune")), timeout=TIMEOUT)
    assert by_title.name == "shelves/s2/books/Dune"

    updated = stub.UpdateBook(pb.UpdateBookRequest(
        book=pb.Book(name=name, title="New"),
        update_mask=field_mask_pb2.FieldMask(paths=["title", "author"])), timeout=TIMEOUT)
    assert updated == pb.Book(name=name, title="New", updated_fields=["title", "author"])

    reply, call = stub.DeleteBook.with_call(pb.DeleteBookRequest(name=name), timeout=TIMEOUT)
    assert reply == empty_pb2.Empty()
    assert ("deleted-name", name) in call.initial_metadata()

    assert stub.GetFile(pb.GetFileRequest(path="a/b/c.txt"), timeout=TIMEOUT) == \
        pb.Book(name="a/b/c.txt", title="File a/b/c.txt")


def test_list_books_echoes_every_field(stub):
    request = pb.ListBooksRequest(
        shelf="s1", page_size=3, page_token="tok", tags=["x", "y"], color_filter=pb.GREEN,
        filter=pb.ListBooksRequest.Filter(author="Le Guin", min_year=1969), include_deleted=True,
        max_id=-9007199254740993, min_rating=4.5, cursor=b"\x00\x01", colors=[pb.RED, pb.GREEN],
        updated_after=timestamp_pb2.Timestamp(seconds=10), max_age={"seconds": 60},
        min_pages=wrappers_pb2.Int32Value(value=0), optional_note="")
    reply = stub.ListBooks(request, timeout=TIMEOUT)
    assert reply.echoed == request
    assert reply.echoed.HasField("optional_note") and reply.echoed.HasField("min_pages")
    assert [b.name for b in reply.books] == [f"shelves/s1/books/{i}" for i in range(3)]
    assert reply.next_page_token == "after-tok"
    assert stub.ListBooks(pb.ListBooksRequest(shelf="s"), timeout=TIMEOUT) == \
        pb.ListBooksResponse(echoed=pb.ListBooksRequest(shelf="s"))


def test_server_stream(stub):
    replies = list(stub.ServerStream(pb.StreamRequest(count=4, text="hi"), timeout=TIMEOUT))
    assert replies == [pb.Everything(int32_value=i, string_value="hi") for i in range(4)]
    assert list(stub.ServerStream(pb.StreamRequest(count=0), timeout=TIMEOUT)) == []


@pytest.mark.parametrize("fail_after, count, expect_sent", [(2, 5, 2), (0, 5, 0), (9, 3, 3)])
def test_server_stream_failure(stub, fail_after, count, expect_sent):
    call = stub.ServerStream(pb.StreamRequest(count=count, text="t", fail_after=fail_after,
                                              fail_code=grpc.StatusCode.ABORTED.value[0],
                                              fail_message="stopped here"), timeout=TIMEOUT)
    received = []
    with pytest.raises(grpc.RpcError) as error:
        for reply in call:
            received.append(reply.int32_value)
    assert received == list(range(expect_sent))
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.ABORTED, "stopped here")


def test_client_stream(stub):
    messages = [pb.Everything(string_value=s, int32_value=i) for i, s in enumerate(["a", "", "c"])]
    assert stub.ClientStream(iter(messages), timeout=TIMEOUT) == pb.Summary(count=3, strings=["a", "", "c"])
    assert stub.ClientStream(iter([]), timeout=TIMEOUT) == pb.Summary()


def test_bidi_echoes_each_message_before_the_next_is_sent(stub):
    requests = queue.Queue()
    call = stub.Bidi(iter(requests.get, None), timeout=TIMEOUT)
    sample = transcode_server.sample_everything(depth=0)
    for i in range(3):
        message = pb.Everything(int32_value=i) if i < 2 else sample
        requests.put(message)
        assert next(call) == message  # answered while the request stream is still open
    requests.put(None)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def test_fail_plain(stub):
    with pytest.raises(grpc.RpcError) as error:
        stub.Fail(pb.FailRequest(code=5, message="no such book"), timeout=TIMEOUT)
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.NOT_FOUND, "no such book")
    assert rpc_status.from_call(error.value) is None
    assert stub.Fail(pb.FailRequest(code=0), timeout=TIMEOUT) == empty_pb2.Empty()


def test_fail_with_details(stub):
    with pytest.raises(grpc.RpcError) as error:
        stub.Fail(pb.FailRequest(code=3, message="bad name", with_details=True), timeout=TIMEOUT)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error.value)
    assert (status.code, status.message) == (3, "bad name")
    bad_request, error_info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(bad_request) and status.details[1].Unpack(error_info)
    assert bad_request == transcode_server.DEFAULT_BAD_REQUEST
    assert error_info == transcode_server.DEFAULT_ERROR_INFO
    assert status.details[1].type_url == "type.googleapis.com/google.rpc.ErrorInfo"

    custom_info = error_details_pb2.ErrorInfo(reason="MINE", domain="d", metadata={"a": "b"})
    with pytest.raises(grpc.RpcError) as error:
        stub.Fail(pb.FailRequest(code=7, message="m", with_details=True, error_info=custom_info),
                  timeout=TIMEOUT)
    status = rpc_status.from_call(error.value)
    assert status.code == 7 and status.details[1].Unpack(error_info) and error_info == custom_info


def test_fail_with_given_status(stub):
    given = status_pb2.Status(code=9, message="precondition")
    given.details.add().Pack(struct_pb2.Value(string_value="any detail"))
    with pytest.raises(grpc.RpcError) as error:
        stub.Fail(pb.FailRequest(code=2, status=given), timeout=TIMEOUT)
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "precondition")
    assert rpc_status.from_call(error.value) == given


def test_fail_delay_is_cut_by_the_deadline(stub):
    with pytest.raises(grpc.RpcError) as error:
        stub.Fail(pb.FailRequest(delay_ms=30000), timeout=0.2)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert stub.Fail(pb.FailRequest(delay_ms=1), timeout=TIMEOUT) == empty_pb2.Empty()


def test_metadata_echo(stub):
    request = pb.Everything(string_value="m", map_string_string={"keep": "me"})
    reply, call = stub.Metadata.with_call(request, timeout=TIMEOUT, metadata=[
        ("x-one", "1"), ("x-multi", "a"), ("x-multi", "b"), ("x-data-bin", b"\x00\xff"),
        ("other-bin", b"\x01"), ("plain", "p")])
    initial = list(call.initial_metadata())
    for entry in [("echo-x-one", "1"), ("echo-x-multi", "a"), ("echo-x-multi", "b"),
                  ("echo-x-data-bin", b"\x00\xff"), ("echo-other-bin", b"\x01")]:
        assert entry in initial
    assert not any(key == "echo-plain" for key, _ in initial)
    assert ("trailer-x", "yes") in call.trailing_metadata()
    assert reply.string_value == "m"
    assert reply.map_string_string["keep"] == "me"
    assert reply.map_string_string["x-one"] == "1" and reply.map_string_string["x-multi"] == "a, b"
    assert reply.map_string_string["plain"] == "p" and "user-agent" in reply.map_string_string
    assert dict(reply.map_string_bytes) == {"x-data-bin": b"\x00\xff", "other-bin": b"\x01"}


def test_server_as_a_program(request):
    process = harness.Process("transcode_server", [sys.executable, transcode_protos.HERE / "transcode_server.py",
                                                   "--port", "0"], "LISTENING ")
    request.node.processes = [process]
    try:
        port = int(process.ready_line.split()[1])
        with harness.channel(port) as channel:
            reply = pb_grpc.TranscodeServiceStub(channel).Echo(pb.Everything(string_value="up"),
                                                               timeout=TIMEOUT)
        assert reply.string_value == "up"
    finally:
        process.stop()  # SIGTERM: exits 0

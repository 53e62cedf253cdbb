"""trestle.test.v1.TranscodeService (protos/trestle/test/v1/transcode.proto) for the JSON-transcoding
tests, in-process (`server, port = start_server()`) or as a program:

    python3 transcode_server.py --port N     # 0 picks a free port; prints `LISTENING <port>`

It listens on 127.0.0.1 only and exits 0 on SIGTERM or SIGINT.

  Echo, Custom, NoRule  answer the request unchanged.
  GetBook, GetBookTitle Book{name, title: "Title of " + name}.
  CreateBook            the request's book with name "shelves/<shelf>/books/<book.id or book.title>"
                        and request_id copied from the request.
  UpdateBook            the request's book with updated_fields = update_mask.paths.
  DeleteBook            Empty, with initial metadata `deleted-name: <name>`.
  ListBooks             ListBooksResponse{echoed: the request, books: page_size (<= 100) books
                        shelves/<shelf>/books/<i>, next_page_token: "after-" + page_token if set}.
  GetFile               Book{name: path, title: "File " + path}.
  ServerStream          count messages Everything{int32_value: i, string_value: text}; with
                        fail_code != 0 it aborts (fail_code, fail_message) once fail_after messages
                        were sent (0: before the first); interval_ms pauses between messages.
  ClientStream          Summary{count, strings: string_value of each message}.
  Bidi                  each message echoed as soon as it arrives.
  Fail                  after delay_ms, aborts with (code, message); with_details (or status set)
                        adds grpc-status-details-bin: google.rpc.Status{code, message, details:
                        [BadRequest, ErrorInfo]} (or `status` as given). code 0 answers Empty.
  Metadata              the request, plus map_string_string[key] = value (map_string_bytes for -bin
                        keys) for every request metadata key; initial metadata `echo-<key>` for each
                        key that starts with `x-` or ends with `-bin`; trailer `trailer-x: yes`.
"""
import argparse
import signal
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import any_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

import transcode_protos

transcode_pb2, transcode_pb2_grpc = transcode_protos.import_stubs()

MAX_MESSAGE = 32 * 1024 * 1024
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE),
           ("grpc.max_receive_message_length", MAX_MESSAGE)]
STATUS_BY_CODE = {code.value[0]: code for code in grpc.StatusCode}
MAX_BOOKS = 100
MAX_WAIT = 60.0  # seconds any delay lasts at most

DEFAULT_BAD_REQUEST = error_details_pb2.BadRequest(field_violations=[
    error_details_pb2.BadRequest.FieldViolation(field="name", description="must not be empty")])
DEFAULT_ERROR_INFO = error_details_pb2.ErrorInfo(reason="TEST_FAILURE", domain="trestle.test",
                                                 metadata={"method": "Fail"})


def _pack(message):
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _ended_event(context):
    """An Event set when the call ends (completed, cancelled or past its deadline)."""
    ended = threading.Event()
    context.add_callback(ended.set)
    return ended


def _pause(context, ended, milliseconds):
    if milliseconds > 0:
        ended.wait(min(milliseconds / 1000.0, MAX_WAIT))
    return context.is_active()


class TranscodeService(transcode_pb2_grpc.TranscodeServiceServicer):
    def Echo(self, request, context):
        return request

    def Custom(self, request, context):
        return request

    def NoRule(self, request, context):
        return request

    def GetBook(self, request, context):
        return transcode_pb2.Book(name=request.name, title="Title of " + request.name)

    def GetBookTitle(self, request, context):
        return self.GetBook(request, context)

    def CreateBook(self, request, context):
        book = transcode_pb2.Book()
        book.CopyFrom(request.book)
        book.name = f"shelves/{request.shelf}/books/{request.book.id or request.book.title}"
        book.request_id = request.request_id
        return book

    def UpdateBook(self, request, context):
        book = transcode_pb2.Book()
        book.CopyFrom(request.book)
        book.updated_fields.extend(request.update_mask.paths)
        return book

    def DeleteBook(self, request, context):
        context.send_initial_metadata((("deleted-name", request.name),))
        return empty_pb2.Empty()

    def ListBooks(self, request, context):
        count = max(0, min(request.page_size, MAX_BOOKS))
        return transcode_pb2.ListBooksResponse(
            echoed=request,
            books=[transcode_pb2.Book(name=f"shelves/{request.shelf}/books/{i}", title=f"Book {i}")
                   for i in range(count)],
            next_page_token=("after-" + request.page_token) if request.page_token else "")

    def GetFile(self, request, context):
        return transcode_pb2.Book(name=request.path, title="File " + request.path)

    def ServerStream(self, request, context):
        ended = _ended_event(context)
        failing = request.fail_code != 0
        if failing and request.fail_code not in STATUS_BY_CODE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"fail_code {request.fail_code} is not 1..16")
        for i in range(request.count):
            if failing and i == request.fail_after:
                break
            if i > 0 and not _pause(context, ended, request.interval_ms):
                return
            yield transcode_pb2.Everything(int32_value=i, string_value=request.text)
        if failing:
            context.abort(STATUS_BY_CODE[request.fail_code], request.fail_message)

    def ClientStream(self, request_iterator, context):
        summary = transcode_pb2.Summary()
        for message in request_iterator:
            summary.count += 1
            summary.strings.append(message.string_value)
        return summary

    def Bidi(self, request_iterator, context):
        for message in request_iterator:
            yield message

    def Fail(self, request, context):
        if not _pause(context, _ended_event(context), request.delay_ms):
            return empty_pb2.Empty()
        if request.HasField("status"):
            status = request.status
        elif request.with_details:
            error_info = request.error_info if request.HasField("error_info") else DEFAULT_ERROR_INFO
            status = status_pb2.Status(code=request.code, message=request.message,
                                       details=[_pack(DEFAULT_BAD_REQUEST), _pack(error_info)])
        else:
            status = None
        code = status.code if status is not None else request.code
        if code == 0:
            return empty_pb2.Empty()
        if code not in STATUS_BY_CODE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"code {code} is not 0..16")
        if status is None:
            context.abort(STATUS_BY_CODE[code], request.message)
        context.abort_with_status(rpc_status.to_status(status))

    def Metadata(self, request, context):
        reply = transcode_pb2.Everything()
        reply.CopyFrom(request)
        echoed = []
        seen = {}
        for key, value in context.invocation_metadata():
            if key.endswith("-bin"):
                reply.map_string_bytes[key] = value
            else:
                seen.setdefault(key, []).append(value)
            if key.startswith("x-") or key.endswith("-bin"):
                echoed.append(("echo-" + key, value))
        for key, values in seen.items():
            reply.map_string_string[key] = ", ".join(values)
        context.send_initial_metadata(echoed)
        context.set_trailing_metadata((("trailer-x", "yes"),))
        return reply


def sample_everything(depth=1):
    """An Everything with every field set (the oneof: choice_nested), nested `depth` levels deep
    through `child` and `children`; values that need care in JSON (64-bit extremes, NaN-free
    floats exact in float32, non-ASCII text, bytes that need base64 padding)."""
    from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
    pb = transcode_pb2
    nested = pb.Nested(name="nested", value=7, color=pb.GREEN, tags=["a", "b"])
    message = pb.Everything(
        double_value=1.5, float_value=0.25, int32_value=-2147483648, int64_value=-9223372036854775808,
        uint32_value=4294967295, uint64_value=18446744073709551615, sint32_value=-5,
        sint64_value=-9007199254740993, fixed32_value=4000000000, fixed64_value=9007199254740993,
        sfixed32_value=-123, sfixed64_value=-1234567890123, bool_value=True,
        string_value="h\u00e9llo \u2603 \"q\" \\ \n", bytes_value=b"\x00\xffab",
        color=pb.RED, nested=nested,
        repeated_int32=[1, -1, 2147483647], repeated_int64=[1, -9223372036854775808],
        repeated_uint32=[0, 4294967295], repeated_uint64=[0, 18446744073709551615],
        repeated_sint32=[-1, 1], repeated_sint64=[-2, 2], repeated_fixed32=[3, 4],
        repeated_fixed64=[5, 6], repeated_sfixed32=[-7, 7], repeated_sfixed64=[-8, 8],
        repeated_float=[0.5, -1.0], repeated_double=[1e100, -0.125], repeated_bool=[True, False],
        repeated_string=["x", "", "z"], repeated_bytes=[b"", b"\x01"], repeated_color=[pb.RED, pb.GREEN],
        repeated_nested=[pb.Nested(name="r0"), pb.Nested(name="r1", value=1)],
        repeated_int32_unpacked=[10, 20, 30],
        map_int32_string={-1: "m1", 2: "two"}, map_int64_string={-9223372036854775808: "min"},
        map_uint32_string={4294967295: "max"}, map_uint64_string={18446744073709551615: "max"},
        map_sint32_string={-3: "s"}, map_sint64_string={-4: "s"}, map_fixed32_string={5: "f"},
        map_fixed64_string={6: "f"}, map_sfixed32_string={-7: "sf"}, map_sfixed64_string={-8: "sf"},
        map_bool_string={True: "yes", False: "no"}, map_string_string={"k": "v", "": "empty key"},
        map_string_nested={"n": pb.Nested(name="in map", value=3)},
        map_string_color={"c": pb.GREEN, "zero": pb.COLOR_UNSPECIFIED},
        map_string_int64={"big": 9223372036854775807}, map_string_double={"half": 0.5},
        map_string_bytes={"b": b"\xfe"},
        map_string_timestamp={"epoch": timestamp_pb2.Timestamp(seconds=0)},
        choice_nested=pb.Nested(name="chosen"),
        optional_int32=0, optional_int64=0, optional_string="", optional_bool=False,
        optional_color=pb.COLOR_UNSPECIFIED,
        custom_named="renamed", field_1_x=11,
        timestamp=timestamp_pb2.Timestamp(seconds=1700000000, nanos=123000000),
        duration=duration_pb2.Duration(seconds=-3, nanos=-500000000),
        field_mask=field_mask_pb2.FieldMask(paths=["string_value", "nested.name"]),
        null_value=struct_pb2.NULL_VALUE,
        double_wrapper=wrappers_pb2.DoubleValue(value=2.5),
        float_wrapper=wrappers_pb2.FloatValue(value=0.75),
        int64_wrapper=wrappers_pb2.Int64Value(value=-9223372036854775808),
        uint64_wrapper=wrappers_pb2.UInt64Value(value=18446744073709551615),
        int32_wrapper=wrappers_pb2.Int32Value(value=0),
        uint32_wrapper=wrappers_pb2.UInt32Value(value=4294967295),
        bool_wrapper=wrappers_pb2.BoolValue(value=False),
        string_wrapper=wrappers_pb2.StringValue(value=""),
        bytes_wrapper=wrappers_pb2.BytesValue(value=b"wrapped"),
        empty=empty_pb2.Empty(),
        any=_pack(nested),
        repeated_any=[_pack(timestamp_pb2.Timestamp(seconds=1)), _pack(wrappers_pb2.Int32Value(value=5)),
                      _pack(struct_pb2.Value(string_value="v"))],
        repeated_timestamp=[timestamp_pb2.Timestamp(seconds=1), timestamp_pb2.Timestamp(seconds=2)],
    )
    message.struct_value.update({"s": "x", "n": 1.5, "b": True, "z": None, "l": [1, "two"], "o": {"k": "v"}})
    message.value.struct_value.update({"deep": [None, False]})
    message.list_value.extend([1, "a", None, True, {"k": []}])
    message.repeated_value.add().null_value = struct_pb2.NULL_VALUE
    message.repeated_value.add().number_value = 3.0
    if depth > 0:
        message.child.CopyFrom(sample_everything(depth - 1))
        message.children.add(string_value="first child")
        message.children.add(int32_value=2)
    return message


def start_server(port=0, max_workers=32, compression=None):
    """Starts the service on 127.0.0.1:port (0: a free one); returns (server, port). `compression`
    (grpc.Compression.Gzip, …) makes it compress every reply."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=OPTIONS,
                         compression=compression)
    transcode_pb2_grpc.add_TranscodeServiceServicer_to_server(TranscodeService(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot listen on 127.0.0.1:{port}")
    server.start()
    return server, bound


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server, port = start_server(args.port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"LISTENING {port}", flush=True)
    # Wake up regularly: the signal handler runs on the main thread between waits (an untimed
    # wait was seen not to return within 15 s of SIGTERM on a loaded machine).
    while not stop.wait(0.2):
        pass
    server.stop(grace=1).wait(5)


if __name__ == "__main__":
    sys.exit(main())

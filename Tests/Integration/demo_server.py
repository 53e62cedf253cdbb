"""trestle.demo.v1.Echo (routes/demo.proto) served by grpcio, for tests that need the demo methods
behind `trestle serve` rather than the gateway's built-in demo service in the same process (where
the gateway's memory and the service's cannot be told apart, and the service's own flow control is
part of what is measured).

    upstream = DemoUpstream()      # 127.0.0.1, a free port: .port, .stop()
    upstream.calls                 # how many calls have reached a handler
    upstream.responses_yielded     # Expand replies handed to grpcio so far

The messages are built from routes/demo.pb (no generated code). What it serves, as the built-in
demo service does (demo.proto):
  Echo    EchoResponse{message, payload}: the request's payload, or `response_size` bytes "x".
  Expand  `count` replies EchoResponse{message, payload as Echo's, index: i}; grpcio pulls the
          next reply only once the previous one is sent, so a stalled stream stalls the generator.
"""
import threading
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "routes" / "demo.pb"
SERVICE = "trestle.demo.v1.Echo"
MAX_MESSAGE = 64 * 1024 * 1024


def _message_classes():
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:  # dependencies come first in a set built with --include_imports
        pool.Add(file)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"trestle.demo.v1.{name}"))
                 for name in ("EchoRequest", "EchoResponse"))


EchoRequest, EchoResponse = _message_classes()


class DemoUpstream:
    def __init__(self):
        self._lock = threading.Lock()
        self.calls = 0
        self.responses_yielded = 0
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(
                self._echo, request_deserializer=EchoRequest.FromString,
                response_serializer=EchoResponse.SerializeToString),
            "Expand": grpc.unary_stream_rpc_method_handler(
                self._expand, request_deserializer=EchoRequest.FromString,
                response_serializer=EchoResponse.SerializeToString),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[
            ("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)])
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self):
        self.server.stop(grace=0).wait(10)

    def _arrived(self):
        with self._lock:
            self.calls += 1

    @staticmethod
    def _payload(request):
        return b"x" * request.response_size if request.response_size > 0 else request.payload

    def _echo(self, request, context):
        self._arrived()
        return EchoResponse(message=request.message, payload=self._payload(request))

    def _expand(self, request, context):
        self._arrived()
        payload = self._payload(request)
        for i in range(request.count):
            if not context.is_active():
                return
            self.responses_yielded += 1  # one writer: the handler thread
            yield EchoResponse(message=request.message, payload=payload, index=i)

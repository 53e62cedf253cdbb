"""Idle HTTP/2 client connections (idle_timeout): closed with GOAWAY when no stream is open, never
while a stream is, however quiet it is."""
import queue
import socket
import time

import h2.config
import h2.connection
import h2.events

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 5


def test_h2_connection_without_streams_gets_goaway_after_idle_timeout(upstream, gateway):
    up = upstream()
    config = harness.routes([up.port], workers=1)
    config["idle_timeout"] = "1s"
    gw = gateway(config)
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    client.initiate_connection()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
        sock.sendall(client.data_to_send())
        start = time.monotonic()
        goaway, closed = None, False
        while not closed:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            for event in client.receive_data(chunk):
                if isinstance(event, h2.events.ConnectionTerminated):
                    goaway = event
            sock.sendall(client.data_to_send())
        elapsed = time.monotonic() - start
    assert goaway is not None and goaway.error_code == 0, "no GOAWAY(NO_ERROR) before the close"
    assert 0.9 <= elapsed < 3, f"closed after {elapsed:.2f} s with idle_timeout 1s"


def test_h2_grpc_quiet_bidi_stream_outlives_idle_timeout(upstream, gateway):
    """A stream that is open keeps its connection: quiet for twice the idle timeout, then it still
    carries messages both ways."""
    up = upstream()
    config = harness.routes([up.port], workers=1)
    config["idle_timeout"] = "1s"
    gw = gateway(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        requests = queue.Queue()
        call = stub.FullDuplexCall(iter(requests.get, None), timeout=30)
        requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"one")))
        assert next(call).payload.body == b"one"
        time.sleep(2.0)  # the behaviour under test: a stream quiet for twice idle_timeout
        requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"two")))
        assert next(call).payload.body == b"two"
        requests.put(None)
        assert list(call) == []

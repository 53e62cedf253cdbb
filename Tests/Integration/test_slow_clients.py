"""Clients that never finish their preface are closed; they do not hold the gateway up."""
import socket
import time

import pytest

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

PREFACE_TIMEOUT = 0.3  # seconds, as set in the routes file below
WAIT = 5


@pytest.mark.parametrize("partial", [b"", b"PRI * HTTP/2.0\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n"])
def test_h2_incomplete_preface_is_closed_after_preface_timeout(upstream, gateway, partial):
    up = upstream()
    config = harness.routes([up.port], workers=1)
    config["preface_timeout"] = f"{int(PREFACE_TIMEOUT * 1000)}ms"
    gw = gateway(config)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as slow:
        slow.sendall(partial)
        started = time.monotonic()
        # Other clients are served while the slow one waits.
        with harness.channel(gw.port) as ch:
            reply = test_pb2_grpc.TestServiceStub(ch).UnaryCall(
                messages_pb2.SimpleRequest(response_size=3), timeout=WAIT)
            assert len(reply.payload.body) == 3
        assert slow.recv(1024) == b"", "the gateway sent bytes to a client that never sent a preface"
        elapsed = time.monotonic() - started
    assert PREFACE_TIMEOUT * 0.8 <= elapsed < PREFACE_TIMEOUT + 2, f"closed after {elapsed:.2f}s"

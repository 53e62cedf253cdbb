"""Upstream pools under pressure: the bounded queue, an upstream going away gracefully, a storm of
cancellations, and many client connections over several workers."""
import queue
import socket
import threading
import time

import grpc
import pytest

import harness
from interop_server import digest, pattern
from testing_stubs import messages_pb2, test_pb2_grpc

KiB = 1 << 10
MiB = 1 << 20
WAIT = 5  # seconds to wait for an event that should happen at once
HOLD = [("x-test-hold", "1")]


def simple(size):
    return messages_pb2.SimpleRequest(response_size=size, payload=messages_pb2.Payload(body=pattern(size)))


def wait_until(predicate, what, timeout=WAIT):
    """Polls `predicate` (an observation of another thread's progress) for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        threading.Event().wait(0.002)


def test_h2_grpc_unary_queue_full_resource_exhausted(upstream, gateway):
    """One connection with room for one stream and a queue of two: a call held at the upstream, two
    calls waiting in the queue, and the next call fails at once with RESOURCE_EXHAUSTED; the others
    all complete once the first is released."""
    up = upstream()
    gw = gateway(harness.routes([up.port], workers=1, max_connections=1, max_streams_per_connection=1,
                                max_pending=2))
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        held = up.service.record("held")
        first = stub.UnaryCall.future(simple(11), metadata=[("x-test-id", "held"), *HOLD], timeout=20)
        assert held.arrived.wait(WAIT), "the first call never reached the upstream"
        # Same channel, same connection: the gateway sees these HEADERS in this order, after the first.
        queued = [stub.UnaryCall.future(simple(12 + i), metadata=[("x-test-id", f"queued-{i}")], timeout=20)
                  for i in range(2)]
        code, details, seconds = harness.status_of(lambda: stub.UnaryCall(simple(1), timeout=WAIT))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
        assert details, "RESOURCE_EXHAUSTED without a message"
        assert seconds < 2, f"the call was refused only after {seconds:.1f}s"
        assert [rec.method for rec in up.service.calls] == ["UnaryCall"], "a queued call reached the upstream"
        assert not any(f.done() for f in queued), "a queued call ended while the first was held"
        held.release.set()
        assert first.result(timeout=WAIT).payload.body == pattern(11)
        for i, future in enumerate(queued):
            assert future.result(timeout=WAIT).payload.body == pattern(12 + i), f"queued call #{i}"
    assert len(up.service.calls) == 3


@pytest.mark.parametrize("endpoints", [2, 1], ids=["other-endpoint", "only-endpoint"])
def test_h2_grpc_bidi_upstream_goaway(upstream, gateway, endpoints):
    """An upstream stopped gracefully (grpcio sends GOAWAY and closes its listener) while a bidi
    stream is in flight on it: the stream goes on and ends OK; new calls open no stream on that
    connection: they go to the other endpoint, or, when it was the only one, fail with UNAVAILABLE
    (its port now refuses connections)."""
    servers = [upstream() for _ in range(endpoints)]
    gw = gateway(harness.routes([s.port for s in servers], workers=1))
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        requests = queue.Queue()

        def exchange(body):
            requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=body)))
            return next(call).payload.body

        call = stub.FullDuplexCall(iter(requests.get, None), metadata=[("x-test-id", "in-flight")],
                                   timeout=20)
        assert exchange(b"before") == b"before"
        stopping = next(s for s in servers if s.service.record("in-flight").arrived.is_set())
        others = [s for s in servers if s is not stopping]
        stopped = stopping.server.stop(grace=15)
        # grpcio closes its listener asynchronously after stop(): observe it (bounded).
        assert harness.wait_refused(stopping.port, WAIT), "the stopped upstream still accepts connections"
        # The upstream wrote this echo after its GOAWAY, on the same connection: once it is back,
        # the gateway has processed the GOAWAY.
        assert exchange(b"after the goaway") == b"after the goaway"

        calls_before = len(stopping.service.calls)
        for i in range(10):
            if others:
                response = stub.UnaryCall(simple(100 + i), timeout=WAIT)
                assert response.payload.body == pattern(100 + i)
            else:
                code, details, seconds = harness.status_of(lambda: stub.UnaryCall(simple(1), timeout=WAIT))
                assert code == grpc.StatusCode.UNAVAILABLE, details
                assert f"127.0.0.1:{stopping.port}" in details, details
                assert seconds < 3
        assert len(stopping.service.calls) == calls_before, "a call was sent to the upstream after its GOAWAY"
        if others:
            assert len(others[0].service.calls) == 10

        assert exchange(b"still open") == b"still open"
        requests.put(None)
        assert list(call) == []
        assert call.code() == grpc.StatusCode.OK
    assert stopped.wait(WAIT), "the stopped upstream still had a call after the bidi stream ended"


def test_h2_grpc_cancellation_storm(upstream, gateway):
    """200 calls cancelled in every state (before reaching the upstream, held there, with request
    bytes queued in the gateway, with response bytes queued in the gateway), interleaved with 200
    normal unary calls on the same channel: the normal calls all succeed, every cancelled call that
    reached the upstream is reset there, and the gateway still serves afterwards.

    The bytes left in the gateway by the cancelled streams, never taken by the other side, add up
    to more than a connection window (16 MiB) on each hop: they must be given back to the
    connection windows when the streams close, else both connections stall."""
    # No BDP probing upstream: its stream windows stay at 64 KiB, so a request it does not read
    # stays queued in the gateway (up to a stream window) instead of in grpcio's buffers.
    up = upstream(options=[("grpc.http2.bdp_probe", 0)])
    gw = gateway(harness.routes([up.port], workers=1))
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        normal, victims = [], []
        for i in range(200):
            call_id = f"victim-{i}"
            record = up.service.record(call_id)
            metadata = [("x-test-id", call_id), *HOLD]
            kind = i % 4
            if kind == 0:  # cancelled at once: before or after it reaches the gateway or the upstream
                victim = stub.UnaryCall.future(simple(1), metadata=metadata, timeout=30)
            elif kind == 1:  # cancelled while the upstream holds it
                victim = stub.UnaryCall.future(simple(1), metadata=metadata, timeout=30)
                assert record.arrived.wait(WAIT), f"{call_id} never reached the upstream"
            elif kind == 2:  # cancelled with ~700 KiB of request in the gateway (the upstream reads none)
                sent = []

                def upload(sent=sent):
                    for _ in range(3):
                        sent.append(1)
                        yield messages_pb2.StreamingInputCallRequest(
                            payload=messages_pb2.Payload(body=pattern(768 * KiB)))

                victim = stub.StreamingInputCall.future(upload(), metadata=metadata, timeout=30)
                # The second message is pulled once the first has been sent.
                wait_until(lambda: len(sent) >= 2, f"{call_id}: the first request message was not sent "
                                                    "(a connection window stalled?)")
            else:  # cancelled with up to 1 MiB of response bytes in the gateway (the client reads none)
                # More than the few MiB the windows let through (test_flow_control.py): the
                # upstream is still sending when the call is cancelled.
                victim = stub.StreamingOutputCall(messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=MiB)] * 32),
                    metadata=[("x-test-id", call_id)], timeout=30)
                # The second response is produced once the first has been sent.
                wait_until(lambda: record.responses_yielded >= 2,
                           f"{call_id}: no response was sent (a connection window stalled?)")
            normal.append(stub.UnaryCall.future(simple(16 * KiB), metadata=[("x-test-id", f"normal-{i}")],
                                                timeout=20))
            assert victim.cancel(), f"{call_id} had already ended"
            victims.append(record)

        for i, future in enumerate(normal):
            assert future.result(timeout=30).payload.body == pattern(16 * KiB), f"normal call #{i}"
            assert up.service.record(f"normal-{i}").request_digests == [digest(pattern(16 * KiB))]
        for i, record in enumerate(victims):
            if record.arrived.is_set():
                assert record.cancelled.wait(WAIT), f"victim-{i} was not reset at the upstream"
        assert gw.proc.poll() is None, "the gateway died"
        response = stub.UnaryCall(simple(MiB), timeout=WAIT)
        assert response.payload.body == pattern(MiB)
    with harness.channel(gw.port) as ch:
        response = test_pb2_grpc.TestServiceStub(ch).UnaryCall(simple(MiB), timeout=WAIT)
        assert response.payload.body == pattern(MiB)


def test_h2_grpc_unary_many_connections_two_workers(upstream, gateway):
    """8 client connections (separate channels) over 2 workers, 50 unary calls each, all 400 open
    at once (each waits at the upstream until all have arrived): every call succeeds, intact."""
    channels, per_channel = 8, 50
    up = upstream()
    up.service.gate = threading.Barrier(channels * per_channel, timeout=15)
    gw = gateway(harness.routes([up.port], workers=2))
    opened = [harness.channel(gw.port) for _ in range(channels)]
    try:
        futures = []
        for c, ch in enumerate(opened):
            stub = test_pb2_grpc.TestServiceStub(ch)
            for i in range(per_channel):
                size = 1000 * c + i
                futures.append((size, stub.UnaryCall.future(simple(size), metadata=[("x-test-gate", "1")],
                                                            timeout=30)))
        failures = [f.exception() for _, f in futures if f.exception() is not None]
        assert not failures, f"{len(failures)} calls failed, e.g. {failures[0]}"
        wrong = [size for size, f in futures if f.result().payload.body != pattern(size)]
        assert wrong == [], f"{len(wrong)} responses came back wrong"
    finally:
        for ch in opened:
            ch.close()
    assert len(up.service.calls) == channels * per_channel

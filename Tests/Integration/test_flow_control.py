"""End-to-end back-pressure through the gateway: a side that does not read stalls the writer on the
other side within a few windows, the gateway's memory stays flat meanwhile, and one stalled stream
does not hold up the others on the same connections."""
import time

import grpc
import pytest

import harness
from interop_server import digest, pattern
from testing_stubs import messages_pb2

MiB = 1 << 20
WAIT = 5  # seconds to wait for an event that should happen at once
HOLD = [("x-test-hold", "1")]

# A stalled stream lets through what the windows and buffers along its path hold, then stops:
#   grpcio on the sending side: the message being sent and the next one already pulled (2 MiB);
#   the gateway: one stream window per hop (`stream_window`, 1 MiB by default) for this stream;
#   grpcio on the receiving side: its own stream window while nothing reads (64 KiB initially,
#   grown to a few MiB at most by its BDP probing).
# Measured on the 2-core machine: 5 MiB of 1 MiB messages through the gateway, 4-8 MiB straight to
# the upstream. 16 MiB leaves room for a busy CI machine and is still a quarter of the 64 MiB (or
# all 256 MiB) that a gateway buffering whole streams would let the sender push.
STALL_BOUND_MIB = 16
# Resident memory allowed to the gateway while a stream is stalled with a window's worth of bytes
# in it: the process itself plus a few MiB, nowhere near the data the sender wants to push.
GATEWAY_RSS_CAP_MIB = 64

# A progress counter observed until it stops moving (harness.STALL_QUIET, harness.STALL_LIMIT).
stalled_at = harness.stalled_at


class Pulled:
    """Counts the messages grpcio has pulled from a request generator (thread-safe enough: one
    writer, the grpcio thread that consumes the generator)."""

    def __init__(self):
        self.count = 0

    def requests(self, bodies):
        for body in bodies:
            self.count += 1
            yield messages_pb2.StreamingInputCallRequest(payload=messages_pb2.Payload(body=body))


def numbered(count, size=MiB):
    """`count` distinct bodies of `size` bytes, so that lost or reordered messages are noticed."""
    base = pattern(size)
    return [i.to_bytes(4, "big") + base[4:] for i in range(count)]


def assert_gateway_memory_flat(gateway, when, peak=False):
    """The gateway's resident memory now (VmRSS), or its peak so far (VmHWM), is under the cap."""
    mib = (gateway.vm_hwm_kib() if peak else gateway.vm_rss_kib()) / 1024
    assert mib < GATEWAY_RSS_CAP_MIB, f"gateway {'peak ' if peak else ''}RSS {mib:.1f} MiB {when}"


def start_stalled_upload(relay, call_id, count):
    """A StreamingInputCall of `count` 1 MiB messages into an upstream handler that does not read
    them (x-test-hold): returns (future, record, pulled, bodies) once the client is stalled."""
    bodies = numbered(count)
    pulled = Pulled()
    record = relay.service.record(call_id)
    future = relay.stub.StreamingInputCall.future(
        pulled.requests(bodies), metadata=[("x-test-id", call_id), *HOLD], timeout=60)
    assert record.arrived.wait(WAIT), "the call never reached the upstream"
    stalled = stalled_at(lambda: pulled.count, ceiling=STALL_BOUND_MIB)
    assert 1 <= stalled <= STALL_BOUND_MIB, (
        f"the client pulled {stalled} MiB of {count} MiB while the upstream read nothing")
    assert not future.done(), f"the call ended while the upstream held it: {future.exception()}"
    return future, record, pulled, bodies


def start_stalled_download(relay, call_id, sizes):
    """A StreamingOutputCall of `sizes` that the client does not read: returns (call, record) once
    the upstream's generator is stalled."""
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
    record = relay.service.record(call_id)
    call = relay.stub.StreamingOutputCall(request, metadata=[("x-test-id", call_id)], timeout=60)
    assert record.arrived.wait(WAIT), "the call never reached the upstream"
    stalled = stalled_at(lambda: record.responses_yielded, ceiling=STALL_BOUND_MIB)
    assert 1 <= stalled <= STALL_BOUND_MIB, (
        f"the upstream produced {stalled} of {len(sizes)} 1 MiB responses while the client read none")
    return call, record


def read_all(call, sizes):
    """Reads every response and checks each one's size and bytes, in order."""
    wrong, received = [], 0
    for i, response in enumerate(call):
        received += 1
        if i >= len(sizes) or response.payload.body != pattern(sizes[i]):
            wrong.append(i)
    assert call.code() == grpc.StatusCode.OK, call.details()
    assert received == len(sizes)
    assert wrong == [], f"{len(wrong)} responses came back wrong, the first #{wrong[0]}"


@pytest.mark.rss
def test_h2_grpc_client_streaming_backpressure(relay):
    """Client -> upstream: while the upstream handler reads nothing, the client is stalled after a
    few windows; the gateway does not buffer the rest; once the upstream reads, everything arrives."""
    count = 64
    future, record, pulled, bodies = start_stalled_upload(relay, "upload", count)
    assert_gateway_memory_flat(relay.gateway, f"with the upload stalled at {pulled.count} MiB")
    record.release.set()
    assert future.result(timeout=30).aggregated_payload_size == count * MiB
    assert pulled.count == count
    assert record.request_digests == [digest(b) for b in bodies]
    assert_gateway_memory_flat(relay.gateway, "during the upload", peak=True)


@pytest.mark.rss
def test_h2_grpc_server_streaming_backpressure(relay):
    """Upstream -> client: while the client reads nothing, the upstream's generator is stalled after
    a few windows; then the client reads all 256 responses, intact and in order."""
    sizes = [MiB + i for i in range(256)]  # distinct sizes: a lost or reordered message is noticed
    call, record = start_stalled_download(relay, "download", sizes)
    assert_gateway_memory_flat(relay.gateway, f"with the download stalled at {record.responses_yielded} MiB")
    read_all(call, sizes)
    assert record.responses_yielded == len(sizes)
    assert_gateway_memory_flat(relay.gateway, "during the download", peak=True)


@pytest.mark.parametrize("slow", ["client-reader", "upstream-reader"])
def test_h2_grpc_unary_not_stalled_by_slow_stream(relay, slow):
    """A stream stalled by a slow reader (the client not reading a server stream, or the upstream not
    reading a client stream) holds only its own stream window: unary calls on the same client
    connection, and the same upstream connection, still complete at once, with bytes both ways."""
    if slow == "client-reader":
        sizes = [MiB] * 64
        call, record = start_stalled_download(relay, "stalled", sizes)
        progress = lambda: record.responses_yielded  # noqa: E731
    else:
        future, record, pulled, bodies = start_stalled_upload(relay, "stalled", 64)
        progress = lambda: pulled.count  # noqa: E731
    for i in range(5):
        start = time.monotonic()
        response = relay.stub.UnaryCall(
            messages_pb2.SimpleRequest(response_size=MiB, payload=messages_pb2.Payload(body=pattern(MiB))),
            metadata=[("x-test-id", f"unary-{i}")], timeout=WAIT)
        seconds = time.monotonic() - start
        assert response.payload.body == pattern(MiB)
        assert relay.service.record(f"unary-{i}").request_digests == [digest(pattern(MiB))]
        assert seconds < 2, f"unary call #{i} took {seconds:.2f}s next to the stalled stream"
    # Still stalled (its windows may have grown a little with grpcio's BDP probing): the unary calls
    # went through next to a stream that was holding its windows, which is what this checks.
    assert progress() <= STALL_BOUND_MIB, f"the stalled stream is at {progress()} MiB: it was not stalled"
    if slow == "client-reader":
        read_all(call, sizes)
    else:
        record.release.set()
        assert future.result(timeout=30).aggregated_payload_size == 64 * MiB

"""Load through the gateway: connection pooling, constant memory, and a raw h2 load generator."""
import math
import re
import subprocess
import threading

import grpc

import harness
from interop_server import pattern
from testing_stubs import empty_pb2, messages_pb2, test_pb2_grpc

MiB = 1 << 20

# Peak RSS (VmHWM) allowed to the gateway while it relays a 256 MiB bidi stream. Relaying is meant
# to take constant memory (flow-control windows, not whole streams), so the bound is far below the
# data size: the process itself plus a few 1 MiB messages in flight on each side.
GATEWAY_PEAK_RSS_CAP_MIB = 64


def test_h2_grpc_unary_300_concurrent_pooling(upstream, gateway):
    """300 calls open at once from one channel, 100 streams per upstream connection: the gateway
    opens more connections (all 300 reach the upstream together), but no more than needed."""
    calls, streams_per_connection = 300, 100
    up = upstream()
    up.service.gate = threading.Barrier(calls, timeout=10)  # each call waits until all have arrived
    config = harness.routes([up.port], workers=1, max_streams_per_connection=streams_per_connection)
    config["max_concurrent_streams"] = calls  # all 300 on the client's one connection (default 100)
    gw = gateway(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        futures = [stub.EmptyCall.future(empty_pb2.Empty(), metadata=[("x-test-gate", "1")], timeout=20)
                   for _ in range(calls)]
        failures = [f.exception() for f in futures if f.exception() is not None]
    assert not failures, f"{len(failures)} calls failed, e.g. {failures[0]}"
    peers = up.service.peers()
    # At most 100 streams on each, all 300 open at once: exactly 3 connections.
    expected = math.ceil(calls / streams_per_connection)
    assert len(peers) == expected, f"upstream connections: {sorted(peers)}"


def test_h2_grpc_bidi_256mib_bounded_memory(upstream, gateway):
    """256 echoed 1 MiB messages, the client sending while it receives; the gateway's peak RSS
    stays under GATEWAY_PEAK_RSS_CAP_MIB."""
    count, base = 256, pattern(MiB)

    def body(i):
        return i.to_bytes(4, "big") + base[4:]

    def requests():
        for i in range(count):
            yield messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=body(i)))

    up = upstream()
    gw = gateway(harness.routes([up.port]))
    with harness.channel(gw.port) as ch:
        call = test_pb2_grpc.TestServiceStub(ch).FullDuplexCall(requests(), timeout=90)
        received, wrong = 0, []
        for i, response in enumerate(call):
            received += 1
            if response.payload.body != body(i):
                wrong.append(i)
    assert call.code() == grpc.StatusCode.OK, call.details()
    assert wrong == [], f"{len(wrong)} messages came back different, the first #{wrong[:1]}"
    assert received == count
    peak_mib = gw.vm_hwm_kib() / 1024
    assert peak_mib < GATEWAY_PEAK_RSS_CAP_MIB, f"gateway peak RSS {peak_mib:.1f} MiB"


def framed(message):
    data = message.SerializeToString()
    return b"\x00" + len(data).to_bytes(4, "big") + data


def test_h2_grpc_unary_h2load(relay, tmp_path):
    """nghttp2's own clients as raw h2 peers: one call whose trailers nghttp shows, then h2load."""
    request = tmp_path / "request.bin"
    request.write_bytes(framed(messages_pb2.SimpleRequest(response_size=16, payload=messages_pb2.Payload(
        body=pattern(32)))))
    url = f"http://127.0.0.1:{relay.gateway.port}/grpc.testing.TestService/UnaryCall"
    headers = ["-H", "content-type: application/grpc", "-H", "te: trailers"]

    one = subprocess.run(["nghttp", "-v", "-d", request, *headers, url],
                         capture_output=True, text=True, timeout=30)
    assert one.returncode == 0, one.stdout + one.stderr
    assert re.search(r"recv \(stream_id=\d+\) :status: 200$", one.stdout, re.M), one.stdout
    assert re.search(r"recv \(stream_id=\d+\) grpc-status: 0$", one.stdout, re.M), one.stdout

    load = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "10", "-d", request, *headers, url],
                          capture_output=True, text=True, timeout=60)
    summary = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                        r"(\d+) failed, (\d+) errored", load.stdout)
    assert summary, load.stdout + load.stderr
    assert int(summary.group(4)) == 1000, summary.group(0)
    assert re.search(r"status codes: 1000 2xx", load.stdout), load.stdout
    assert len(relay.service.calls) == 1 + 1000

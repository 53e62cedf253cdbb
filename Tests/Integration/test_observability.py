"""Per-method metrics, the access log and log levels (README "Metrics", "Access log", "Logs"):
/metrics parsed with prometheus_client's own text parser while calls of every type run through the
gateway (grpcio clients and the grpcio TestService; curl JSON calls to the demo upstream), garbage
paths from h2load that must not add series, one JSON access-log line per call, SIGUSR1 reopening,
and the log level from the command line, the routes file and a reload."""
import json
import os
import select
import signal
import subprocess
import threading
import time

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 10
TESTING = "grpc.testing.TestService"
ECHO = "trestle.demo.v1.Echo"


def until(predicate, what, timeout=WAIT):
    return harness.until(predicate, what, timeout)


class DemoUpstream(harness.Process):
    """`trestle demo-upstream` (the demo service, declared by routes/demo.pb) on a free port."""

    def __init__(self):
        self.port = harness.free_port()
        super().__init__("demo-upstream", [harness.TRESTLE_BIN, "demo-upstream", "--listen", f"127.0.0.1:{self.port}"],
                         "trestle demo-upstream: ready")


@pytest.fixture
def demo_upstream(request):
    up = DemoUpstream()
    request.node.processes = getattr(request.node, "processes", []) + [up]
    yield up
    up.kill()


def config_for(up_port, demo_port, tmp_path, workers=2, **logging):
    config = harness.routes([up_port], workers=workers)
    config["admin"] = {"address": f"127.0.0.1:{harness.free_port()}"}
    config["descriptors"] = [str(harness.REPO / "routes" / "demo.pb")]
    config["clusters"].append({"name": "echo", "endpoints": [f"127.0.0.1:{demo_port}"]})
    config["routes"].append({"service": ECHO, "cluster": "echo"})
    # A native route without descriptors for any service of a package: its methods are undeclared.
    config["routes"].append({"service": "garbage.*", "cluster": "testing"})
    if logging:
        config["logging"] = logging
    return config


def admin_port(config):
    return int(config["admin"]["address"].rsplit(":", 1)[1])


def scrape(port):
    out = subprocess.run(["curl", "-sS", "--max-time", str(WAIT), f"http://127.0.0.1:{port}/metrics"],
                         capture_output=True, text=True, timeout=WAIT + 5, check=True).stdout
    return {f.name: f for f in text_string_to_metric_families(out)}


def samples(families, family, sample_name=None, **labels):
    """The samples of a family (optionally one sample name: _bucket, _count, ...) whose labels include `labels`."""
    return [s for s in families[family].samples
            if (sample_name is None or s.name == sample_name) and all(s.labels.get(k) == v for k, v in labels.items())]


def value(families, family, sample_name=None, **labels):
    found = samples(families, family, sample_name, **labels)
    return sum(s.value for s in found)


def curl_json(port, path, body):
    done = subprocess.run(["curl", "-sS", "--http1.1", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(WAIT),
                           "-H", "Content-Type: application/json", "-H", "x-request-id: req-json-1",
                           "--data-binary", body, f"http://127.0.0.1:{port}{path}"],
                          capture_output=True, text=True, timeout=WAIT + 5, check=True)
    text, _, code = done.stdout.rpartition("\n")
    return int(code), text


def every_call_type(port):
    """Unary (4 OK, 1 FAILED_PRECONDITION), server streaming (3 messages), client streaming (4),
    bidi (2 each way), one unknown service: grpcio through the gateway."""
    with harness.channel(port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        for _ in range(4):
            stub.UnaryCall(messages_pb2.SimpleRequest(response_size=10), timeout=WAIT,
                           metadata=[("x-request-id", "req-unary")])
        with pytest.raises(grpc.RpcError) as error:
            stub.UnaryCall(messages_pb2.SimpleRequest(response_status=messages_pb2.EchoStatus(code=9, message="no")),
                           timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        streamed = list(stub.StreamingOutputCall(messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=7)] * 3), timeout=WAIT))
        assert len(streamed) == 3
        reply = stub.StreamingInputCall(iter([messages_pb2.StreamingInputCallRequest(
            payload=messages_pb2.Payload(body=b"x" * 5))] * 4), timeout=WAIT)
        assert reply.aggregated_payload_size == 20
        bidi = list(stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(
            payload=messages_pb2.Payload(body=b"hi"))] * 2), timeout=WAIT))
        assert len(bidi) == 2
        with pytest.raises(grpc.RpcError) as error:
            ch.unary_unary("/no.Such/Thing")(b"", timeout=WAIT)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_metrics_count_calls_by_service_method_protocol_and_code(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path)
    gw = gateway(config)
    admin = admin_port(config)
    every_call_type(gw.port)
    for _ in range(3):
        assert curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "hi"}') == (200, '{"message":"hi"}')
    assert curl_json(gw.port, "/no.Such/Thing", "{}")[0] == 404

    m = scrape(admin)
    calls = "trestle_method_calls"  # the family of trestle_method_calls_total
    assert value(m, calls, service=TESTING, method="UnaryCall", protocol="grpc", code="OK") == 4
    assert value(m, calls, service=TESTING, method="UnaryCall", protocol="grpc", code="FAILED_PRECONDITION") == 1
    assert value(m, calls, service=TESTING, method="StreamingOutputCall", protocol="grpc", code="OK") == 1
    assert value(m, calls, service=TESTING, method="StreamingInputCall", protocol="grpc", code="OK") == 1
    assert value(m, calls, service=TESTING, method="FullDuplexCall", protocol="grpc", code="OK") == 1
    assert value(m, calls, service=ECHO, method="Echo", protocol="json", code="OK") == 3
    # Calls no route took: one series whatever their path, per protocol and code.
    assert value(m, calls, service="_unknown", method="_unknown", protocol="grpc", code="UNIMPLEMENTED") == 1
    assert value(m, calls, service="_unknown", method="_unknown", protocol="json", code="NOT_FOUND") == 1
    # Nothing else was counted.
    assert sum(s.value for s in m[calls].samples) == 4 + 1 + 1 + 1 + 1 + 3 + 2
    assert sum(s.value for s in m[calls].samples) == value(m, "trestle_calls_started")

    # The histogram: one observation per call, cumulative buckets ending at +Inf.
    hist = "trestle_method_duration_seconds"
    assert value(m, hist, hist + "_count", service=TESTING, method="UnaryCall") == 5
    buckets = samples(m, hist, hist + "_bucket", service=TESTING, method="UnaryCall")
    assert [b.labels["le"] for b in buckets][-1] == "+Inf" and buckets[-1].value == 5
    assert all(a.value <= b.value for a, b in zip(buckets, buckets[1:]))
    assert 0 < value(m, hist, hist + "_sum", service=TESTING, method="UnaryCall") < 5 * WAIT

    # Messages each way, as they went to and came from the upstream.
    assert value(m, "trestle_method_response_messages", service=TESTING, method="StreamingOutputCall") == 3
    assert value(m, "trestle_method_request_messages", service=TESTING, method="StreamingInputCall") == 4
    assert value(m, "trestle_method_request_messages", service=TESTING, method="FullDuplexCall") == 2
    assert value(m, "trestle_method_response_messages", service=TESTING, method="FullDuplexCall") == 2
    # Each StreamingInputCall request: 5-byte prefix + payload message (field 2 { field 1: 5 bytes }).
    assert value(m, "trestle_method_request_bytes", service=TESTING, method="StreamingInputCall") == 4 * (5 + 9)
    assert value(m, "trestle_method_response_bytes", service=ECHO, method="Echo") == 3 * (5 + 4)

    # The rest of what an operator expects, present and settled once the calls are over.
    assert value(m, "trestle_calls_active") == 0
    assert value(m, "trestle_upstream_streams") == 0
    assert value(m, "trestle_upstream_pending_calls") == 0
    assert value(m, "trestle_upstream_connections") >= 2
    assert samples(m, "trestle_build_info")[0].labels["version"]
    assert "trestle_upstream_resets_received" in m and "trestle_upstream_resets_sent" in m
    assert value(m, "trestle_downstream_connections_by_protocol", protocol="http2") >= 0


def grpc_frame(payload=b""):
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def h2load_paths(port, paths, tmp_path):
    """POSTs one empty gRPC message to each path (h2load, one connection, 100 streams at a time)."""
    uris = tmp_path / "uris.txt"
    uris.write_text("".join(f"http://127.0.0.1:{port}{p}\n" for p in paths))
    body = tmp_path / "frame.bin"
    body.write_bytes(grpc_frame())
    done = subprocess.run(["h2load", "-n", str(len(paths)), "-c", "1", "-m", "100", "-i", str(uris), "-d", str(body),
                           "-H", "content-type: application/grpc", "-H", "te: trailers"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(paths)} succeeded" in done.stdout or f"succeeded, " in done.stdout, done.stdout


def test_garbage_paths_add_no_series(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path)
    gw = gateway(config)
    admin = admin_port(config)
    before = scrape(admin)
    assert before["trestle_method_calls"].samples == []

    # 10,000 distinct paths that no route names: no series at all beyond `_unknown`.
    h2load_paths(gw.port, [f"/junk{i}.S{i}/M{i}" for i in range(10_000)], tmp_path)
    m = scrape(admin)
    assert value(m, "trestle_method_calls", service="_unknown", method="_unknown",
                 protocol="grpc", code="UNIMPLEMENTED") == 10_000
    services = {s.labels["service"] for s in m["trestle_method_calls"].samples}
    assert services == {"_unknown"}, services
    hist_series = {(s.labels["service"], s.labels["method"]) for s in m["trestle_method_duration_seconds"].samples}
    assert hist_series == {("_unknown", "_unknown"), ("_other", "_other")}, hist_series

    # 3,000 distinct methods of a routed service that no descriptor declares: at most 512 series
    # per worker (2 workers here), the rest under `_other`.
    h2load_paths(gw.port, [f"/garbage.S/M{i}" for i in range(3_000)], tmp_path)
    m = scrape(admin)
    garbage = {s.labels["method"] for s in m["trestle_method_duration_seconds"].samples
               if s.labels["service"] == "garbage.S"}
    assert 0 < len(garbage) <= 2 * 512, len(garbage)
    counted = value(m, "trestle_method_calls", "trestle_method_calls_total", service="garbage.S")
    other = value(m, "trestle_method_calls", "trestle_method_calls_total", service="_other")
    assert counted + other == 3_000 and other >= 3_000 - 2 * 512, (counted, other)
    # A declared method still gets its own series after the bound was reached.
    assert curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "x"}')[0] == 200
    assert value(scrape(admin), "trestle_method_calls", service=ECHO, method="Echo", protocol="json", code="OK") == 1


def read_lines(path, count):
    def ready():
        if not path.exists():
            return None
        lines = path.read_text().splitlines()
        return lines if len(lines) >= count else None
    return [json.loads(line) for line in until(ready, f"{count} lines in {path}")]


def test_access_log_has_one_json_line_per_call(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    log = tmp_path / "access.log"
    config = config_for(up.port, demo_upstream.port, tmp_path, access_log=str(log))
    gw = gateway(config)
    every_call_type(gw.port)
    status, _ = curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "hi"}')
    assert status == 200
    lines = read_lines(log, 5 + 1 + 1 + 1 + 1 + 1)
    fields = {"time", "peer", "protocol", "http", "path", "service", "method", "http_status", "grpc_status",
              "request_bytes", "response_bytes", "request_messages", "response_messages", "duration_ms",
              "upstream", "request_id"}
    for line in lines:
        assert fields <= set(line), line
        assert line["time"].endswith("Z") and line["time"][10] == "T"
        assert line["peer"].startswith("127.0.0.1:")
        assert line["duration_ms"] >= 0
    by_method = {}
    for line in lines:
        by_method.setdefault(line["method"], []).append(line)
    unary = by_method["UnaryCall"]
    assert sorted(l["grpc_status"] for l in unary) == [0, 0, 0, 0, 9]
    ok = next(l for l in unary if l["grpc_status"] == 0)
    assert ok["protocol"] == "grpc" and ok["http"] == "HTTP/2" and ok["http_status"] == 200
    assert ok["service"] == TESTING and ok["path"] == f"/{TESTING}/UnaryCall"
    assert ok["request_id"] == "req-unary" and ok["upstream"] == f"127.0.0.1:{up.port}"
    assert ok["request_messages"] == 1 and ok["response_messages"] == 1
    failed = next(l for l in unary if l["grpc_status"] == 9)
    assert failed["grpc_message"] == "no"
    assert by_method["StreamingOutputCall"][0]["response_messages"] == 3
    assert by_method["StreamingInputCall"][0]["request_messages"] == 4
    duplex = by_method["FullDuplexCall"][0]
    assert (duplex["request_messages"], duplex["response_messages"]) == (2, 2)
    unknown = by_method[None]
    assert {(l["path"], l["grpc_status"], l["upstream"]) for l in unknown} >= {("/no.Such/Thing", 12, None)}
    echo = [l for l in by_method["Echo"] if l["path"] == f"/{ECHO}/Echo"][0]
    assert echo["protocol"] == "json" and echo["http"] == "HTTP/1.1" and echo["http_status"] == 200
    assert echo["request_id"] == "req-json-1" and echo["upstream"] == f"127.0.0.1:{demo_upstream.port}"


def test_sigusr1_reopens_the_access_log(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    log = tmp_path / "access.log"
    config = config_for(up.port, demo_upstream.port, tmp_path, access_log=str(log))
    gw = gateway(config)
    assert curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "one"}')[0] == 200
    read_lines(log, 1)
    rotated = tmp_path / "access.log.1"
    log.rename(rotated)  # what logrotate does before it signals
    os.kill(gw.pid, signal.SIGUSR1)
    until(lambda: "reopening access log" in gw.output(), "the reopen notice")
    assert curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "two"}')[0] == 200
    assert read_lines(log, 1)[0]["path"] == f"/{ECHO}/Echo"
    assert len(rotated.read_text().splitlines()) == 1


def test_access_log_to_stdout(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path)
    gw = gateway(config, args=["--access-log", "stdout"])
    assert curl_json(gw.port, f"/{ECHO}/Echo", '{"message": "hi"}')[0] == 200
    line = until(lambda: next((l for l in gw.output().splitlines() if l.startswith('{"time"')), None), "a log line")
    assert json.loads(line)["service"] == ECHO


def debug_lines(gw):
    return [l for l in gw.output().splitlines() if ": debug: connection from" in l]


def test_log_level_from_the_command_line_file_and_reload(upstream, demo_upstream, gateway, tmp_path):
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path)
    quiet = gateway(config)
    assert curl_json(quiet.port, f"/{ECHO}/Echo", '{"message": "hi"}')[0] == 200
    loud = gateway(config_for(up.port, demo_upstream.port, tmp_path), args=["--log-level", "debug"])
    assert curl_json(loud.port, f"/{ECHO}/Echo", '{"message": "hi"}')[0] == 200
    until(lambda: len(debug_lines(loud)) >= 2, "accepted and closed at debug level")
    assert debug_lines(quiet) == []  # info by default: connections are not logged

    # The routes file's level applies on a reload, without a restart.
    config["logging"] = {"level": "debug"}
    harness.write_routes(config, quiet.config_path)
    os.kill(quiet.pid, signal.SIGHUP)
    until(lambda: "reloaded" in quiet.output(), "the reload")
    assert curl_json(quiet.port, f"/{ECHO}/Echo", '{"message": "hi"}')[0] == 200
    until(lambda: debug_lines(quiet), "debug lines after the reload")


def test_bad_log_settings_are_refused_with_the_place(tmp_path):
    routes = harness.routes([1])
    routes["logging"] = {"level": "loud"}
    path = harness.write_routes(routes, tmp_path / "r.yaml")
    done = subprocess.run([harness.TRESTLE_BIN, "check", "--config", path], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode != 0
    assert f"{path}:" in done.stderr and 'unknown log level "loud"' in done.stderr, done.stderr
    done = subprocess.run([harness.TRESTLE_BIN, "serve", "--config", path, "--log-level", "chatty"],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode != 0 and 'unknown --log-level "chatty"' in done.stderr, done.stderr
    routes["logging"] = {"access_log": str(tmp_path / "no" / "such" / "dir" / "a.log")}
    harness.write_routes(routes, path)
    done = subprocess.run([harness.TRESTLE_BIN, "serve", "--config", path], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode != 0 and "access_log" in done.stderr and "cannot open" in done.stderr, done.stderr


def test_version():
    done = subprocess.run([harness.TRESTLE_BIN, "--version"], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0 and done.stdout.strip().count(".") == 2, done.stdout


@pytest.mark.rss
def test_access_log_that_cannot_be_written_drops_lines_not_memory(demo_upstream, upstream, gateway, tmp_path):
    """A pipe nobody reads: the writer blocks, at most `access_log_buffer` bytes wait, newer
    lines are dropped and counted, calls go on, memory stays flat, and the process still exits."""
    up = upstream()
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held open, never read (until the end)
    try:
        config = config_for(up.port, demo_upstream.port, tmp_path, workers=1,
                            access_log=str(fifo), access_log_buffer="64KiB")
        gw = gateway(config)
        admin = admin_port(config)
        body = tmp_path / "echo.grpc"
        body.write_bytes(b"\x00\x00\x00\x00\x04\x0a\x02hi")
        rss_before = gw.vm_rss_kib()
        done = subprocess.run(["h2load", "-n", "20000", "-c", "4", "-m", "32", "-d", str(body),
                               "-H", "content-type: application/grpc", "-H", "te: trailers",
                               f"http://127.0.0.1:{gw.port}/{ECHO}/Echo"], capture_output=True, text=True, timeout=120)
        assert "20000 succeeded" in done.stdout, done.stdout
        m = scrape(admin)
        dropped = value(m, "trestle_access_log_dropped")
        written = value(m, "trestle_access_log_lines")
        assert dropped > 0 and written + dropped == 20000, (written, dropped)
        # What waits is bounded: the pipe's 64 KiB and the 64 KiB buffer, whatever was dropped.
        assert gw.vm_rss_kib() - rss_before < 16 * 1024
        assert value(m, "trestle_method_calls", service=ECHO, method="Echo", protocol="grpc", code="OK") == 20000
    finally:
        # Drain the pipe from our own end in the background, so that the writer's last write can
        # finish; the thread ends at EOF, when the gateway (stopped by the fixture) closes its end.
        def drain():
            while True:
                ready, _, _ = select.select([reader], [], [], 1.0)
                if not ready:
                    continue
                try:
                    if not os.read(reader, 1 << 16):
                        break
                except BlockingIOError:
                    pass
            os.close(reader)
        threading.Thread(target=drain, daemon=True).start()


def test_stream_and_reset_gauges_follow_an_open_and_cancelled_stream(upstream, demo_upstream, gateway, tmp_path):
    """While a bidi stream is open the gateway shows one upstream stream and an HTTP/2 client
    connection; cancelling it from the client makes the gateway reset the upstream stream
    (counted as sent) and the gauges go back to zero."""
    import queue
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path, workers=1)
    gw = gateway(config)
    admin = admin_port(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        requests = queue.Queue()
        call = stub.FullDuplexCall(iter(requests.get, None), timeout=WAIT)
        requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"x")))
        assert next(call).payload.body == b"x"
        m = scrape(admin)
        assert value(m, "trestle_upstream_streams") == 1
        assert value(m, "trestle_calls_active") == 1
        assert value(m, "trestle_downstream_connections_by_protocol", protocol="http2") == 1
        assert value(m, "trestle_upstream_resets_sent") == 0
        call.cancel()
        until(lambda: value(scrape(admin), "trestle_upstream_resets_sent") == 1, "the upstream reset counted")
        m = until(lambda: (lambda m: m if value(m, "trestle_upstream_streams") == 0 else None)(scrape(admin)),
                  "no upstream stream left")
        assert value(m, "trestle_calls_active") == 0
        assert value(m, "trestle_method_calls", service=TESTING, method="FullDuplexCall", code="CANCELLED") == 1


def test_pending_calls_gauge_counts_a_call_waiting_for_room(upstream, demo_upstream, gateway, tmp_path):
    """One upstream connection with room for one stream: while a bidi stream holds it, a second
    call waits in the endpoint's queue and trestle_upstream_pending_calls shows it; once the
    stream ends, the waiting call is served and the gauge is back to zero."""
    import queue
    up = upstream()
    config = config_for(up.port, demo_upstream.port, tmp_path, workers=1)
    config["clusters"][0].update(max_connections=1, max_streams_per_connection=1)
    gw = gateway(config)
    admin = admin_port(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        requests = queue.Queue()
        held = stub.FullDuplexCall(iter(requests.get, None), timeout=WAIT)
        requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=b"x")))
        assert next(held).payload.body == b"x"
        waiting = stub.UnaryCall.future(messages_pb2.SimpleRequest(response_size=3), timeout=WAIT)
        until(lambda: value(scrape(admin), "trestle_upstream_pending_calls") == 1, "the second call queued")
        assert not waiting.done()
        requests.put(None)  # the bidi stream ends: its stream is free for the waiting call
        assert [r for r in held] == []
        assert len(waiting.result(timeout=WAIT).payload.body) == 3
        until(lambda: value(scrape(admin), "trestle_upstream_pending_calls") == 0, "the queue empty")

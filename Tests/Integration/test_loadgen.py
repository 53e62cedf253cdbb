"""`trestle load`, the load generator, against real peers: the built-in demo upstream directly and
through the gateway, and small grpcio servers written here for what the demo service does not do
(failing every tenth call, stalling once, never answering, counting the messages it received).

Every test reads the generator's `--json` output and asserts exact counts: N calls bounded by
`--calls N` are N results; statuses are counted by code; messages per call add up."""
import json
import re
import subprocess
import threading
import time
from concurrent import futures

import grpc
import pytest

import harness

DEMO_PB = harness.REPO / "routes" / "demo.pb"
SERVICE = "trestle.demo.v1.Echo"
ECHO = f"/{SERVICE}/Echo"
HELLO = '{"message":"hi"}'
# EchoRequest{message: "hi"}: field 1, length 2. An echo of it is also a valid EchoResponse.
HELLO_PROTO = b"\x0a\x02hi"
LOAD_TIMEOUT = 30  # seconds a `trestle load` run may take before the test fails


# ---- peers ------------------------------------------------------------------------------------

@pytest.fixture
def demo_upstream(request):
    """`trestle demo-upstream` on a free port (Echo and Chat echo each request message)."""
    started = []

    def start():
        port = harness.free_port()
        proc = harness.Process("demo-upstream", [harness.TRESTLE_BIN, "demo-upstream", "--listen",
                                                 f"127.0.0.1:{port}", "--workers", "1"],
                               "trestle demo-upstream: ready")
        proc.port = port
        started.append(proc)
        request.node.processes = getattr(request.node, "processes", []) + [proc]
        return proc

    yield start
    for proc in started:
        proc.kill()


class EchoServer:
    """A grpcio server for trestle.demo.v1.Echo on raw bytes (no stubs): Echo echoes the request,
    except that call number `fail_every`, 2×`fail_every`, … ends with UNAVAILABLE; Expand answers
    `expand_count` copies of the request; Collect answers the last request message; Chat echoes each.
    `stall_at`: the call with that number holds every call for `stall_s` (once). `hold`: Echo
    never answers until the server stops."""

    def __init__(self, fail_every=0, expand_count=3, stall_at=0, stall_s=0.2, hold=False):
        self.fail_every = fail_every
        self.expand_count = expand_count
        self.stall_at = stall_at
        self.stall_s = stall_s
        self.hold = hold
        self.lock = threading.Lock()
        self.calls = 0
        self.collected = 0
        self.released = threading.Event()
        self.stall_until = 0.0
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(self.echo),
            "Expand": grpc.unary_stream_rpc_method_handler(self.expand),
            "Collect": grpc.stream_unary_rpc_method_handler(self.collect),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _count(self):
        with self.lock:
            self.calls += 1
            n = self.calls
            if n == self.stall_at:
                self.stall_until = time.monotonic() + self.stall_s
            wait = self.stall_until - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # the injected stall: every call arriving during it waits it out
        return n

    def echo(self, request, context):
        n = self._count()
        if self.hold:
            self.released.wait(30)
        if self.fail_every and n % self.fail_every == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"call {n} fails on purpose")
        return request

    def expand(self, request, context):
        self._count()
        for _ in range(self.expand_count):
            yield request

    def collect(self, requests, context):
        self._count()
        last = b""
        for message in requests:
            with self.lock:
                self.collected += 1
            last = message
        return last

    def chat(self, requests, context):
        self._count()
        for message in requests:
            yield message

    def stop(self):
        self.released.set()
        self.server.stop(grace=0).wait(10)


@pytest.fixture
def echo_server():
    started = []

    def start(**kwargs):
        started.append(EchoServer(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def demo_routes(upstream_port, workers=1):
    """Routes for the demo service behind the gateway, JSON included (its descriptors)."""
    return {
        "listeners": [{"address": f"127.0.0.1:{harness.free_port()}"}],
        "workers": workers,
        "shutdown_grace": "5s",
        "descriptors": [str(DEMO_PB)],
        "clusters": [{"name": "demo", "endpoints": [f"127.0.0.1:{upstream_port}"], "connect_timeout": "2s"}],
        "routes": [{"service": SERVICE, "cluster": "demo", "timeout": "30s"}],
    }


class Run:
    """One finished `trestle load` run: .figures (its --json), .stdout (the table), .stderr, .seconds."""

    def __init__(self, figures, stdout, stderr, seconds):
        self.figures, self.stdout, self.stderr, self.seconds = figures, stdout, stderr, seconds


def run_load(tmp_path, port, *args, method=ECHO, quiet=True, timeout=LOAD_TIMEOUT):
    """Runs `trestle load` against 127.0.0.1:port and waits for it to exit 0."""
    out = tmp_path / f"load-{time.monotonic_ns()}.json"
    argv = [str(harness.TRESTLE_BIN), "load", "--target", f"127.0.0.1:{port}", "--method", method,
            "--json", str(out), *(["--quiet"] if quiet else []), *[str(a) for a in args]]
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - start
    assert done.returncode == 0, f"{' '.join(argv)}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return Run(json.loads(out.read_text()), done.stdout, done.stderr, elapsed)


def load(tmp_path, port, *args, method=ECHO):
    """The figures of a quiet run."""
    return run_load(tmp_path, port, *args, method=method).figures


def grpc_hello():
    return ["--descriptor-set", DEMO_PB, "--data", HELLO]


# ---- gRPC over HTTP/2 -------------------------------------------------------------------------

def test_h2_grpc_unary_direct_exact_call_count(demo_upstream, tmp_path):
    """`--calls 20000` over 2 threads × 2 connections × 8 streams: exactly 20000 results, all OK
    with HTTP 200, one response message each; the upstream's CPU per call and peak RSS (--pid);
    the table printed."""
    n = 20000
    up = demo_upstream()
    run = run_load(tmp_path, up.port, "--calls", n, "-c", 2, "-m", 8, "-t", 2, "--pid", up.pid, *grpc_hello())
    r = run.figures
    assert r["calls"] == n
    assert r["status"] == {"OK": n} and r["http_status"] == {"200": n}
    assert r["latency_us"]["count"] == n
    assert r["messages_sent"] == n and r["messages_received"] == n
    # Each response is the 5-byte prefix and the echoed 4-byte message.
    assert r["bytes_received"] == n * (5 + len(HELLO_PROTO))
    assert sum(bucket[2] for bucket in r["histogram"]["buckets"]) == n
    [process] = r["processes"]
    assert process["pid"] == up.pid and process["peak_rss_reset"] is True
    assert process["cpu_us"] > 0 and process["cpu_us_per_call"] > 0 and process["peak_rss_kib"] > 1000
    assert r["generator"]["cpu_us_per_call"] > 0
    assert f"OK {n}" in run.stdout and "p99.9" in run.stdout and f"pid {up.pid}:" in run.stdout


def test_h2_grpc_unary_through_gateway(demo_upstream, gateway, tmp_path):
    up = demo_upstream()
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--calls", 400, "-c", 2, "-m", 10, *grpc_hello())
    assert r["calls"] == 400 and r["status"] == {"OK": 400}
    assert r["messages_received"] == 400


def test_h2_grpc_bidi_pingpong_direct(demo_upstream, tmp_path):
    """Chat, 5 round trips per call: each message's round trip is recorded."""
    up = demo_upstream()
    r = load(tmp_path, up.port, "--calls", 60, "-m", 4, "--scenario", "bidi-pingpong", "--messages", 5,
                   *grpc_hello(), method=f"/{SERVICE}/Chat")
    assert r["calls"] == 60 and r["status"] == {"OK": 60}
    assert r["messages_sent"] == 300 and r["messages_received"] == 300
    assert r["round_trip_latency_us"]["count"] == 300


def test_h2_grpc_bidi_pingpong_answered_before_its_requests_end_is_recorded(gateway, tmp_path):
    """A ping-pong call the server ends before the client has sent all its messages (here the
    gateway's trailers-only UNAVAILABLE, its upstream's port closed) is over at the trailers: the
    generator records the status and abandons the rest of its request (RST_STREAM NO_ERROR)
    instead of waiting on a half-closed stream for a response that never comes."""
    config = demo_routes(harness.free_port())  # nothing listens there
    gw = gateway(config)
    run = run_load(tmp_path, gw.port, "--calls", 20, "-m", 2, "--scenario", "bidi-pingpong", "--messages", 5,
                   "--duration", "5s", "--grace", "1s", *grpc_hello(), method=f"/{SERVICE}/Chat")
    r = run.figures
    assert r["status"] == {"UNAVAILABLE": 20}, (r["status"], r["transport_errors"])
    assert r["transport_errors"]["unfinished"] == 0 and r["transport_errors"]["stream_resets"] == 0
    assert run.seconds < 5, f"{run.seconds:.1f} s for 20 refused calls"


def test_h2_grpc_bidi_bulk_through_gateway(demo_upstream, gateway, tmp_path):
    up = demo_upstream()
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--calls", 40, "-m", 4, "--scenario", "bidi-bulk", "--messages", 25,
                   *grpc_hello(), method=f"/{SERVICE}/Chat")
    assert r["calls"] == 40 and r["status"] == {"OK": 40}
    assert r["messages_sent"] == 1000 and r["messages_received"] == 1000


def test_h2_grpc_server_streaming_direct(demo_upstream, tmp_path):
    """Expand with count 5: five response messages per call, counted."""
    up = demo_upstream()
    r = load(tmp_path, up.port, "--calls", 80, "-m", 4, "--descriptor-set", DEMO_PB,
             "--data", '{"message":"hi","count":5}', method=f"/{SERVICE}/Expand")
    assert r["scenario"] == "server-streaming"  # from the descriptor
    assert r["calls"] == 80 and r["status"] == {"OK": 80}
    assert r["messages_received"] == 400 and r["messages_received_per_s"] > 0


def test_h2_grpc_client_streaming_through_gateway(demo_upstream, gateway, tmp_path):
    up = demo_upstream()
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--calls", 40, "-m", 4, "--messages", 6, *grpc_hello(), method=f"/{SERVICE}/Collect")
    assert r["scenario"] == "client-streaming"
    assert r["calls"] == 40 and r["status"] == {"OK": 40}
    assert r["messages_sent"] == 240 and r["messages_received"] == 40


def test_h2_grpc_status_from_demo_request_counted(demo_upstream, tmp_path):
    """The demo service answers the status the request asks for: every call NOT_FOUND."""
    up = demo_upstream()
    r = load(tmp_path, up.port, "--calls", 50, "-m", 2, "--descriptor-set", DEMO_PB,
             "--data", '{"message":"hi","status":{"code":5,"message":"nope"}}')
    assert r["status"] == {"NOT_FOUND": 50} and r["errors"] == 50 and r["http_status"] == {"200": 50}


# The same through a grpcio upstream, which also counts what it received.

def test_h2_grpc_server_streaming_through_gateway_grpcio(echo_server, gateway, tmp_path):
    up = echo_server(expand_count=3)
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--calls", 50, "-m", 5, *grpc_hello(), method=f"/{SERVICE}/Expand")
    assert r["scenario"] == "server-streaming"  # from the descriptor
    assert r["calls"] == 50 and r["status"] == {"OK": 50}
    assert r["messages_received"] == 150
    assert up.calls == 50


def test_h2_grpc_client_streaming_direct_grpcio(echo_server, tmp_path):
    up = echo_server()
    r = load(tmp_path, up.port, "--calls", 30, "-m", 3, "--messages", 7, *grpc_hello(),
                   method=f"/{SERVICE}/Collect")
    assert r["scenario"] == "client-streaming"
    assert r["calls"] == 30 and r["status"] == {"OK": 30}
    assert r["messages_sent"] == 210 and r["messages_received"] == 30
    assert up.collected == 210


def test_h2_grpc_every_tenth_unavailable_counted(echo_server, tmp_path):
    """An upstream failing every tenth call with grpc-status 14 (trailers-only): exactly 10 %
    UNAVAILABLE, with HTTP 200 on every call (h2load would count 100 % success)."""
    up = echo_server(fail_every=10)
    r = load(tmp_path, up.port, "--calls", 300, "-c", 2, "-m", 4, "-t", 2, "--data-file",
                   write(tmp_path / "hello.bin", HELLO_PROTO))
    assert r["calls"] == 300
    assert r["status"] == {"OK": 270, "UNAVAILABLE": 30}
    assert r["grpc_status"] == {"0": 270, "14": 30}
    assert r["errors"] == 30 and r["http_status"] == {"200": 300}
    assert up.calls == 300


def test_h2_grpc_warmup_calls_not_recorded(echo_server, tmp_path):
    up = echo_server()
    r = load(tmp_path, up.port, "--warmup", "300ms", "--calls", 100, "-m", 2, *grpc_hello())
    assert r["calls"] == 100
    assert up.calls > 100, "the warm-up made no calls"


def test_h2_grpc_open_loop_stall_shows_in_p99(echo_server, tmp_path):
    """Coordinated omission: at 200 calls/s with one call in flight at a time, a 200 ms stall at
    call 60 delays the ~40 calls due during it. Counted from their intended start they show it
    (p99 near 200 ms); counted from when they could be sent, only one call would."""
    up = echo_server(stall_at=60, stall_s=0.2)
    r = load(tmp_path, up.port, "--rate", 200, "--duration", "2s", "-c", 1, "-m", 1, *grpc_hello())
    assert r["mode"] == "open"
    assert 360 <= r["calls"] <= 400, r["calls"]
    lat = r["latency_us"]
    assert lat["max"] >= 195_000, lat
    assert lat["p99"] >= 150_000, lat
    assert lat["p50"] < 50_000, lat


def test_h2_grpc_duration_is_a_hard_bound(echo_server, tmp_path):
    """An upstream that never answers: the run still ends at duration + grace, its calls in
    flight reported as unfinished, none recorded."""
    up = echo_server(hold=True)
    run = run_load(tmp_path, up.port, "--duration", "1200ms", "--grace", "300ms", "-c", 1, "-m", 3, *grpc_hello(),
                   quiet=False)
    r = run.figures
    assert r["calls"] == 0
    assert r["transport_errors"]["unfinished"] == 3
    assert run.seconds < 1.5 + 2.0, f"took {run.seconds:.1f}s"
    # The live progress line, once a second, on stderr.
    assert re.search(r"^\[1\.\ds\] calls 0  0/s  errors 0$", run.stderr, re.M), run.stderr


def test_html_report_holds_svg_plots(demo_upstream, tmp_path):
    up = demo_upstream()
    report = tmp_path / "report.html"
    load(tmp_path, up.port, "--calls", 200, "-m", 4, "--html", report, *grpc_hello())
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<svg") == 2, "a latency-percentile plot and a throughput plot"
    assert "<polyline" in html
    assert "src=" not in html and "href=" not in html, "self-contained: nothing to fetch"


# ---- JSON over HTTP/1.1 through the gateway ---------------------------------------------------

def test_h1_json_unary_through_gateway(demo_upstream, gateway, tmp_path):
    up = demo_upstream()
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--protocol", "json", "--calls", 300, "-c", 2, "-m", 2, "-t", 2, *grpc_hello())
    assert r["transport"] == "http/1.1" and r["sockets"] == 4
    assert r["calls"] == 300 and r["status"] == {"OK": 300} and r["http_status"] == {"200": 300}
    assert r["messages_received"] == 300


def test_h1_json_every_tenth_unavailable_through_gateway(echo_server, gateway, tmp_path):
    """The gateway's JSON error answers (HTTP 503, google.rpc.Status code 14) counted by code."""
    up = echo_server(fail_every=10)
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--protocol", "json", "--calls", 200, "-c", 2, "--data", HELLO)
    assert r["status"] == {"OK": 180, "UNAVAILABLE": 20}
    assert r["http_status"] == {"200": 180, "503": 20}


def test_h1_json_server_streaming_through_gateway(echo_server, gateway, tmp_path):
    """NDJSON lines counted as messages, over keep-alive connections."""
    up = echo_server(expand_count=4)
    gw = gateway(demo_routes(up.port))
    r = load(tmp_path, gw.port, "--protocol", "json", "--calls", 40, "-c", 2, *grpc_hello(),
                   method=f"/{SERVICE}/Expand")
    assert r["calls"] == 40 and r["status"] == {"OK": 40}
    assert r["messages_received"] == 160


def write(path, data):
    path.write_bytes(data)
    return path

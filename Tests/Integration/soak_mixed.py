"""The mixed soak (`scripts/soak mixed`, not in CI): SOAK_MINUTES (10) of mixed traffic through one
release gateway (SOAK_WORKERS, 2 workers as `trestle serve` is usually run) in front of two real
upstreams that are restarted during the run, then a quiet period, then a report of what leaked.

Upstreams (each restarted every SOAK_RESTART_EVERY seconds, in turn, on the same port):
  testing  grpc.testing.TestService (interop_server.py, grpcio) in its own process: stopped with
           SIGKILL or gracefully (SIGTERM: grpcio's server.stop with 2 s of grace), alternately;
  demo     `trestle demo-upstream` (trestle.demo.v1.Echo): stopped with SIGKILL.
Clients, all running the whole time:
  grpcio   unary, client-streaming, server-streaming and bidi calls; calls cancelled mid-stream
           and mid-unary; deadlines that expire (unary and streaming) — TestService;
  load     `trestle load`: gRPC unary, server-streaming and bidi ping-pong, and JSON over
           HTTP/1.1, open loop at a bounded rate, in runs of up to 20 s — demo Echo;
  http1    Python's http.client: JSON unary and server-streaming over HTTP/1.1 keep-alive;
  curl     JSON unary over HTTP/2 (prior knowledge) and HTTP/1.1, one process per call;
  grpc-web sonora (binary gRPC-Web over HTTP/1.1): unary and server-streaming;
  drops    raw clients whose connections die with a TCP RST mid-call: HTTP/2 (python h2) in a
           server stream or an open bidi stream, HTTP/1.1 in a streamed JSON response.
Sampled every second: the gateway's VmRSS and open fds (/proc), and from /metrics
trestle_calls_active, trestle_buffered_bytes, trestle_upstream_streams,
trestle_upstream_pending_calls, trestle_downstream_connections, trestle_upstream_connections.

What fails the run (exit 1):
  - after the clients stop, within SOAK_QUIET_S (60) of polling: fds less the pooled upstream
    connections, active calls, upstream streams, pending calls, buffered bytes and client
    connections not back to their start values;
  - RSS growing more than SOAK_RSS_GROWTH_MIB (16) from the end of the warm-up (minute 2, or the
    first fifth of a shorter run) to the end of the load;
  - a call whose outcome is not the one it asked for (OK; CANCELLED for a client cancel;
    DEADLINE_EXCEEDED for an expiring deadline), unless it is UNAVAILABLE or CANCELLED and the
    call overlapped a restart of its upstream (from the kill until the upstream is back plus as
    long again, the gateway's reconnect backoff doubling from 100 ms, plus 1 s). INTERNAL,
    UNKNOWN or any other status is a failure whenever it happens; so are `trestle load`'s
    transport errors (resets, lost connections, missing status), and the gateway exiting.
The report goes to stdout and to SOAK_REPORT_DIR (soak-report/): mixed.json (every sample,
counts, restarts) and mixed.txt (the summary).
"""
import argparse
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
(HERE / "_gen").mkdir(exist_ok=True)  # on sys.path before conftest (re)generates the stubs in it
sys.path.insert(0, str(HERE / "_gen"))

MINUTES = float(os.environ.get("SOAK_MINUTES", 10))
WORKERS = int(os.environ.get("SOAK_WORKERS", 2))
QUIET_S = float(os.environ.get("SOAK_QUIET_S", 60))
RSS_GROWTH_MIB = float(os.environ.get("SOAK_RSS_GROWTH_MIB", 16))
REPORT_DIR = Path(os.environ.get("SOAK_REPORT_DIR", "soak-report"))
DURATION = MINUTES * 60
RESTART_EVERY = float(os.environ.get("SOAK_RESTART_EVERY", max(10.0, DURATION / 20)))
WARM_S = min(120.0, DURATION / 5)
GAUGES = ("trestle_calls_active", "trestle_buffered_bytes", "trestle_upstream_streams",
          "trestle_upstream_pending_calls", "trestle_downstream_connections", "trestle_upstream_connections")
EXPLAINED_BY_RESTART = {"UNAVAILABLE", "CANCELLED"}
DEMO = "trestle.demo.v1.Echo"


def serve_testing(port):
    """`--serve-testing PORT`: the TestService on 127.0.0.1:PORT; SIGTERM stops it gracefully
    (no new calls, those in flight get 2 s), SIGKILL does not."""
    import interop_server
    deadline = time.monotonic() + 10
    while True:  # the port of the process just killed may still be closing
        try:
            server, bound, _ = interop_server.serve(port)
            if bound == port:
                break
            server.stop(0)
        except RuntimeError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"cannot bind 127.0.0.1:{port}")
        threading.Event().wait(0.05)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=2))
    print(f"listening {port}", flush=True)
    server.wait_for_termination()


# --- the run's record ---------------------------------------------------------------------------

class Record:
    """Every call's outcome by client kind, and the restarts; shared by all client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.outcomes = Counter()          # (kind, status) -> calls
        self.explained = Counter()         # (kind, status) -> calls explained by a restart
        self.explained_messages = Counter()  # their status messages, digits as N
        self.failures = Counter()          # (kind, status) -> unexplained calls
        self.examples = []                 # the first unexplained calls, with their messages
        self.restarts = []                 # dicts: upstream, how, killed, ready (monotonic)
        self.load_runs = []

    def _recovered(self, upstream, start, end):
        """A call that started after `upstream`'s last restart completed and succeeded: note when
        (the first such call tells how long the gateway took to use the new process)."""
        for r in reversed(self.restarts):
            if r["upstream"] == upstream:
                if r.get("ready") and start >= r["ready"] and "recovered" not in r:
                    r["recovered"] = end
                return

    def windows(self, upstream):
        """(start, end) of each restart of `upstream`: from the kill to when it is back plus as long
        again (the gateway reconnects with a backoff that doubles) plus 1 s; an unfinished one
        extends to now."""
        now = time.monotonic()
        out = []
        with self.lock:
            for r in self.restarts:
                if r["upstream"] == upstream:
                    ready = r.get("ready") or now + 3600
                    out.append((r["killed"] - 0.2, ready + (ready - r["killed"]) + 1.0))
        return out

    def overlaps_restart(self, upstream, start, end):
        return any(s <= end and start <= e for s, e in self.windows(upstream))

    def call(self, kind, upstream, expected, status, start, detail=""):
        end = time.monotonic()
        with self.lock:
            self.outcomes[(kind, status)] += 1
            if status == "OK":
                self._recovered(upstream, start, end)
        if status == expected:
            return
        if status in EXPLAINED_BY_RESTART and self.overlaps_restart(upstream, start, end):
            with self.lock:
                self.explained[(kind, status)] += 1
                self.explained_messages[f"{status}: {re.sub(r'[0-9]+', 'N', str(detail))[:160]}"] += 1
            return
        with self.lock:
            self.failures[(kind, status)] += 1
            if len(self.examples) < 40:
                self.examples.append({"kind": kind, "status": status, "at_s": round(end - T0, 3),
                                      "took_s": round(end - start, 3), "detail": str(detail)[:300]})


T0 = time.monotonic()
RECORD = Record()
STOP = threading.Event()


def code_name(code):
    return code.name if hasattr(code, "name") else str(code)


# --- upstreams ----------------------------------------------------------------------------------

class Upstream:
    def __init__(self, name, harness, port, argv, ready):
        self.name, self.harness, self.port, self.argv, self.ready = name, harness, port, argv, ready
        self.process = None
        self.start()

    def start(self):
        self.process = self.harness.Process(self.name, self.argv, self.ready)

    def restart(self, how, downtime):
        entry = {"upstream": self.name, "how": how, "killed": time.monotonic()}
        with RECORD.lock:
            RECORD.restarts.append(entry)
        proc = self.process.proc
        if how == "graceful":
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.process.kill()  # SIGKILL (at once, or after a graceful stop that took too long)
        entry["exit"] = proc.returncode
        STOP.wait(downtime)  # the outage itself: how long the upstream stays away
        self.start()
        entry["ready"] = time.monotonic()

    def stop(self):
        self.process.kill()


def restarter(upstreams):
    """Restarts the upstreams in turn, every RESTART_EVERY seconds, from 20 s in until 20 s before
    the end: testing by SIGKILL, demo by SIGKILL, testing gracefully, demo by SIGKILL, ..."""
    rng = random.Random(9)
    plan = [(upstreams["testing"], "kill"), (upstreams["demo"], "kill"),
            (upstreams["testing"], "graceful"), (upstreams["demo"], "kill")]
    at, i = 20.0, 0
    while at < DURATION - 20:
        if STOP.wait(max(0.0, T0 + at - time.monotonic())):
            return
        upstream, how = plan[i % len(plan)]
        upstream.restart(how, rng.uniform(0.2, 2.0))
        at, i = at + RESTART_EVERY, i + 1


# --- clients ------------------------------------------------------------------------------------

def grpc_client(port, seed):
    import grpc
    import harness
    from testing_stubs import messages_pb2, test_pb2_grpc
    rng = random.Random(seed)
    Payload = messages_pb2.Payload

    def out_req(n, size, interval_us):
        return messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=size, interval_us=interval_us)] * n)

    def unary(stub):
        r = stub.UnaryCall(messages_pb2.SimpleRequest(response_size=rng.randint(1, 8192),
                                                      payload=Payload(body=b"u" * rng.randint(1, 4096))), timeout=10)
        assert r.payload.body, "empty payload"

    def client_stream(stub):
        n = rng.randint(1, 20)
        r = stub.StreamingInputCall(iter([messages_pb2.StreamingInputCallRequest(payload=Payload(body=b"c" * 1000))] * n),
                                    timeout=10)
        assert r.aggregated_payload_size == n * 1000, r.aggregated_payload_size

    def server_stream(stub):
        n = rng.randint(1, 20)
        got = sum(1 for _ in stub.StreamingOutputCall(out_req(n, 2048, 5000), timeout=10))
        assert got == n, f"{got} of {n} responses"

    def bidi(stub):
        n = rng.randint(1, 10)
        got = sum(1 for _ in stub.FullDuplexCall(iter([out_req(1, 512, 0)] * n), timeout=10))
        assert got == n, f"{got} of {n} responses"

    def cancel_stream(stub):
        call = stub.StreamingOutputCall(out_req(50, 1024, 50_000), timeout=30)
        for _, _ in zip(range(3), call):
            pass
        call.cancel()
        for _ in call:
            pass

    def cancel_unary(stub):
        future = stub.UnaryCall.future(messages_pb2.SimpleRequest(response_size=10), timeout=30,
                                       metadata=[("x-test-delay-ms", "3000")])
        STOP.wait(rng.uniform(0.02, 0.3))  # the client's behaviour: it gives up while waiting
        future.cancel()
        future.result()

    def deadline_unary(stub):
        stub.UnaryCall(messages_pb2.SimpleRequest(response_size=10), timeout=rng.uniform(0.05, 0.4),
                       metadata=[("x-test-delay-ms", "2000")])

    def deadline_stream(stub):
        for _ in stub.StreamingOutputCall(out_req(40, 256, 50_000), timeout=rng.uniform(0.2, 0.8)):
            pass

    kinds = [("unary", unary, "OK", 4), ("client_stream", client_stream, "OK", 2),
             ("server_stream", server_stream, "OK", 2), ("bidi", bidi, "OK", 2),
             ("cancel_stream", cancel_stream, "CANCELLED", 1), ("cancel_unary", cancel_unary, "CANCELLED", 1),
             ("deadline_unary", deadline_unary, "DEADLINE_EXCEEDED", 1),
             ("deadline_stream", deadline_stream, "DEADLINE_EXCEEDED", 1)]
    weights = [w for *_, w in kinds]
    channel = harness.channel(port)
    stub = test_pb2_grpc.TestServiceStub(channel)
    calls = 0
    while not STOP.is_set():
        kind, run, expected, _ = rng.choices(kinds, weights)[0]
        start = time.monotonic()
        try:
            run(stub)
            status, detail = "OK", ""
        except grpc.FutureCancelledError:
            status, detail = "CANCELLED", "cancelled by the client"
        except grpc.RpcError as error:
            status, detail = code_name(error.code()), error.details()
        except AssertionError as error:
            status, detail = "WRONG_ANSWER", str(error)
        RECORD.call(f"grpc.{kind}", "testing", expected, status, start, detail)
        calls += 1
        if calls % 500 == 0:  # a fresh connection now and then, as clients come and go
            channel.close()
            channel = harness.channel(port)
            stub = test_pb2_grpc.TestServiceStub(channel)
    channel.close()


def grpc_web_client(port, seed):
    import grpc
    from test_grpc_web import sonora_stub
    from testing_stubs import messages_pb2
    rng = random.Random(seed)
    stub = sonora_stub(port)
    while not STOP.is_set():
        start = time.monotonic()
        streaming = rng.random() < 0.3
        try:
            if streaming:
                n = rng.randint(1, 5)
                req = messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=100)] * n)
                got = sum(1 for _ in stub.StreamingOutputCall(req, timeout=10))
                status = "OK" if got == n else "WRONG_ANSWER"
            else:
                r = stub.UnaryCall(messages_pb2.SimpleRequest(response_size=300), timeout=10)
                status = "OK" if len(r.payload.body) == 300 else "WRONG_ANSWER"
            detail = ""
        except grpc.RpcError as error:
            status, detail = code_name(error.code()), error.details()
        except Exception as error:  # sonora raises its own errors for a broken response
            status, detail = f"ERROR {type(error).__name__}", error
        RECORD.call("grpc_web." + ("server_stream" if streaming else "unary"), "testing", "OK", status, start, detail)
        STOP.wait(0.02)  # the client's pace: about 50 calls a second at most


GRPC_STATUS_BY_NUMBER = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
                         5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
                         9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
                         13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}


def json_status(http_status, body):
    """The gRPC status name a JSON answer stands for: the body's `code` for an error answer; for a
    200, OK unless it is a stream (one JSON object a line) whose last line is `{"error": …}`."""
    try:
        if http_status == 200:
            last = body.strip().rsplit(b"\n" if isinstance(body, bytes) else "\n", 1)[-1]
            error = json.loads(last).get("error") if last.lstrip()[:1] in (b"{", "{") else None
            return "OK" if error is None else GRPC_STATUS_BY_NUMBER.get(error["code"], "HTTP 200 error")
        return GRPC_STATUS_BY_NUMBER.get(json.loads(body)["code"], f"HTTP {http_status}")
    except (ValueError, KeyError, TypeError, AttributeError):
        return "OK" if http_status == 200 else f"HTTP {http_status}"


def http1_client(port, seed):
    """JSON over HTTP/1.1 keep-alive (http.client): unary and streamed (Expand) calls."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not STOP.is_set():
        start = time.monotonic()
        streaming = rng.random() < 0.3
        if streaming:
            n = rng.randint(1, 10)
            path, body = "/v1/echo:expand", {"message": "s", "count": n, "delay_ms": 5}
        else:
            path, body = "/v1/echo", {"message": "hello " * rng.randint(1, 50)}
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            status = json_status(response.status, data)
            if status == "OK" and (streaming and data.count(b'"result"') != n or not streaming and b"hello" not in data):
                status = "WRONG_ANSWER"
            detail = data[:200]
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as error:
            status, detail = f"ERROR {type(error).__name__}", error
            conn.close()
        RECORD.call("http1.json_" + ("server_stream" if streaming else "unary"), "demo", "OK", status, start, detail)
        STOP.wait(0.01)  # the client's pace


def curl_client(port, seed):
    rng = random.Random(seed)
    while not STOP.is_set():
        h2 = rng.random() < 0.5
        start = time.monotonic()
        done = subprocess.run(["curl", "-sS", "--max-time", "10", "--http2-prior-knowledge" if h2 else "--http1.1",
                               "-H", "content-type: application/json", "-d", '{"message": "curl"}',
                               "-w", "\n%{http_code}", f"http://127.0.0.1:{port}/v1/echo"],
                              capture_output=True, text=True)
        body, _, code = done.stdout.rpartition("\n")
        if done.returncode != 0:
            status = f"curl exit {done.returncode}"
        else:
            status = json_status(int(code), body)
            if status == "OK" and '"curl"' not in body:
                status = "WRONG_ANSWER"
        RECORD.call("curl.json_unary_" + ("h2" if h2 else "h1"), "demo", "OK", status, start, body + done.stderr)
        STOP.wait(0.2)  # the client's pace: about four a second


def reset_close(sock):
    """Close with SO_LINGER 0: the kernel sends a TCP RST, the way a client that crashes or loses
    its network looks to the gateway."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def dropping_client(port, seed):
    """Clients whose connections die mid-call (RST): HTTP/2 in a server stream after its first
    message, HTTP/2 in an open bidi stream, HTTP/1.1 in a streamed JSON response."""
    import h2.config
    import h2.connection
    import h2.events
    from testing_stubs import messages_pb2
    rng = random.Random(seed)

    def grpc_frame(message):
        data = message.SerializeToString()
        return struct.pack(">BI", 0, len(data)) + data

    def h2_drop(method, end_stream):
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=1000, interval_us=20_000)] * 50)
        client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        client.initiate_connection()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            client.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
                                    (":path", f"/grpc.testing.TestService/{method}"),
                                    ("content-type", "application/grpc"), ("te", "trailers")])
            client.send_data(1, grpc_frame(req), end_stream=end_stream)
            sock.sendall(client.data_to_send())
            while True:  # until the first response message (or the gateway's answer) arrives
                data = sock.recv(65536)
                if not data:
                    return "closed by the gateway"
                events = client.receive_data(data)
                if any(isinstance(e, (h2.events.DataReceived, h2.events.StreamEnded, h2.events.StreamReset))
                       for e in events):
                    return "dropped"
        finally:
            reset_close(sock)

    def h1_drop():
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            body = json.dumps({"message": "d", "count": 50, "delay_ms": 20}).encode()
            sock.sendall(b"POST /v1/echo:expand HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            return "dropped" if sock.recv(65536) else "closed by the gateway"
        finally:
            reset_close(sock)

    while not STOP.is_set():
        which = rng.choice(["h2.server_stream", "h2.bidi", "h1.json_stream"])
        try:
            if which == "h2.server_stream":
                result = h2_drop("StreamingOutputCall", True)
            elif which == "h2.bidi":
                result = h2_drop("FullDuplexCall", False)
            else:
                result = h1_drop()
        except OSError as error:
            result = f"ERROR {type(error).__name__}"
        with RECORD.lock:
            RECORD.outcomes[(f"drop.{which}", result)] += 1
            if result != "dropped":  # the gateway has no reason to close these connections first
                RECORD.failures[(f"drop.{which}", result)] += 1
        STOP.wait(0.05)  # the client's pace


LOAD_SCENARIOS = [
    # (name, upstream, arguments): open loop, each bounded in rate and time.
    ("load.grpc_unary", ["--method", f"/{DEMO}/Echo", "--data", '{"message": "load"}', "--rate", "150",
                         "-c", "2", "-m", "32"]),
    ("load.grpc_server_stream", ["--method", f"/{DEMO}/Expand", "--data",
                                 '{"message": "e", "count": 10, "delay_ms": 20}', "--rate", "20", "-c", "1", "-m", "32"]),
    ("load.grpc_bidi", ["--method", f"/{DEMO}/Chat", "--data", '{"message": "chat"}', "--scenario",
                        "bidi-pingpong", "--messages", "10", "--rate", "20", "-c", "1", "-m", "32"]),
    ("load.json_h1_unary", ["--method", f"/{DEMO}/Echo", "--protocol", "json", "--path", "/v1/echo",
                            "--data", '{"message": "json"}', "--rate", "60", "-c", "4", "-m", "1"]),
]


def load_client(trestle, port, name, args, out_dir):
    """`trestle load` runs of up to 20 s one after another; each run's status counts are recorded,
    non-OK ones explained when the run overlapped a restart of the demo upstream."""
    run = 0
    while not STOP.is_set():
        seconds = min(20.0, DURATION - (time.monotonic() - T0))
        if seconds < 1:
            break
        out = out_dir / f"{name}-{run}.json"
        argv = [str(trestle), "load", "--target", f"127.0.0.1:{port}", "--descriptor-set",
                str(HERE.parents[1] / "routes" / "demo.pb"), *args, "-t", "1", "--duration", f"{seconds:.0f}s",
                "--grace", "5s", "--connect-timeout", "5s", "--json", str(out), "--quiet"]
        start = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        end = time.monotonic()
        entry = {"name": name, "start_s": round(start - T0, 1), "end_s": round(end - T0, 1), "exit": done.returncode}
        try:
            figures = json.loads(out.read_text())
            out.unlink()
        except (OSError, ValueError):
            figures = None
            entry["error"] = (done.stdout + done.stderr)[-500:]
        overlapped = RECORD.overlaps_restart("demo", start, end)
        with RECORD.lock:
            if figures is None:
                RECORD.failures[(name, "no report")] += 1
            else:
                entry["status"] = figures["status"]
                transport = {k: v for k, v in figures["transport_errors"].items() if v and k != "not_started"}
                entry["transport_errors"] = transport
                for status, count in figures["status"].items():
                    RECORD.outcomes[(name, status)] += count
                    if status == "OK":
                        continue
                    target = RECORD.explained if status in EXPLAINED_BY_RESTART and overlapped else RECORD.failures
                    target[(name, status)] += count
                for what, count in transport.items():
                    RECORD.outcomes[(name, what)] += count
                    RECORD.failures[(name, what)] += count
            RECORD.load_runs.append(entry)
        run += 1


# --- the gateway, sampled -----------------------------------------------------------------------

def metrics(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as response:
        body = response.read().decode()
    out = {}
    for name in GAUGES:
        match = re.search(rf"^{name} (-?\d+)$", body, re.M)
        out[name] = int(match.group(1)) if match else None
    return out


def sample(gw, admin):
    s = {"t": round(time.monotonic() - T0, 2), "rss_kib": gw.vm_rss_kib(),
         "fds": len(os.listdir(f"/proc/{gw.pid}/fd"))}
    s.update(metrics(admin))
    s["client_fds"] = s["fds"] - (s["trestle_upstream_connections"] or 0)
    return s


def sampler(gw, admin, samples):
    while not STOP.wait(1.0):  # the sampling interval
        try:
            samples.append(sample(gw, admin))
        except OSError as error:
            samples.append({"t": round(time.monotonic() - T0, 2), "error": str(error)})


def slope_mib_per_min(points):
    """Least-squares slope of (seconds, KiB) points, in MiB per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den * 60 / 1024


def main():
    global T0
    import conftest  # noqa: F401  (generates the grpc.testing stubs)
    import harness
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = REPORT_DIR / "run"
    tmp.mkdir(exist_ok=True)

    testing_port, demo_port, admin = harness.free_port(), harness.free_port(), harness.free_port()
    upstreams = {
        "testing": Upstream("testing", harness, testing_port,
                            [sys.executable, Path(__file__).resolve(), "--serve-testing", str(testing_port)],
                            "listening "),
        "demo": Upstream("demo", harness, demo_port,
                         [harness.TRESTLE_BIN, "demo-upstream", "--listen", f"127.0.0.1:{demo_port}", "--workers", "1"],
                         "trestle demo-upstream: ready"),
    }
    config = harness.routes([testing_port], workers=WORKERS, route_timeout="30s")
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    config["descriptors"] = [str(HERE.parents[1] / "routes" / "demo.pb")]
    config["clusters"].append({"name": "echo", "endpoints": [f"127.0.0.1:{demo_port}"]})
    config["routes"].append({"service": DEMO, "cluster": "echo", "timeout": "30s"})
    gw = harness.Gateway(config, tmp)
    samples = []
    start = sample(gw, admin)
    T0 = time.monotonic()
    start["t"] = 0.0
    samples.append(start)
    print(f"soak mixed: {MINUTES:g} min, gateway {harness.TRESTLE_BIN} with {WORKERS} workers on port {gw.port} "
          f"(pid {gw.pid}), admin {admin}; testing upstream :{testing_port}, demo upstream :{demo_port}; "
          f"restarts every {RESTART_EVERY:g} s", flush=True)

    threads = [threading.Thread(target=sampler, args=(gw, admin, samples), daemon=True),
               threading.Thread(target=restarter, args=(upstreams,), daemon=True)]
    threads += [threading.Thread(target=grpc_client, args=(gw.port, i), daemon=True) for i in range(4)]
    threads += [threading.Thread(target=grpc_web_client, args=(gw.port, 10), daemon=True),
                threading.Thread(target=http1_client, args=(gw.port, 11), daemon=True),
                threading.Thread(target=curl_client, args=(gw.port, 12), daemon=True),
                threading.Thread(target=dropping_client, args=(gw.port, 13), daemon=True)]
    threads += [threading.Thread(target=load_client, args=(harness.TRESTLE_BIN, gw.port, name, args, tmp), daemon=True)
                for name, args in LOAD_SCENARIOS]
    for t in threads:
        t.start()
    last_print = 0.0
    while time.monotonic() - T0 < DURATION and gw.proc.poll() is None:
        STOP.wait(1.0)
        if time.monotonic() - last_print >= 30 and samples:
            last_print = time.monotonic()
            s = samples[-1]
            with RECORD.lock:
                total, failed = sum(RECORD.outcomes.values()), sum(RECORD.failures.values())
            print(f"  {s['t']:6.0f} s  RSS {s.get('rss_kib', 0) / 1024:6.1f} MiB  fds {s.get('fds')}  "
                  f"active {s.get('trestle_calls_active')}  calls {total}  failed {failed}  "
                  f"restarts {len(RECORD.restarts)}", flush=True)
    load_end = time.monotonic() - T0
    STOP.set()
    for t in threads[1:]:
        t.join(90)
    stuck = [t.name for t in threads[1:] if t.is_alive()]
    gateway_alive = gw.proc.poll() is None

    # The quiet period: poll until every figure is back to its start value, or QUIET_S passes.
    back = {}
    quiet_start = time.monotonic()
    end = None
    while gateway_alive:
        try:
            end = sample(gw, admin)
        except OSError:
            end = None
        if end is not None:
            back = {
                "client_fds": end["client_fds"] == start["client_fds"],
                "trestle_calls_active": end["trestle_calls_active"] == 0,
                "trestle_upstream_streams": end["trestle_upstream_streams"] == 0,
                "trestle_upstream_pending_calls": end["trestle_upstream_pending_calls"] == 0,
                "trestle_buffered_bytes": end["trestle_buffered_bytes"] == 0,
                "trestle_downstream_connections":
                    end["trestle_downstream_connections"] == start["trestle_downstream_connections"],
            }
            if all(back.values()) or time.monotonic() - quiet_start > QUIET_S:
                break
        threading.Event().wait(0.25)  # the polling interval
    settle_s = time.monotonic() - quiet_start
    threads[0].join(5)

    rss = [(s["t"], s["rss_kib"]) for s in samples if "rss_kib" in s and s["t"] <= load_end]
    warm = min((p for p in rss if p[0] >= WARM_S), default=rss[-1], key=lambda p: p[0])
    last = rss[-1]
    growth_mib = (last[1] - warm[1]) / 1024
    slope = slope_mib_per_min([p for p in rss if p[0] >= WARM_S])
    peak = max(rss, key=lambda p: p[1])
    gw_exit = None
    try:
        gw.stop()
        gw_exit = 0
    except AssertionError as error:
        gw_exit = str(error)[:500]
    for u in upstreams.values():
        u.stop()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    leaks = [k for k, ok in back.items() if not ok]
    if RSS_GROWTH_MIB < growth_mib:
        leaks.append(f"RSS grew {growth_mib:.1f} MiB after warm-up")
    problems = list(leaks)
    if not gateway_alive:
        problems.append(f"the gateway exited during the run (code {gw.proc.returncode})")
    if gw_exit != 0:
        problems.append(f"the gateway did not stop cleanly: {gw_exit}")
    if stuck:
        problems.append(f"client threads still running: {stuck}")
    failed = sum(RECORD.failures.values())
    if failed:
        problems.append(f"{failed} calls failed in a way the restarts do not explain")

    by_status = Counter()
    for (kind, status), n in RECORD.outcomes.items():
        if not kind.startswith("drop."):
            by_status[status] += n
    restarts = [{"upstream": r["upstream"], "how": r["how"], "at_s": round(r["killed"] - T0, 1),
                 "down_s": round(r["ready"] - r["killed"], 2) if r.get("ready") else None,
                 "first_ok_after_s": round(r["recovered"] - r["ready"], 2) if r.get("recovered") else None}
                for r in RECORD.restarts]
    unrecovered = [r for r in restarts if r["first_ok_after_s"] is None]
    if unrecovered:
        problems.append(f"no successful call after {len(unrecovered)} restarts: {unrecovered}")
    recoveries = [r["first_ok_after_s"] for r in restarts if r["first_ok_after_s"] is not None]
    report = {
        "minutes": MINUTES, "workers": WORKERS, "restart_every_s": RESTART_EVERY, "warm_up_s": WARM_S,
        "load_s": round(load_end, 1), "settled_after_s": round(settle_s, 1),
        "start": start, "end": end, "back_to_start": back,
        "rss_mib": {"start": round(start["rss_kib"] / 1024, 1), "peak": round(peak[1] / 1024, 1),
                    "peak_at_s": peak[0], "at_warm_up": round(warm[1] / 1024, 1),
                    "end_of_load": round(last[1] / 1024, 1),
                    "after_quiet": round(end["rss_kib"] / 1024, 1) if end else None,
                    "growth_after_warm_up": round(growth_mib, 1), "slope_mib_per_min": round(slope, 3)},
        "calls_by_status": dict(by_status.most_common()),
        "calls": {f"{k} {s}": n for (k, s), n in sorted(RECORD.outcomes.items())},
        "explained_by_restarts": {f"{k} {s}": n for (k, s), n in sorted(RECORD.explained.items())},
        "explained_messages": dict(RECORD.explained_messages.most_common(20)),
        "failures": {f"{k} {s}": n for (k, s), n in sorted(RECORD.failures.items())},
        "failure_examples": RECORD.examples, "restarts": restarts, "load_runs": RECORD.load_runs,
        "problems": problems, "samples": samples,
    }
    (REPORT_DIR / "mixed.json").write_text(json.dumps(report, indent=1))
    r = report["rss_mib"]
    lines = [
        f"soak mixed: {MINUTES:g} min of load ({load_end:.0f} s), {WORKERS} workers, "
        f"{len(restarts)} upstream restarts ({Counter(x['upstream'] + ' ' + x['how'] for x in restarts)})",
        f"calls: {sum(by_status.values())} by status {dict(by_status.most_common())}; "
        f"connections dropped mid-call: {sum(n for (k, _), n in RECORD.outcomes.items() if k.startswith('drop.'))}",
        f"explained by restarts: {sum(RECORD.explained.values())} {dict(RECORD.explained.most_common())}",
        f"restarts: outage {min(r['down_s'] for r in restarts):.2f}-{max(r['down_s'] for r in restarts):.2f} s, "
        f"first successful call {min(recoveries):.2f}-{max(recoveries):.2f} s after the upstream was back"
        if restarts and recoveries else "restarts: none recovered",
        f"unexplained failures: {failed} {dict(RECORD.failures.most_common())}",
        f"RSS: start {r['start']} MiB, peak {r['peak']} MiB at {r['peak_at_s']:.0f} s, at {WARM_S:.0f} s {r['at_warm_up']} MiB, "
        f"end of load {r['end_of_load']} MiB (growth after warm-up {r['growth_after_warm_up']} MiB, "
        f"slope {r['slope_mib_per_min']} MiB/min), after the quiet period {r['after_quiet']} MiB",
        f"after {settle_s:.1f} s quiet: " + (", ".join(
            f"{k} {end[k]} (start {start[k] if k in ('client_fds', 'trestle_downstream_connections') else 0})"
            for k in back) if end else "no sample") +
        f"; upstream connections {end['trestle_upstream_connections'] if end else '?'} pooled, fds {end['fds'] if end else '?'}",
        "leaked: " + (", ".join(leaks) if leaks else "nothing"),
        "result: " + ("FAIL: " + "; ".join(problems) if problems else "PASS"),
    ]
    for example in RECORD.examples[:10]:
        lines.append(f"  failure: {example}")
    text = "\n".join(lines) + "\n"
    (REPORT_DIR / "mixed.txt").write_text(text)
    print(text, end="")
    print(f"report: {REPORT_DIR / 'mixed.json'}, {REPORT_DIR / 'mixed.txt'}")
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-testing", type=int, metavar="PORT")
    options = parser.parse_args()
    if options.serve_testing:
        serve_testing(options.serve_testing)
    else:
        sys.exit(main())

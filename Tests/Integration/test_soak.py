"""Soak: many concurrent slow server-streaming calls (`trestle load`) through one gateway worker in
front of `trestle demo-upstream`. Peak RSS and memory per stream are measured, and afterwards the
gateway's file descriptors (less its pooled upstream connections), active calls and held bytes
are back to their start values. The CI size is bounded (about 10 s); `scripts/soak` runs it larger
through the same environment variables:

    SOAK_CONNECTIONS (20) x SOAK_STREAMS (500) concurrent calls, each SOAK_MESSAGES (4) replies
    SOAK_DELAY_MS (500) apart, for SOAK_SECONDS (3) of measured load; SOAK_RSS_CAP_MIB (160).
"""
import json
import os
import re
import resource
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import harness

CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", 20))
STREAMS = int(os.environ.get("SOAK_STREAMS", 500))
MESSAGES = int(os.environ.get("SOAK_MESSAGES", 4))
DELAY_MS = int(os.environ.get("SOAK_DELAY_MS", 500))
SECONDS = float(os.environ.get("SOAK_SECONDS", 3))
RSS_CAP_MIB = float(os.environ.get("SOAK_RSS_CAP_MIB", 160))
DEMO_PB = harness.REPO / "routes" / "demo.pb"
SERVICE = "trestle.demo.v1.Echo"
WAIT = 10


def metrics(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=WAIT) as response:
        return response.read().decode()


def gauge(body, name):
    match = re.search(rf"^{name} (-?\d+)$", body, re.M)
    assert match, f"{name} not in /metrics"
    return int(match.group(1))


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.rss
def test_soak_slow_server_streams_peak_rss_and_nothing_leaks(gateway, tmp_path):
    streams = CONNECTIONS * STREAMS
    # The gateway needs one fd per client connection and per upstream connection; the generator
    # as many as its connections. Raise the soft limit to the hard one for both (inherited).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    up_port = harness.free_port()
    upstream = harness.Process("demo-upstream", [harness.TRESTLE_BIN, "demo-upstream", "--listen",
                                                 f"127.0.0.1:{up_port}", "--workers", "1"],
                               "trestle demo-upstream: ready")
    try:
        admin = harness.free_port()
        config = harness.routes([up_port], workers=1, max_connections=max(8, streams // 100 + 1),
                                max_pending=streams + 1024)
        config["admin"] = {"address": f"127.0.0.1:{admin}"}
        config["max_concurrent_streams"] = max(STREAMS, 100)
        config["routes"] = [{"service": SERVICE, "cluster": "testing", "timeout": "60s"}]
        gw = gateway(config)
        start = metrics(admin)
        start_fds = fds(gw.pid) - gauge(start, "trestle_upstream_connections")
        idle_kib = gw.vm_rss_kib()
        peak = {"kib": idle_kib, "active": 0}
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak["kib"] = max(peak["kib"], gw.vm_rss_kib())
                try:
                    peak["active"] = max(peak["active"], gauge(metrics(admin), "trestle_calls_active"))
                except OSError:
                    pass
                stop.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        out = tmp_path / "soak.json"
        data = json.dumps({"message": "soak", "count": MESSAGES, "delay_ms": DELAY_MS, "response_size": 64})
        argv = [str(harness.TRESTLE_BIN), "load", "--target", f"127.0.0.1:{gw.port}",
                "--method", f"/{SERVICE}/Expand", "--descriptor-set", str(DEMO_PB), "--data", data,
                "-c", str(CONNECTIONS), "-m", str(STREAMS), "-t", "1", "--duration", f"{SECONDS}s",
                "--grace", f"{MESSAGES * DELAY_MS / 1000 + 10}s", "--connect-timeout", "10s",
                "--json", str(out), "--quiet"]
        began = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS + MESSAGES * DELAY_MS / 1000 + 120)
        elapsed = time.monotonic() - began
        stop.set()
        watcher.join(5)
        assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}\n{done.stderr}"
        figures = json.loads(out.read_text())
        # After the load: every call ended, nothing held, client fds back to the start.
        deadline = time.monotonic() + WAIT
        while True:
            after = metrics(admin)
            end_fds = fds(gw.pid) - gauge(after, "trestle_upstream_connections")
            if (gauge(after, "trestle_calls_active") == 0 and gauge(after, "trestle_buffered_bytes") == 0
                    and gauge(after, "trestle_downstream_connections") == 0 and end_fds == start_fds):
                break
            assert time.monotonic() < deadline, (
                f"not back to start after {WAIT}s: fds {end_fds} (start {start_fds}), "
                f"active {gauge(after, 'trestle_calls_active')}, buffered {gauge(after, 'trestle_buffered_bytes')}, "
                f"downstream {gauge(after, 'trestle_downstream_connections')}")
            threading.Event().wait(0.05)
    finally:
        upstream.kill()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    peak_mib = peak["kib"] / 1024
    per_stream = (peak["kib"] - idle_kib) * 1024 / max(peak["active"], 1)
    print(f"soak: {streams} streams ({CONNECTIONS} x {STREAMS}), {figures['calls']} calls in {elapsed:.1f}s, "
          f"peak active {peak['active']}, RSS idle {idle_kib / 1024:.1f} MiB, peak {peak_mib:.1f} MiB, "
          f"{per_stream / 1024:.2f} KiB per stream; fds back to {start_fds}")
    assert figures["status"] == {"OK": figures["calls"]}, figures["status"]
    assert peak["active"] >= streams * 0.9, f"only {peak['active']} of {streams} calls were in flight at once"
    assert peak_mib < RSS_CAP_MIB, f"gateway peak RSS {peak_mib:.1f} MiB"

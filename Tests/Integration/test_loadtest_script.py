"""scripts/loadtest --quick: the one-command load test runs the standard suite against a demo
upstream and gateway it starts itself, and writes the reports (text, JSON, HTML with SVG plots)."""
import json
import os
import subprocess

import harness


def test_loadtest_quick_writes_every_report(tmp_path):
    out = tmp_path / "loadtest-report"
    env = dict(os.environ, TRESTLE_BIN=str(harness.TRESTLE_BIN))
    done = subprocess.run([str(harness.REPO / "scripts" / "loadtest"), "--quick", "--out", str(out)],
                          cwd=harness.REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    index = (out / "index.html").read_text()
    for name in ("grpc-unary", "json-unary", "server-streaming", "bidi-bulk"):
        assert f'href="{name}.html"' in index
        figures = json.loads((out / f"{name}.json").read_text())
        assert figures["calls"] > 0 and figures["ok"] == figures["calls"] and figures["errors"] == 0, figures
        assert figures["status"] == {"OK": figures["calls"]}
        assert figures["processes"][0]["cpu_us_per_call"] > 0  # the gateway's CPU, sampled by --pid
        html = (out / f"{name}.html").read_text()
        assert html.count("<svg") >= 2, f"{name}: the HTML report lacks its plots"
        assert "calls" in (out / f"{name}.txt").read_text()

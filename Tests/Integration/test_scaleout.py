"""Zero-downtime scale-out, simulated on one machine: three Trestle replicas behind an L4 balancer
(Debian's haproxy in TCP mode, health-checking /readyz on each admin port, standing in for a
Kubernetes Service), under `trestle load`; each replica in turn gets SIGTERM (drain), exits and
starts again. The load report must show no failed call: the draining replica's shutdown notice
keeps clients from sending it new streams before the final GOAWAY, its calls in flight finish,
and new connections go to the ready replicas."""
import json
import socket
import subprocess

import harness
from test_reload import until
from test_admin import curl, metric

DURATION = 8


def replica_routes(upstream_port):
    config = {
        "listeners": [{"address": f"127.0.0.1:{harness.free_port()}"}],
        "admin": {"address": f"127.0.0.1:{harness.free_port()}"},
        "workers": 1,
        "shutdown_grace": "5s",
        "clusters": [{"name": "demo", "endpoints": [f"127.0.0.1:{upstream_port}"]}],
        "routes": [{"service": "trestle.demo.v1.Echo", "cluster": "demo"}],
    }
    return config, int(config["admin"]["address"].rsplit(":", 1)[1])


def haproxy_config(port, replicas):
    servers = "\n".join(
        f"  server r{i} {config['listeners'][0]['address']} check port {admin} inter 100ms fall 1 rise 1"
        for i, (config, admin) in enumerate(replicas))
    return f"""global
  maxconn 1000
  stats socket {{stats}}
defaults
  mode tcp
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
frontend gateway
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{servers}
"""


def server_states(stats_socket):
    """haproxy's view of each backend server: {"r0": "UP", ...} (its stats socket)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(stats_socket))
        s.sendall(b"show stat\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    rows = [line.split(",") for line in out.decode().splitlines() if line.startswith("replicas,r")]
    return {row[1]: row[17] for row in rows}


def test_scaleout_rolling_restart_behind_haproxy_fails_no_call(tmp_path):
    upstream_port = harness.free_port()
    demo = harness.Process("demo-upstream", [harness.TRESTLE_BIN, "demo-upstream", "--listen",
                                             f"127.0.0.1:{upstream_port}"], "trestle demo-upstream: ready")
    replicas = [replica_routes(upstream_port) for _ in range(3)]
    gateways = [harness.Gateway(config, tmp_path) for config, _ in replicas]
    balancer_port = harness.free_port()
    stats = tmp_path / "haproxy.sock"
    (tmp_path / "haproxy.cfg").write_text(haproxy_config(balancer_port, replicas).replace("{stats}", str(stats)))
    haproxy = subprocess.Popen(["haproxy", "-f", str(tmp_path / "haproxy.cfg"), "-db"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    load = None
    try:
        until(lambda: stats.exists() and set(server_states(stats).values()) == {"UP"}, "haproxy to see every replica up")
        report = tmp_path / "load.json"
        load = subprocess.Popen(
            [str(harness.TRESTLE_BIN), "load", "--target", f"127.0.0.1:{balancer_port}",
             "--method", "/trestle.demo.v1.Echo/Echo", "--descriptor-set", str(harness.REPO / "routes" / "demo.pb"),
             "--data", '{"message": "hi"}', "-c", "6", "-m", "4", "--duration", f"{DURATION}s",
             "--json", str(report)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Every replica carries load before the first one goes.
        until(lambda: all(metric(curl(admin, "/metrics")[1], "trestle_calls_started_total") > 0
                          for _, admin in replicas), "the load to reach every replica")
        for i, (config, admin) in enumerate(replicas):
            gateways[i].stop()  # SIGTERM: drains, and the stop asserts a clean exit within the grace
            gateways[i] = harness.Gateway(config, tmp_path)
            # Before the next replica goes, the balancer must see this one up (the clients of the
            # next one reconnect through it; a restarted replica gets calls only from them: HTTP/2
            # clients keep their connections).
            until(lambda: server_states(stats).get(f"r{i}") == "UP", f"haproxy to see replica {i} up again")
        output, _ = load.communicate(timeout=DURATION + 30)
        assert load.returncode == 0, output
        result = json.loads(report.read_text())
        assert result["calls"] > 1000, result
        assert result["errors"] == 0, (result["status"], result["transport_errors"])
        assert result["status"] == {"OK": result["calls"]}
        assert not any(result["transport_errors"].values()), result["transport_errors"]
    finally:
        if load and load.poll() is None:
            load.kill()
        haproxy.terminate()
        haproxy.wait(5)
        for gw in gateways:
            gw.stop()
        demo.kill()

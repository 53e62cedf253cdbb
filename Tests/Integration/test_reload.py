"""Hot reload on SIGHUP: new calls follow the new routes file, a call in flight finishes on the
config it started on (its upstream too, even when the reload removed that cluster), an invalid
file keeps the old config serving and is counted; /config shows what is in effect."""
import json
import os
import queue
import signal
import time

import grpc

import harness
from test_admin import curl, metric
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 5


def two_cluster_routes(a_port, b_port, route_to, *, keep_a=True, workers=2):
    config = harness.routes([a_port], workers=workers)
    config["clusters"][0]["name"] = "a"
    clusters = [config["clusters"][0]] if keep_a else []
    b = dict(config["clusters"][0], name="b", endpoints=[f"127.0.0.1:{b_port}"])
    config["clusters"] = clusters + [b]
    config["routes"][0]["cluster"] = route_to
    config["admin"] = {"address": f"127.0.0.1:{harness.free_port()}"}
    return config


def admin_port(config):
    return int(config["admin"]["address"].rsplit(":", 1)[1])


def config_json(admin):
    status, body = curl(admin, "/config")
    assert status == 200
    return json.loads(body)


def until(predicate, what, timeout=WAIT):
    return harness.until(predicate, what, timeout)


def reload(gw, config, admin, generation):
    harness.write_routes(config, gw.config_path)
    os.kill(gw.pid, signal.SIGHUP)
    until(lambda: config_json(admin)["applied_generation"] == generation, f"config {generation} on every worker")


def unary_calls(service):
    return sum(1 for rec in service.calls if rec.method == "UnaryCall")


class Bidi:
    """A FullDuplexCall whose requests the test sends one at a time."""

    def __init__(self, stub, call_id):
        self._requests = queue.Queue()
        self._responses = stub.FullDuplexCall(iter(self._requests.get, None), metadata=[("x-test-id", call_id)],
                                              timeout=30)

    def echo(self, body):
        self._requests.put(messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=body)))
        return next(self._responses).payload.body

    def close(self):
        self._requests.put(None)
        assert list(self._responses) == []
        return self._responses.code()


def test_reload_sighup_moves_new_calls_while_a_bidi_stream_finishes_on_the_removed_cluster(upstream, gateway):
    a, b = upstream(), upstream()
    config = two_cluster_routes(a.port, b.port, "a")
    admin = admin_port(config)
    gw = gateway(config)
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        stream = Bidi(stub, "long-stream")
        assert stream.echo(b"before") == b"before"
        stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
        assert (unary_calls(a.service), unary_calls(b.service)) == (1, 0)

        # The new file routes the service to b and no longer has cluster a at all.
        reload(gw, two_cluster_routes(a.port, b.port, "b", keep_a=False) | {
            "listeners": config["listeners"], "admin": config["admin"]}, admin, 2)
        for _ in range(5):
            stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
        assert (unary_calls(a.service), unary_calls(b.service)) == (1, 5)

        # The stream opened before the reload goes on, to a, and ends normally.
        for i in range(3):
            assert stream.echo(b"after %d" % i) == b"after %d" % i
        assert stream.close() == grpc.StatusCode.OK
        record = a.service.record("long-stream")
        assert len(record.request_digests) == 4
        assert not any(rec.method == "FullDuplexCall" for rec in b.service.calls)

        # The removed cluster's connection closes once its last stream has ended: only b's is left.
        until(lambda: metric(curl(admin, "/metrics")[1], "trestle_upstream_connections") == 1,
              "the connection to the removed cluster to close")
        # New streams go to b.
        assert Bidi(stub, "new-stream").echo(b"x") == b"x"
        assert b.service.record("new-stream").method == "FullDuplexCall"

    state = config_json(admin)
    assert [c["name"] for c in state["clusters"]] == ["b"]
    assert state["routes"][0]["cluster"] == "b"
    _, metrics = curl(admin, "/metrics")
    assert metric(metrics, "trestle_config_reloads_total") == 1
    assert metric(metrics, "trestle_config_reload_failures_total") == 0
    assert "clusters a replaced" in gw.output()


def test_reload_invalid_file_keeps_the_old_config_and_counts_the_failure(upstream, gateway):
    a, b = upstream(), upstream()
    config = two_cluster_routes(a.port, b.port, "a")
    admin = admin_port(config)
    gw = gateway(config)
    broken = dict(config, routes=[dict(config["routes"][0], cluster="nope")])
    harness.write_routes(broken, gw.config_path)
    os.kill(gw.pid, signal.SIGHUP)
    until(lambda: metric(curl(admin, "/metrics")[1], "trestle_config_reload_failures_total") == 1,
          "the failed reload to be counted")
    # The error names the file, line and column.
    line = next(n for n, text in enumerate(gw.config_path.read_text().splitlines(), 1) if "nope" in text)
    assert f"{gw.config_path}:{line}:" in gw.output()
    assert 'cluster "nope" is not defined' in gw.output()

    # A YAML syntax error too.
    gw.config_path.write_text("listeners: [\n")
    os.kill(gw.pid, signal.SIGHUP)
    until(lambda: metric(curl(admin, "/metrics")[1], "trestle_config_reload_failures_total") == 2,
          "the second failed reload to be counted")
    assert f"{gw.config_path}:2:1: invalid YAML" in gw.output()

    # Still ready, still on config 1, calls still go to a.
    assert curl(admin, "/readyz") == (200, "ready\n")
    state = config_json(admin)
    assert (state["generation"], state["applied_generation"], state["failed_reloads"]) == (1, 1, 2)
    assert "invalid YAML" in state["last_reload_error"]
    with harness.channel(gw.port) as ch:
        stub = test_pb2_grpc.TestServiceStub(ch)
        for _ in range(3):
            stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
    assert (unary_calls(a.service), unary_calls(b.service)) == (3, 0)
    assert metric(curl(admin, "/metrics")[1], "trestle_config_reloads_total") == 0

    # A valid file after the broken ones applies.
    reload(gw, dict(config, routes=[dict(config["routes"][0], cluster="b")]), admin, 2)
    assert config_json(admin)["last_reload_error"] is None
    with harness.channel(gw.port) as ch:
        test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
    assert unary_calls(b.service) == 1


def test_reload_of_listeners_is_applied_at_restart_only(upstream, gateway):
    a = upstream()
    config = two_cluster_routes(a.port, a.port, "a", workers=1)
    admin = admin_port(config)
    gw = gateway(config)
    moved = dict(config, listeners=[{"address": f"127.0.0.1:{harness.free_port()}"}],
                 routes=[dict(config["routes"][0], timeout="7s")], min_rate="2KiB", stream_idle_timeout="90s")
    assert config_json(admin)["limits"]["min_rate"] == 1024
    reload(gw, moved, admin, 2)
    assert "listeners changed" in gw.output()
    state = config_json(admin)
    assert state["listeners"] == [config["listeners"][0]["address"]]  # still the old port
    assert state["routes"][0]["timeout_ms"] == 7000                   # the rest applied
    assert (state["limits"]["min_rate"], state["limits"]["stream_idle_timeout_ms"]) == (2048, 90_000)
    with harness.channel(gw.port) as ch:
        test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)


def test_admin_config_shows_the_routes_and_clusters_in_effect(upstream, gateway):
    a, b = upstream(), upstream()
    config = two_cluster_routes(a.port, b.port, "b")
    admin = admin_port(config)
    gateway(config)
    state = config_json(admin)
    assert state["generation"] == 1 and state["applied_generation"] == 1
    assert state["workers"] == 2
    assert state["listeners"] == [config["listeners"][0]["address"]]
    assert [(c["name"], c["endpoints"]) for c in state["clusters"]] == [
        ("a", [f"127.0.0.1:{a.port}"]), ("b", [f"127.0.0.1:{b.port}"])]
    assert state["clusters"][0]["connect_timeout_ms"] == 2000
    assert state["routes"] == [{"service": "grpc.testing.TestService", "cluster": "b", "timeout_ms": 30000,
                                "max_request_body": 4 << 20}]
    assert state["limits"] == {"connection_window": 16 << 20, "max_buffered_per_worker": 512 << 20,
                               "max_connections_per_worker": 10_000, "max_header_list_size": 64 << 10,
                               "max_header_fields": 100, "min_rate": 1024, "min_rate_window_ms": 10_000,
                               "stream_idle_timeout_ms": 300_000}
    assert curl(admin, "/config/x")[0] == 404
    assert curl(admin, "/") == (404, "not found: the admin endpoint serves /healthz, /readyz, /metrics and /config\n")
    assert curl(admin, "/config", "-X", "DELETE")[0] == 405


def test_reload_watch_follows_the_routes_file_and_its_descriptor_sets(upstream, gateway, tmp_path):
    a, b = upstream(), upstream()
    config = two_cluster_routes(a.port, b.port, "a")
    (tmp_path / "demo.pb").write_bytes((harness.REPO / "routes" / "demo.pb").read_bytes())
    config["descriptors"] = ["demo.pb"]  # relative to the routes file
    admin = admin_port(config)
    gw = gateway(config, args=["--watch"])

    def reloads():
        _, body = curl(admin, "/metrics")
        return metric(body, "trestle_config_reloads_total"), metric(body, "trestle_config_reload_failures_total")

    # Written in place.
    harness.write_routes(dict(config, routes=[dict(config["routes"][0], cluster="b")]), gw.config_path)
    until(lambda: config_json(admin)["applied_generation"] == 2, "the change to be applied")
    with harness.channel(gw.port) as ch:
        test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
    assert (unary_calls(a.service), unary_calls(b.service)) == (0, 1)

    # Replaced by a rename, as editors and Kubernetes ConfigMap volumes do.
    staged = tmp_path / "routes.new"
    harness.write_routes(dict(config, routes=[dict(config["routes"][0], cluster="a")]), staged)
    os.replace(staged, gw.config_path)
    until(lambda: config_json(admin)["applied_generation"] == 3, "the renamed file to be applied")
    assert config_json(admin)["routes"][0]["cluster"] == "a"

    # A descriptor set the file names: a broken one is a failed reload, the good one again applies.
    (tmp_path / "demo.pb").write_bytes(b"\xff\xff not a descriptor set")
    until(lambda: reloads() == (2, 1), "the broken descriptor set to be noticed")
    assert "demo.pb" in config_json(admin)["last_reload_error"]
    (tmp_path / "demo.pb").write_bytes((harness.REPO / "routes" / "demo.pb").read_bytes())
    until(lambda: reloads() == (3, 1), "the repaired descriptor set to be applied")
    with harness.channel(gw.port) as ch:
        test_pb2_grpc.TestServiceStub(ch).UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)
    assert unary_calls(a.service) == 1


def test_reload_sd_notify_tells_systemd_ready_reloading_and_stopping(upstream, gateway, tmp_path):
    """A Type=notify unit's side of the protocol: a Unix datagram socket named by NOTIFY_SOCKET."""
    import socket
    a = upstream()
    config = two_cluster_routes(a.port, a.port, "a", workers=2)
    admin = admin_port(config)
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(path))
        manager.settimeout(WAIT)
        gw = gateway(config, env={"NOTIFY_SOCKET": str(path)})
        ready = manager.recv(4096).decode()
        assert ready.splitlines()[0] == "READY=1"
        assert curl(admin, "/readyz") == (200, "ready\n")  # told only once the workers run

        os.kill(gw.pid, signal.SIGHUP)
        reloading, after = manager.recv(4096).decode(), manager.recv(4096).decode()
        assert reloading.splitlines()[0] == "RELOADING=1"
        assert reloading.splitlines()[1].startswith("MONOTONIC_USEC=")
        assert after.splitlines() == ["READY=1", "STATUS=config 2"]

        gw.stop()
        assert manager.recv(4096).decode() == "STOPPING=1"

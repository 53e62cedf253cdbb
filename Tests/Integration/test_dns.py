"""Endpoints given by host name: every address of the answer is an endpoint, the name is looked up
again on an interval and after a failed connect, and a failed lookup keeps the last good set.

The gateway runs in a private mount namespace (`unshare -m`) where /etc/hosts is a file the test
writes, so names resolve as the test says and no outside network is involved."""
import time
from concurrent import futures

import grpc
import pytest

import harness
import interop_server
from test_admin import curl, metric
from test_reload import until
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 5


class HostsGateway(harness.Process):
    """`trestle serve` with /etc/hosts replaced (bind mount) by `hosts`, a file the test rewrites in
    place (the mount follows the inode)."""

    def __init__(self, config, tmp_path, hosts_text):
        self.port = int(config["listeners"][0]["address"].rsplit(":", 1)[1])
        self.hosts = tmp_path / "hosts"
        self.hosts.write_text(hosts_text)
        self.config_path = harness.write_routes(config, tmp_path / "routes.yaml")
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        super().__init__("trestle (private /etc/hosts)",
                         ["unshare", "-m", "sh", "-c", script, self.hosts,
                          harness.TRESTLE_BIN, "serve", "--config", self.config_path], "trestle: ready")

    def set_hosts(self, text):
        with open(self.hosts, "r+") as f:  # in place: a rename would leave the mount on the old file
            f.truncate(0)
            f.write(text)


@pytest.fixture
def hosts_gateway(request, tmp_path):
    started = []

    def start(config, hosts_text):
        started.append(HostsGateway(config, tmp_path, hosts_text))
        request.node.processes = getattr(request.node, "processes", []) + [started[-1]]
        return started[-1]

    yield start
    for gw in started:
        gw.stop()


def server_on(addresses):
    """A TestService listening on each of `addresses` (host, port); port 0 takes the first free one
    and uses it for the rest. Returns (server, port, service)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=interop_server.OPTIONS)
    service = interop_server.TestService()
    interop_server.test_pb2_grpc.add_TestServiceServicer_to_server(service, server)
    port = 0
    for host, p in addresses:
        bound = server.add_insecure_port(f"{host}:{p or port}")
        assert bound, f"cannot listen on {host}:{p or port}"
        port = port or bound
    server.start()
    return server, port, service


def dns_routes(endpoint, **cluster):
    config = harness.routes([1], workers=1, **cluster)
    config["clusters"][0]["endpoints"] = [endpoint]
    config["admin"] = {"address": f"127.0.0.1:{harness.free_port()}"}
    return config, int(config["admin"]["address"].rsplit(":", 1)[1])


def call(stub):
    return stub.UnaryCall(messages_pb2.SimpleRequest(response_size=1), timeout=WAIT)


def unary(service):
    return sum(1 for rec in service.calls if rec.method == "UnaryCall")


def test_dns_localhost_resolves_to_both_loopback_families(hosts_gateway):
    server, port, service = server_on([("127.0.0.1", 0), ("[::1]", 0)])
    try:
        config, _ = dns_routes(f"localhost:{port}")
        gw = hosts_gateway(config, "127.0.0.1 localhost\n::1 localhost\n")
        with harness.channel(gw.port) as ch:
            stub = test_pb2_grpc.TestServiceStub(ch)
            for _ in range(6):
                call(stub)
        families = sorted(peer.split(":")[0] for peer in service.peers())
        assert families == ["ipv4", "ipv6"], service.peers()
        # Round robin per call over the two addresses.
        per_family = [sum(1 for rec in service.calls if rec.peer.startswith(f)) for f in ("ipv4", "ipv6")]
        assert per_family == [3, 3]
    finally:
        server.stop(0).wait(5)


def test_dns_a_changed_name_is_followed_and_a_failed_lookup_keeps_the_last_answer(hosts_gateway):
    a_server, port, a = server_on([("127.0.0.1", 0)])
    b_server, _, b = server_on([("127.0.0.2", port)])
    try:
        config, admin = dns_routes(f"upstream.test:{port}", dns_refresh="100ms")
        gw = hosts_gateway(config, "127.0.0.1 upstream.test\n")
        with harness.channel(gw.port) as ch:
            stub = test_pb2_grpc.TestServiceStub(ch)
            call(stub)
            assert (unary(a), unary(b)) == (1, 0)

            # The name moves: within a few refresh intervals new calls go to the new address.
            gw.set_hosts("127.0.0.2 upstream.test\n")

            def moved():
                call(stub)
                return unary(b) > 0
            until(moved, "calls to follow the name to 127.0.0.2")
            before = unary(a)
            for _ in range(3):
                call(stub)
            assert unary(a) == before and unary(b) >= 4
            # The address that left the answer drains: its connection closes.
            until(lambda: metric(curl(admin, "/metrics")[1], "trestle_upstream_connections") == 1,
                  "the connection to the departed address to close")

            # The name stops resolving: the last answer stays in use, logged and counted.
            gw.set_hosts("127.0.0.9 something.else\n")
            until(lambda: metric(curl(admin, "/metrics")[1], "trestle_upstream_dns_failures_total") >= 1,
                  "a failed lookup to be counted")
            count = unary(b)
            for _ in range(3):
                call(stub)
            assert unary(b) == count + 3
        assert "cannot resolve upstream.test" in gw.output()
        assert "keeping the 1 addresses of the last answer" in gw.output()
    finally:
        a_server.stop(0).wait(5)
        b_server.stop(0).wait(5)


def test_dns_a_failed_connect_looks_the_name_up_again(hosts_gateway):
    """With a refresh interval far longer than the test, only the failed connect can make the
    gateway see that the name moved."""
    a_server, port, a = server_on([("127.0.0.1", 0)])
    b_server, _, b = server_on([("127.0.0.2", port)])
    try:
        config, _ = dns_routes(f"upstream.test:{port}", dns_refresh="10m", backoff_base="10ms", backoff_max="50ms")
        gw = hosts_gateway(config, "127.0.0.2 upstream.test\n")
        with harness.channel(gw.port) as ch:
            stub = test_pb2_grpc.TestServiceStub(ch)
            call(stub)
            assert unary(b) == 1
            gw.set_hosts("127.0.0.1 upstream.test\n")
            b_server.stop(0).wait(5)   # the old address refuses connections now

            def served_by_a():
                try:
                    call(stub)
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                    return False
                return True
            until(served_by_a, "a call to reach the name's new address")
            assert unary(a) == 1
    finally:
        a_server.stop(0).wait(5)
        b_server.stop(0).wait(5)

"""Fixtures for the integration tests: the trestle gateway as a process between grpcio clients and
grpcio upstream servers. TRESTLE_BIN names the binary (default .build/release/trestle)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROTO_ROOT = Path("/usr/share/grpc-proto")  # Debian's grpc-proto
PROTOS = ("test.proto", "messages.proto", "empty.proto")


def _generate_stubs():
    """grpc/testing/*.proto -> _gen/testing_stubs/*_pb2*.py. The protos are copied under another
    folder first: their Python package would otherwise be `grpc.testing`, inside grpcio's own."""
    gen = HERE / "_gen"
    shutil.rmtree(gen, ignore_errors=True)
    staged = gen / "proto" / "testing_stubs"
    staged.mkdir(parents=True)
    for name in PROTOS:
        text = (PROTO_ROOT / "grpc" / "testing" / name).read_text()
        (staged / name).write_text(text.replace('import "grpc/testing/', 'import "testing_stubs/'))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{gen / 'proto'}",
                    f"--python_out={gen}", f"--grpc_python_out={gen}",
                    *(f"testing_stubs/{name}" for name in PROTOS)], check=True)


_generate_stubs()

import harness  # noqa: E402  (imports the stubs just generated)
from testing_stubs import test_pb2_grpc  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report shows what the gateway and upstream processes printed."""
    report = (yield).get_result()
    if report.failed:
        for process in getattr(item, "processes", []):
            report.sections.append((f"output of {process.name}", process.output() or "(nothing)"))


@pytest.fixture
def upstream():
    """upstream() starts an in-process grpc.testing.TestService; .port, .service (the servicer).
    upstream(options=[...]) gives its grpcio server more channel arguments."""
    started = []

    def start(options=()):
        started.append(harness.InProcessUpstream(options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def upstream_process(request):
    """upstream_process() starts the TestService as a separate process (which a test may kill -9)."""
    started = []

    def start():
        started.append(harness.ProcessUpstream())
        request.node.processes = getattr(request.node, "processes", []) + [started[-1]]
        return started[-1]

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def gateway(request, tmp_path):
    """gateway(config) writes the routes file, starts `trestle serve`, waits for its ready line and
    returns it (.pid, .port, .proc, .output()); teardown SIGTERMs it and asserts a clean exit."""
    started = []

    def start(config, args=(), env=None):
        started.append(harness.Gateway(config, tmp_path, args, env))
        request.node.processes = getattr(request.node, "processes", []) + [started[-1]]
        return started[-1]

    yield start
    failures = []
    for gw in started:
        try:
            gw.stop()
        except AssertionError as error:
            failures.append(str(error))
        # Under `scripts/test --sanitize`: any sanitizer report fails the test that ran the
        # gateway, even one the process survived or one from a gateway the test killed.
        report = next((line for line in gw.output().splitlines() if SANITIZER_REPORT.search(line)), None)
        if report:
            failures.append(f"{gw.name}: sanitizer report: {report}\n{gw.output()}")
    assert not failures, "\n".join(failures)


SANITIZER_REPORT = re.compile(r"^(==\d+==ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|SUMMARY: \w+Sanitizer)")


class Relay:
    """One upstream, the gateway in front of it, and a client channel to the gateway."""

    def __init__(self, upstream, gateway, channel):
        self.upstream = upstream
        self.service = upstream.service
        self.gateway = gateway
        self.channel = channel
        self.stub = test_pb2_grpc.TestServiceStub(channel)


@pytest.fixture
def relay(upstream, gateway):
    up = upstream()
    gw = gateway(harness.routes([up.port]))
    with harness.channel(gw.port) as ch:
        yield Relay(up, gw, ch)


@pytest.fixture(scope="session")
def testing_pb(tmp_path_factory):
    """grpc/testing/test.proto's FileDescriptorSet with its imports (for `descriptors:`): the
    TestService's messages, and no google/* file at all."""
    out = tmp_path_factory.mktemp("testing_pb") / "testing.pb"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", "--include_imports",
                    f"--descriptor_set_out={out}", "grpc/testing/test.proto"], check=True)
    return out

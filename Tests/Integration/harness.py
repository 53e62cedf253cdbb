"""Processes and helpers the integration tests share: the gateway, upstream servers, channels, ports."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import yaml

import interop_server

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TRESTLE_BIN = Path(os.environ.get("TRESTLE_BIN", REPO / ".build" / "release" / "trestle"))

READY_TIMEOUT = 15.0  # seconds for `trestle: ready` (or `listening PORT`) to appear
STOP_TIMEOUT = 15.0   # seconds for a process to exit after SIGTERM (the test configs use 5 s of grace)

CHANNEL_OPTIONS = interop_server.OPTIONS + [
    ("grpc.use_local_subchannel_pool", 1),  # no connection shared between tests
    ("grpc.enable_retries", 0),             # see the gateway's own answers, never a retry's
]


_given_ports = set()


def free_port():
    """A port nothing listens on now, and that this process has not handed out before: the
    kernel may give a just-closed ephemeral port twice in a row (a listener and the admin
    address of one config then collided)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def routes(endpoints, *, workers=2, route_timeout="30s", shutdown_grace="5s", **cluster):
    """A routes file (as a dict) with one listener on a free port, sending grpc.testing.TestService
    to one cluster of the given upstream ports; keyword arguments override cluster settings."""
    return {
        "listeners": [{"address": f"127.0.0.1:{free_port()}"}],
        "workers": workers,
        "shutdown_grace": shutdown_grace,
        "clusters": [{
            "name": "testing",
            "endpoints": [f"127.0.0.1:{port}" for port in endpoints],
            "connect_timeout": "2s",
            "max_connections": 8,
            "max_streams_per_connection": 100,
            "max_pending": 1024,
            **cluster,
        }],
        "routes": [{"service": "grpc.testing.TestService", "cluster": "testing",
                    "timeout": route_timeout}],
    }


def write_routes(config, path):
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def channel(port):
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)


class Process:
    """A child process whose merged stdout/stderr is read line by line, all the time, by a thread,
    so that the pipe never fills; `output()` is everything it printed so far."""

    def __init__(self, name, argv, ready_prefix, env=None):
        self.name = name
        self._lines = []
        self._ready_line = None
        self._eof = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=None if env is None else {**os.environ, **env})
        self._reader = threading.Thread(target=self._drain, args=(ready_prefix,), daemon=True)
        self._reader.start()
        self.ready_line = self._wait_ready(ready_prefix)

    @property
    def pid(self):
        return self.proc.pid

    def _drain(self, ready_prefix):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            with self._cond:
                self._lines.append(line)
                if self._ready_line is None and line.startswith(ready_prefix):
                    self._ready_line = line.strip()
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _wait_ready(self, ready_prefix):
        with self._cond:
            self._cond.wait_for(lambda: self._ready_line or self._eof, READY_TIMEOUT)
            line = self._ready_line
        if line is None:
            self.kill()
            raise AssertionError(f"{self.name} did not print {ready_prefix!r} within {READY_TIMEOUT}s "
                                 f"(exit code {self.proc.returncode}); output:\n{self.output()}")
        return line

    def output(self):
        with self._cond:
            return "".join(self._lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(5)

    def stop(self):
        """SIGTERM; assert that it exits, with code 0, within STOP_TIMEOUT (killed after that)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} still running {STOP_TIMEOUT}s after SIGTERM; "
                                 f"killed. Output:\n{self.output()}")
        self._reader.join(5)
        assert code == 0, f"{self.name} exited with {code} after SIGTERM; output:\n{self.output()}"


class Gateway(Process):
    def __init__(self, config, tmp_path, args=(), env=None):
        address = config["listeners"][0]["address"]
        self.port = int(address.rsplit(":", 1)[1])
        self.config_path = write_routes(config, tmp_path / f"routes-{self.port}.yaml")
        if not os.access(TRESTLE_BIN, os.X_OK):
            raise AssertionError(f"no trestle binary at {TRESTLE_BIN}: build it (swift build -c release "
                                 f"--product trestle) or set TRESTLE_BIN")
        super().__init__(f"trestle ({address})",
                         [TRESTLE_BIN, "serve", "--config", self.config_path, *args], "trestle: ready", env)

    def vm_hwm_kib(self):
        """Peak resident set size of the gateway process, in KiB."""
        return self._status_kib("VmHWM")

    def vm_rss_kib(self):
        """Resident set size of the gateway process now, in KiB."""
        return self._status_kib("VmRSS")

    def _status_kib(self, field):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/PID/status")


def metric(admin, name, label=None):
    """The value of one sample on the admin port's /metrics (`label`: its `{...}` as printed)."""
    import re
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as response:
        body = response.read().decode()
    match = re.search(rf"^{re.escape(name)}{re.escape(label) if label else ''} (-?\d+)$", body, re.M)
    assert match, f"{name}{label or ''} not in /metrics:\n{body}"
    return int(match.group(1))


class RawServer:
    """A listening socket on 127.0.0.1 (`.port`) whose connections are each served by the
    subclass's `_serve(conn)` on a thread of its own: the tests' raw HTTP/2 upstreams. A subclass
    sets its own state before calling `super().__init__()` (a connection may arrive at once)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        raise NotImplementedError

    def stop(self):
        self.sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class InProcessUpstream:
    def __init__(self, options=()):
        self.server, self.port, self.service = interop_server.serve(options=options)

    def stop(self):
        self.server.stop(grace=0).wait(10)


class ProcessUpstream(Process):
    def __init__(self):
        super().__init__("upstream", [sys.executable, HERE / "interop_server.py", "--port", "0"],
                         "listening ")
        self.port = int(self.ready_line.split()[1])


STALL_QUIET = 0.5   # seconds without progress after which a counter counts as stalled
STALL_LIMIT = 10    # seconds a counter may keep moving before stalled_at gives up


def stalled_at(read, ceiling, quiet=STALL_QUIET, limit=STALL_LIMIT):
    """Observes a progress counter (`read()`) until it stops moving — unchanged for `quiet` seconds —
    and returns its value. This is observation, not synchronisation: a stalled stream shows no
    progress however long it is watched; `quiet` only decides when to stop watching. Returns at once
    when the value passes `ceiling` (the caller's assertion then fails); fails if the counter is
    still moving after `limit` seconds."""
    start = changed = time.monotonic()
    last = read()
    while True:
        now = time.monotonic()
        value = read()
        if value > ceiling:
            return value
        if value != last:
            last, changed = value, now
        elif now - changed >= quiet:
            return value
        if now - start > limit:
            raise AssertionError(f"no stall: progress still at {value} after {limit}s")
        threading.Event().wait(0.01)  # the polling interval of the observation


def until(predicate, what, timeout=10.0):
    """Polls `predicate` (observing a state, not sleeping for it) until it returns a true value,
    which is returned; fails after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.02)  # the polling interval


def status_of(call):
    """(code, details, seconds) of a call that must fail: `call` is a no-argument function."""
    start = time.monotonic()
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error.details(), time.monotonic() - start
    raise AssertionError("the call succeeded; it was expected to fail")


def wait_refused(port, timeout):
    """True once connecting to 127.0.0.1:port is refused, within `timeout` seconds. For another
    process's listener that closes asynchronously: this observes it, it does not pace the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            continue  # queued on the listener as it closed: the next attempt tells
        threading.Event().wait(0.01)
    return False

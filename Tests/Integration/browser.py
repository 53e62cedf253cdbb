"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: JSON commands written to its fd 3, replies read from its fd 4, each
ended by a NUL byte), so that a test can load a page and read back what its script recorded.
(`--dump-dom` returns before a page's fetch() settles, so it cannot be used for that.)"""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="trestle-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        os.set_inheritable(to_browser_r, True)
        os.set_inheritable(from_browser_w, True)

        def child_fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # The fds to keep are numbers: 3 and 4 are made in the child (close_fds runs after preexec_fn).
            preexec_fn=child_fds, pass_fds=(3, 4), close_fds=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies = {}
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                data = os.read(self._from_browser, 65536)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self._replies[None] = "eof"
                    self._cond.notify_all()
                return
            buf += data
            while b"\0" in buf:
                raw, _, buf = buf.partition(b"\0")
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()

    def command(self, method, params=None, session=None, timeout=20):
        self._next_id += 1
        mid = self._next_id
        message = {"id": mid, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        with self._cond:
            ok = self._cond.wait_for(lambda: mid in self._replies or None in self._replies, timeout)
            reply = self._replies.pop(mid, None)
        assert ok and reply is not None, f"no reply to {method} from chromium"
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    def open(self, url):
        """A new tab at `url`; returns its session id."""
        target = self.command("Target.createTarget", {"url": url})["targetId"]
        return self.command("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def evaluate(self, session, expression):
        result = self.command("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result["result"].get("value")

    def wait_for(self, session, expression, timeout=20):
        """Polls `expression` in the page until it is not null (the page's script sets it when done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(session, expression)
            if value is not None:
                return value
            threading.Event().wait(0.05)  # polling interval of the observation
        raise AssertionError(f"the page did not set {expression} within {timeout}s")

    def close(self):
        try:
            os.close(self._to_browser)
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

"""The RSS figures of two attacks in README "Hardening", measured the way issue 9 measured them,
against any build (TRESTLE_BIN; an older commit built with `--scratch-path .build-old` gives the
"before"): one gateway worker in front of a grpcio TestService, its VmRSS read from /proc every
5 ms while the attack runs.

  hpack       three 16 KiB HEADERS frames on one connection referencing one 3.7 KB dynamic-table
              entry ~16,000 times each (~165 MiB decoded): start, peak, and RSS once the attacker
              is gone and the gateway has served a legitimate call; what the attacker got.
  slow-heads  200 HTTP/1.1 connections each sending one byte of a request head per second, with
              the default preface_timeout (10 s), observed for 14 s: how many were closed and
              when, what they got, peak RSS, RSS after. Once with a GET head, once with a POST.

Usage: TRESTLE_BIN=.build/release/trestle python3 Tests/Integration/attack_rss.py [hpack|slow-heads]...
(not a test: the tests with the same attacks and bounds are in test_hardening.py)."""
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
(HERE / "_gen").mkdir(exist_ok=True)  # on sys.path before conftest (re)generates the stubs in it
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "_gen"))

import conftest  # noqa: E402,F401  (generates the grpc.testing stubs)
import harness  # noqa: E402
import test_hardening as th  # noqa: E402


def settled_rss(gw, quiet_s=1.0, limit_s=10.0):
    """VmRSS once it has not changed for `quiet_s` (observed, up to `limit_s`), in MiB."""
    start = changed = time.monotonic()
    last = gw.vm_rss_kib()
    while time.monotonic() - changed < quiet_s and time.monotonic() - start < limit_s:
        th.threading.Event().wait(0.05)  # the polling interval of the observation
        now = gw.vm_rss_kib()
        if now != last:
            last, changed = now, time.monotonic()
    return last / 1024


def with_gateway(run, **keys):
    up = harness.InProcessUpstream()
    tmp = Path(tempfile.mkdtemp(prefix="attack-rss-"))
    gw = harness.Gateway(th.config_for(up, harness.free_port(), **keys), tmp)
    try:
        return run(gw, up)
    finally:
        gw.kill()
        up.stop()


def hpack(gw, up):
    idle = settled_rss(gw)
    watch = th.RSSWatch(gw)
    attacker = th.Attacker(gw.port)
    sids, decoded = th.send_hpack_bomb(attacker)
    began = time.monotonic()  # the last block sent
    while (not all(s in attacker.trailers or s in attacker.resets for s in sids) and not attacker.closed
           and time.monotonic() - began < 30):
        attacker.pump(0.05)
    took = time.monotonic() - began
    answers = [(attacker.headers.get(s, {}).get(":status"), attacker.headers.get(s, {}).get("grpc-status"),
                (attacker.trailers.get(s) or {}).get("grpc-message"), attacker.resets.get(s)) for s in sids]
    attacker.close()
    th.legit_call(gw.port)
    peak = watch.stop()
    after = settled_rss(gw)
    reached = len(up.service.calls) - 1
    print(f"hpack bomb ({decoded / th.MiB:.0f} MiB decoded from 3 x 16 KiB): RSS idle {idle:.1f} MiB, "
          f"peak {peak:.1f} MiB, after {after:.1f} MiB; answered {took:.2f} s after the last block: "
          f"{answers}; calls that reached the upstream: {reached}")


def slow_heads(gw, up, head, label):
    idle = settled_rss(gw)
    watch = th.RSSWatch(gw)
    served = []
    results = th.trickle_heads(gw.port, 200, 1.0, 14, head=head,
                               on_second=lambda: served.append(th.legit_call(gw.port)))
    peak = watch.stop()
    after = settled_rss(gw)
    closed = sorted(t for _, t in results if t is not None)
    answers = {}
    for answer, _ in results:
        key = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(nothing)"
        answers[key] = answers.get(key, 0) + 1
    span = f", after {closed[0]:.2f}-{closed[-1]:.2f} s" if closed else ""
    print(f"slow heads ({label}, 200 connections, a byte a second, preface_timeout 10 s, 14 s): "
          f"closed {len(closed)}{span}; answers {answers}; legitimate call {'ok' if served == [None] else 'FAILED'}; "
          f"RSS idle {idle:.1f} MiB, peak {peak:.1f} MiB, after {after:.1f} MiB")


def main(argv):
    print(f"build: {harness.TRESTLE_BIN}")
    for attack in argv or ["hpack", "slow-heads"]:
        if attack == "hpack":
            with_gateway(hpack)
        elif attack == "slow-heads":
            with_gateway(lambda gw, up: slow_heads(gw, up, th.SLOW_HEAD, "GET"))
            post = b"POST /grpc.testing.TestService/UnaryCall HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
            with_gateway(lambda gw, up: slow_heads(gw, up, post, "POST"))
        else:
            sys.exit(f"unknown attack {attack!r}: hpack or slow-heads")


if __name__ == "__main__":
    main(sys.argv[1:])

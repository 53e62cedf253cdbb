#!/usr/bin/env python3
"""Measurement half of scripts/bench (which starts and stops the servers).

  bench_lib.py run   --upstream PORT:PID --trestle PORT:PID --nghttpx PORT:PID ... -- NGHTTPX-CMD
  bench_lib.py bidi  PORT MIB                                                       one grpcio Chat stream

Process CPU is utime+stime from /proc/PID/stat (fields 14, 15) summed over the process and all its
descendants; peak RSS is VmHWM from /proc/PID/status summed the same way.
"""
import argparse, json, math, os, re, shlex, signal, statistics, subprocess, sys, time

TICK = os.sysconf("SC_CLK_TCK")
ECHO = "/trestle.demo.v1.Echo/Echo"
CHAT = "/trestle.demo.v1.Echo/Chat"
GRPC_HEADERS = ["-H", "content-type: application/grpc", "-H", "te: trailers"]


# ---- /proc ---------------------------------------------------------------------------------------

def tree(pid):
    """pid and all its descendants (nghttpx forks a worker process)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


def cpu_seconds(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()  # rest[0] is field 3
            total += int(rest[11]) + int(rest[12])          # fields 14 utime, 15 stime (all threads)
        except OSError:
            pass
    return total / TICK


def peak_rss_mib(pid):
    kib = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                kib += int(re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M).group(1))
        except (OSError, AttributeError):
            pass
    return kib / 1024


def reset_peak_rss(pid):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    for p in tree(pid):
        with open(f"/proc/{p}/clear_refs", "w") as f:
            f.write("5")


# ---- unary (h2load) ------------------------------------------------------------------------------

def percentile(sorted_values, p):
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


def h2load(port, n, body, log, timeout, path=ECHO, headers=GRPC_HEADERS, shape=("-c16", "-m16"), scheme="http"):
    cmd = ["h2load", "-n", str(n), *shape, "-t1", "-d", body, *headers,
           f"--log-file={log}", f"{scheme}://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", out)
    xx = re.search(r"status codes: (\d+) 2xx", out)
    if not (rps and ok and xx):
        raise RuntimeError(f"unexpected h2load output:\n{out}")
    with open(log) as f:
        rows = [line.split("\t") for line in f if line.strip()]
    lat = sorted(int(r[2]) / 1000 for r in rows if r[1] == "200")
    run = {"req_per_s": float(rps.group(1)), "succeeded": int(ok.group(1)), "status_2xx": int(xx.group(1)),
           "p50_ms": percentile(lat, 0.50) if lat else None, "p99_ms": percentile(lat, 0.99) if lat else None}
    run["all_ok"] = run["succeeded"] == n and run["status_2xx"] == n and len(lat) == n
    return run, shlex.join(cmd)


def grpc_status_ok(port, body):
    """h2load cannot see trailers: check one call with nghttp that grpc-status is 0."""
    out = subprocess.run(["nghttp", "-v", "-d", body, *GRPC_HEADERS, f"http://127.0.0.1:{port}{ECHO}"],
                         capture_output=True, text=True, timeout=30).stdout
    return re.search(r"^\[.*\] recv \(stream_id=\d+\) grpc-status: 0$", out, re.M) is not None


def unary(targets, upstream_pid, a, errors):
    runs = {t: [] for t in targets}
    for t, (port, pid) in targets.items():
        if not grpc_status_ok(port, a.body):
            errors.append(f"{t}: a single Echo call did not end with grpc-status 0")
        h2load(port, 2000, a.body, os.path.join(a.logdir, "warmup.log"), 60)  # connections, caches, pools
    for r in range(a.runs):
        for t, (port, pid) in targets.items():  # interleaved: direct, trestle, nghttpx, direct, ...
            c0p, c0u = cpu_seconds(pid) if pid else 0, cpu_seconds(upstream_pid)
            run, cmd = h2load(port, a.requests, a.body, os.path.join(a.logdir, f"h2load-{t}-{r}.log"), a.timeout)
            c1p, c1u = cpu_seconds(pid) if pid else 0, cpu_seconds(upstream_pid)
            run["proxy_cpu_us_per_req"] = (c1p - c0p) * 1e6 / a.requests if pid else None
            run["upstream_cpu_us_per_req"] = (c1u - c0u) * 1e6 / a.requests
            runs[t].append(run)
            if not run["all_ok"]:
                errors.append(f"{t} run {r}: {run['succeeded']} succeeded, {run['status_2xx']} 2xx of {a.requests}")
            print(f"  {t:8} run {r + 1}/{a.runs}: {run['req_per_s']:9.0f} req/s  p99 {run['p99_ms']} ms",
                  file=sys.stderr)
    out = {}
    for t, (port, pid) in targets.items():
        med = lambda k: statistics.median(x[k] for x in runs[t]) if runs[t][0][k] is not None else None
        out[t] = {k: med(k) for k in ("req_per_s", "p50_ms", "p99_ms", "proxy_cpu_us_per_req",
                                      "upstream_cpu_us_per_req")}
        out[t]["peak_rss_mib"] = peak_rss_mib(pid) if pid else None
        out[t]["runs"] = runs[t]
    return out, cmd  # the last run's command line, for the record


# ---- TLS on the client side: Trestle and nghttpx with a TLS frontend, same call ------------------

def tls_unary(targets, upstream_pid, a, errors):
    """h2load over TLS (ALPN h2, 16 long-lived connections) to each TLS target, interleaved."""
    runs = {t: [] for t in targets}
    for t, (port, pid) in targets.items():
        h2load(port, 2000, a.body, os.path.join(a.logdir, "warmup-tls.log"), 60, scheme="https")
    for r in range(a.runs):
        for t, (port, pid) in targets.items():
            c0p, c0u = cpu_seconds(pid), cpu_seconds(upstream_pid)
            run, cmd = h2load(port, a.requests, a.body, os.path.join(a.logdir, f"h2load-{t}-{r}.log"), a.timeout,
                              scheme="https")
            c1p, c1u = cpu_seconds(pid), cpu_seconds(upstream_pid)
            run["proxy_cpu_us_per_req"] = (c1p - c0p) * 1e6 / a.requests
            run["upstream_cpu_us_per_req"] = (c1u - c0u) * 1e6 / a.requests
            runs[t].append(run)
            if not run["all_ok"]:
                errors.append(f"{t} run {r}: {run['succeeded']} succeeded, {run['status_2xx']} 2xx of {a.requests}")
            print(f"  {t:12} run {r + 1}/{a.runs}: {run['req_per_s']:9.0f} req/s  p99 {run['p99_ms']} ms",
                  file=sys.stderr)
    # New connections: every h2load client makes one connection (a full handshake) and one call.
    fresh = {t: [] for t in targets}
    for r in range(a.runs):
        for t, (port, pid) in targets.items():
            c0 = cpu_seconds(pid)
            run, _ = h2load(port, 500, a.body, os.path.join(a.logdir, f"h2load-{t}-new-{r}.log"), a.timeout,
                            shape=("-c500", "-m1"), scheme="https")
            c1 = cpu_seconds(pid)
            fresh[t].append({"connections_per_s": run["req_per_s"], "proxy_cpu_us_per_connection": (c1 - c0) * 1e6 / 500,
                             "all_ok": run["all_ok"]})
            if not run["all_ok"]:
                errors.append(f"{t} new connections run {r}: {run['succeeded']} of 500 succeeded")
    out = {}
    for t, (port, pid) in targets.items():
        med = lambda k: statistics.median(x[k] for x in runs[t])
        out[t] = {k: med(k) for k in ("req_per_s", "p50_ms", "p99_ms", "proxy_cpu_us_per_req",
                                      "upstream_cpu_us_per_req")}
        out[t]["connections_per_s"] = statistics.median(x["connections_per_s"] for x in fresh[t])
        out[t]["proxy_cpu_us_per_connection"] = statistics.median(x["proxy_cpu_us_per_connection"] for x in fresh[t])
        out[t]["peak_rss_mib"] = peak_rss_mib(pid)
        out[t]["runs"] = runs[t]
    return out


# ---- TLS on both sides: the same rows, through TLS listeners to the demo upstream over TLS --------

def tls_both_sides(a, errors):
    """tls_unary's runs (long-lived and new connections) for Trestle with a tls cluster and nghttpx
    with a ;tls backend, both verifying the TLS demo upstream; its CPU is that upstream's."""
    pp = lambda s: tuple(int(x) for x in s.split(":"))
    up_port, up_pid = pp(a.upstream_tls)
    return tls_unary({"trestle-tls2": pp(a.trestle_tls2), "nghttpx-tls2": pp(a.nghttpx_tls2)}, up_pid, a, errors)


def report_tls_both_sides(tls2):
    lines = ["", "Unary Echo with TLS on both sides (the same h2load runs; upstream: trestle demo-upstream over TLS,",
             "verified, ALPN h2), medians",
             f"{'target':13}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'proxy µs/req':>14}{'upstream µs/req':>17}"
             f"{'new conns/s':>13}{'proxy µs/conn':>15}"]
    for t, r in tls2.items():
        lines.append(f"{t:13}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                     f"{fmt(r['proxy_cpu_us_per_req'], '14.1f')}{fmt(r['upstream_cpu_us_per_req'], '17.1f')}"
                     f"{fmt(r.get('connections_per_s'), '13.0f')}{fmt(r.get('proxy_cpu_us_per_connection'), '15.0f')}")
    return lines


def goals_tls_both_sides(tls2, u):
    t, n = tls2["trestle-tls2"], tls2["nghttpx-tls2"]
    met = lambda v, op, limit: None if v is None else (v <= limit if op == "<=" else v >= limit)
    out = {}
    for name, value, op, limit in (
            ("TLS both sides trestle/nghttpx CPU", ratio(t["proxy_cpu_us_per_req"], n["proxy_cpu_us_per_req"]), "<=", 0.9),
            ("TLS both sides CPU, paired runs", paired_ratio(t["runs"], n["runs"]), None, None),
            ("TLS both sides / cleartext CPU", ratio(t["proxy_cpu_us_per_req"], u["trestle"]["proxy_cpu_us_per_req"]), None, None),
            ("TLS both trestle/nghttpx req/s", ratio(t["req_per_s"], n["req_per_s"]), None, None),
            ("handshakes/s trestle/nghttpx", ratio(t["connections_per_s"], n["connections_per_s"]), None, None)):
        out[name] = {"value": value, "goal": f"{op} {limit}" if op else None, "met": met(value, op, limit) if op else None}
    return out


# ---- JSON unary through Trestle (h2load --h1 and h2) next to native gRPC -----------------------

JSON_HEADERS = ["-H", "content-type: application/json"]
WEB_HEADERS = ["-H", "content-type: application/grpc-web+proto", "-H", "x-grpc-web: 1"]


def json_bodies(logdir):
    """(name, grpc-frame file, JSON file) for a small and a 10 KiB EchoRequest{message}."""
    out = []
    for name, text in (("small", "hi"), ("10KiB", "x" * 10240)):
        data = text.encode()
        length, varint = len(data), b""
        while length >= 0x80:
            varint, length = varint + bytes([length & 0x7F | 0x80]), length >> 7
        message = b"\x0a" + varint + bytes([length]) + data
        frame = os.path.join(logdir, f"echo-{name}.bin")
        with open(frame, "wb") as f:
            f.write(b"\x00" + len(message).to_bytes(4, "big") + message)
        body = os.path.join(logdir, f"echo-{name}.json")
        with open(body, "w") as f:
            json.dump({"message": text}, f)
        out.append((name, frame, body))
    return out


def json_unary(port, pid, a, errors):
    """Trestle CPU µs per call for the same Echo as native gRPC (h2, 16x16), JSON over h2 (16x16)
    and JSON over HTTP/1.1 keep-alive (h2load --h1, 64 connections, no pipelining)."""
    n = max(a.requests // 2, 2000)
    # HTTP/1.1 carries one call per connection at a time, so it is compared with native gRPC on
    # as many connections with one stream each (the syscalls per call are then alike).
    shapes = {"grpc-h2": (ECHO, GRPC_HEADERS, ("-c16", "-m16"), 0),
              "json-h2": ("/v1/echo", JSON_HEADERS, ("-c16", "-m16"), 1),
              "grpc-h2-c64m1": (ECHO, GRPC_HEADERS, ("-c64", "-m1"), 0),
              "json-h1": ("/v1/echo", JSON_HEADERS, ("--h1", "-c64", "-m1"), 1)}
    return measure_shapes(port, pid, shapes, n, a, errors)


def measure_shapes(port, pid, shapes, n, a, errors, bodies=None, tag=""):
    """For each message size and shape: a warm-up, then `a.runs` runs of n calls, medians of
    req/s, latency and the gateway's CPU µs per call. `shapes`: name -> (path, headers, h2load
    shape, 1 if the body is JSON else 0)."""
    out = {}
    for name, frame, body in bodies or json_bodies(a.logdir):
        for kind, (path, headers, shape, is_json) in shapes.items():
            data = body if is_json else frame
            h2load(port, 1000, data, os.path.join(a.logdir, "warmup.log"), 60, path, headers, shape)
            runs = []
            for r in range(a.runs):
                c0 = cpu_seconds(pid)
                run, _ = h2load(port, n, data, os.path.join(a.logdir, f"h2load-{tag}{kind}-{name}-{r}.log"), a.timeout,
                                path, headers, shape)
                run["proxy_cpu_us_per_req"] = (cpu_seconds(pid) - c0) * 1e6 / n
                runs.append(run)
                if not run["all_ok"]:
                    errors.append(f"{kind} {name} run {r}: {run['succeeded']} succeeded, {run['status_2xx']} 2xx of {n}")
            med = {k: statistics.median(x[k] for x in runs) for k in ("req_per_s", "p50_ms", "p99_ms", "proxy_cpu_us_per_req")}
            out[f"{kind} {name}"] = med
            print(f"  {kind} {name:6}: {med['req_per_s']:9.0f} req/s  p99 {med['p99_ms']} ms  "
                  f"{med['proxy_cpu_us_per_req']:.1f} µs/call", file=sys.stderr)
    return out


# ---- gRPC-Web and gRPC over HTTP/1.1 beside the native call ---------------------------------------

def web_unary(port, pid, a, errors):
    """Trestle CPU µs per call of gRPC-Web binary (h2 16x16, HTTP/1.1 64 connections) and gRPC over
    HTTP/1.1 (64 connections), each beside native gRPC on the same connection shape, in one run:
    the same Echo frame everywhere."""
    n = max(a.requests // 2, 2000)
    shapes = {"grpc-h2": (ECHO, GRPC_HEADERS, ("-c16", "-m16"), 0),
              "grpcweb-h2": (ECHO, WEB_HEADERS, ("-c16", "-m16"), 0),
              "grpc-h2-c64m1": (ECHO, GRPC_HEADERS, ("-c64", "-m1"), 0),
              "grpcweb-h1": (ECHO, WEB_HEADERS, ("--h1", "-c64", "-m1"), 0),
              "grpc-h1": (ECHO, GRPC_HEADERS, ("--h1", "-c64", "-m1"), 0)}
    return measure_shapes(port, pid, shapes, n, a, errors, tag="web-")


# ---- JSON replies the upstream gzips, beside uncompressed ones ------------------------------------

def _echo_server(compression):
    """A grpcio trestle.demo.v1.Echo/Echo that answers the request's bytes (an EchoRequest reads as
    an EchoResponse with the same message), gzip-compressed when `compression` says so."""
    import grpc
    from concurrent import futures
    handler = grpc.method_handlers_generic_handler("trestle.demo.v1.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: request)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=[handler], compression=compression)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gzip_json(a, errors):
    """Trestle CPU µs per JSON call (h2 16x16) whose upstream gzips its replies, beside the same
    call to the same grpcio Echo without compression: one grpcio server and one gateway (one
    worker) each, started here. grpcio serves a few thousand calls per second, so the absolute
    figures are higher than against the demo upstream; the ratio is the point. The 10 KiB message
    only: grpcio leaves a message as small as the other one uncompressed."""
    import grpc
    n = max(min(a.requests // 10, 20000), 2000)
    shapes = {"json-h2": (ECHO, JSON_HEADERS, ("-c16", "-m16"), 1)}
    out, started = {}, []
    try:
        for label, compression in (("identity", None), ("gzip", grpc.Compression.Gzip)):
            server, up = _echo_server(compression)
            started.append(server)
            port = _free_port()
            config = os.path.join(a.logdir, f"trestle-{label}.yaml")
            with open(config, "w") as f:
                f.write(f"listeners:\n  - address: 127.0.0.1:{port}\nworkers: 1\ndescriptors: [{os.path.abspath(a.descriptors)}]\n"
                        f"clusters:\n  - name: echo\n    endpoints: [127.0.0.1:{up}]\n"
                        f"routes:\n  - service: trestle.demo.v1.Echo\n    cluster: echo\n    timeout: 30s\n")
            log = open(os.path.join(a.logdir, f"trestle-{label}.log"), "w")
            gw = subprocess.Popen([a.trestle_bin, "serve", "--config", config], stderr=log, stdout=log)
            started.append(gw)
            end = time.monotonic() + 30
            while "trestle: ready" not in open(log.name).read():
                if gw.poll() is not None or time.monotonic() > end:
                    errors.append(f"gzip_json: the {label} gateway did not start")
                    return out
                time.sleep(0.1)
            bodies = [b for b in json_bodies(a.logdir) if b[0] == "10KiB"]
            for k, v in measure_shapes(port, gw.pid, shapes, n, a, errors, bodies=bodies, tag=f"{label}-").items():
                out[f"{k} {label}"] = v
    finally:
        for p in started:
            if isinstance(p, subprocess.Popen):
                p.terminate()
                p.wait(30)
            else:
                p.stop(0)
    return out


def codec_bench(a):
    """MB/s of the JSON codec each way (trestle transcode --bench), for the small and 10 KiB messages."""
    out = {}
    for name, _, body in json_bodies(a.logdir):
        with open(body) as f:
            line = f.read()
        p = subprocess.run([a.trestle_bin, "transcode", "--descriptor-set", a.descriptors, "--message",
                            "trestle.demo.v1.EchoRequest", "--from", "json", "--bench", str(a.codec_iterations)],
                           input=line + "\n", capture_output=True, text=True, timeout=300)
        to_bin = re.search(r"json->binary: ([\d.]+) MB/s of JSON in", p.stdout)
        to_json = re.search(r"binary->json: .*\(([\d.]+) MB/s of JSON out\)", p.stdout)
        out[name] = {"json_to_binary_mb_s": float(to_bin.group(1)) if to_bin else None,
                     "binary_to_json_mb_s": float(to_json.group(1)) if to_json else None, "raw": p.stdout.strip()}
        print(f"  codec {name:6}: {p.stdout.strip()}", file=sys.stderr)
    return out


# ---- trestle load next to h2load -----------------------------------------------------------------

def child_cpu_seconds():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def loadgen(targets, a, errors):
    """The bundled generator (`trestle load`) against every target with h2load's shape
    (-c16 -m16 -t1, same calls), and both tools' own CPU per call against the direct target."""
    n = a.requests
    out = {}
    for t, (port, pid) in targets.items():
        runs = []
        for r in range(a.runs):
            report = os.path.join(a.logdir, f"load-{t}-{r}.json")
            cmd = [a.trestle_bin, "load", "--target", f"127.0.0.1:{port}", "--method", ECHO, "--descriptor-set",
                   a.descriptors, "--data", '{"message":"hi"}', "-c", "16", "-m", "16", "-t", "1", "--calls", str(n),
                   "--quiet", "--json", report]
            c0, p0 = child_cpu_seconds(), cpu_seconds(pid) if pid else 0  # the proxy's whole process tree
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
            gen_cpu = (child_cpu_seconds() - c0) * 1e6 / n
            proxy_cpu = (cpu_seconds(pid) - p0) * 1e6 / n if pid else None
            if p.returncode != 0:
                errors.append(f"trestle load {t} run {r}: exit {p.returncode}: {p.stderr[-500:]}")
                continue
            with open(report) as f:
                res = json.load(f)
            if res["ok"] != n:
                errors.append(f"trestle load {t} run {r}: {res['ok']} OK of {n}: {res['status']}")
            runs.append({"req_per_s": res["calls_per_s"], "p50_ms": res["latency_us"]["p50"] / 1000,
                         "p99_ms": res["latency_us"]["p99"] / 1000,
                         "proxy_cpu_us_per_req": proxy_cpu,
                         "generator_cpu_us_per_req": gen_cpu})
        if runs:
            out[t] = {k: (statistics.median(x[k] for x in runs) if runs[0][k] is not None else None) for k in runs[0]}
            print(f"  trestle load -> {t:8}: {out[t]['req_per_s']:9.0f} req/s", file=sys.stderr)
    # h2load's own CPU for the same calls against the direct target
    port = targets["direct"][0]
    h2 = []
    for r in range(a.runs):
        c0 = child_cpu_seconds()
        run, _ = h2load(port, n, a.body, os.path.join(a.logdir, f"h2load-cpu-{r}.log"), a.timeout)
        h2.append({"req_per_s": run["req_per_s"], "generator_cpu_us_per_req": (child_cpu_seconds() - c0) * 1e6 / n})
    out["h2load direct"] = {k: statistics.median(x[k] for x in h2) for k in h2[0]}
    return out


# ---- bidi (grpcio) -------------------------------------------------------------------------------

def bidi_client(port, mib):
    """Runs in its own process (grpcio and fork do not mix): mib x 1 MiB EchoRequests full duplex."""
    import grpc
    payload = b"x" * (1 << 20)
    length, varint = len(payload), b""
    while length >= 0x80:
        varint, length = varint + bytes([length & 0x7F | 0x80]), length >> 7
    message = b"\x0a" + varint + bytes([length]) + payload  # EchoRequest{message: field 1, string}
    options = [("grpc.max_send_message_length", 8 << 20), ("grpc.max_receive_message_length", 8 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        chat = channel.stream_stream(CHAT, request_serializer=None, response_deserializer=None)
        start = time.monotonic()
        call = chat(iter([message] * mib), timeout=600)
        received = sum(len(m) for m in call)  # reads while grpcio's thread writes
        elapsed = time.monotonic() - start
        ok = call.code() == grpc.StatusCode.OK and received == len(message) * mib
    sent_mb = len(message) * mib / 1e6
    print(json.dumps({"ok": ok, "seconds": elapsed, "mb_per_s": sent_mb / elapsed,  # each way
                      "received_bytes": received, "sent_bytes": len(message) * mib}))


def bidi(targets, a, errors):
    out = {}
    for t, (port, pid) in targets.items():
        if pid:
            reset_peak_rss(pid)
        p = subprocess.run([sys.executable, __file__, "bidi", str(port), str(a.bidi_mib)],
                           capture_output=True, text=True, timeout=a.timeout + 60)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            res = {"ok": False, "seconds": None, "mb_per_s": None}
            errors.append(f"{t} bidi: client failed: {p.stderr.strip()[-2000:]}")
        if not res["ok"] and p.stdout:
            errors.append(f"{t} bidi: stream did not complete: {res}")
        res["peak_rss_mib"] = peak_rss_mib(pid) if pid else None
        out[t] = res
        print(f"  {t:8} bidi: {res['mb_per_s'] or 0:7.1f} MB/s", file=sys.stderr)
    return out


# ---- report --------------------------------------------------------------------------------------

def fmt(v, spec):
    return format("-", ">" + spec.split(".")[0]) if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def report(res):
    u, b, g = res["unary"], res["bidi"], res["goals"]
    lines = [f"Unary Echo: h2load -c16 -m16 -t1, {res['requests']} requests x {res['runs']} runs "
             f"(interleaved), medians",
             f"{'target':9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'proxy µs/req':>14}{'upstream µs/req':>17}"
             f"{'proxy peak RSS MiB':>20}"]
    for t, r in u.items():
        lines.append(f"{t:9}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                     f"{fmt(r['proxy_cpu_us_per_req'], '14.1f')}{fmt(r['upstream_cpu_us_per_req'], '17.1f')}"
                     f"{fmt(r['peak_rss_mib'], '20.1f')}")
    if b:
        lines += ["", f"Bidi Chat: {res['bidi_mib']} x 1 MiB messages full duplex, one stream (grpcio client)",
                  f"{'target':9}{'seconds':>10}{'MB/s':>9}{'proxy peak RSS MiB':>20}  (MB/s each way)"]
        for t, r in b.items():
            lines.append(f"{t:9}{fmt(r['seconds'], '10.2f')}{fmt(r['mb_per_s'], '9.1f')}{fmt(r['peak_rss_mib'], '20.1f')}")
    if res.get("tls"):
        lines += ["", "Unary Echo over TLS on the client side (h2load -c16 -m16 -t1, ALPN h2, TLS 1.3), medians;",
                  "new connections: h2load -n500 -c500 -m1 (a full handshake and one call each)",
                  f"{'target':13}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'proxy µs/req':>14}{'upstream µs/req':>17}"
                  f"{'new conns/s':>13}{'proxy µs/conn':>15}"]
        for t, r in res["tls"].items():
            lines.append(f"{t:13}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                         f"{fmt(r['proxy_cpu_us_per_req'], '14.1f')}{fmt(r['upstream_cpu_us_per_req'], '17.1f')}"
                         f"{fmt(r.get('connections_per_s'), '13.0f')}{fmt(r.get('proxy_cpu_us_per_connection'), '15.0f')}")
    if res.get("tls_both_sides"):
        lines += report_tls_both_sides(res["tls_both_sides"])
    if res.get("json"):
        lines += ["", "JSON unary through Trestle (Echo, same message as gRPC), medians",
                  f"{'call':26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'trestle µs/call':>17}"]
        for k, r in res["json"].items():
            lines.append(f"{k:26}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                         f"{fmt(r['proxy_cpu_us_per_req'], '17.1f')}")
    if res.get("web"):
        lines += ["", "gRPC-Web binary and gRPC over HTTP/1.1 through Trestle beside native gRPC (Echo, same frame), medians",
                  f"{'call':26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'trestle µs/call':>17}"]
        for k, r in res["web"].items():
            lines.append(f"{k:26}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                         f"{fmt(r['proxy_cpu_us_per_req'], '17.1f')}")
    if res.get("gzip"):
        lines += ["", "JSON over HTTP/2 16x16 to a grpcio Echo, its replies gzipped or not, medians",
                  f"{'call':26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'trestle µs/call':>17}"]
        for k, r in res["gzip"].items():
            lines.append(f"{k:26}{r['req_per_s']:10.0f}{fmt(r['p50_ms'], '9.2f')}{fmt(r['p99_ms'], '9.2f')}"
                         f"{fmt(r['proxy_cpu_us_per_req'], '17.1f')}")
    if res.get("loadgen"):
        lg = res["loadgen"]
        lines += ["", "The bundled generator (trestle load, -c16 -m16 -t1, same calls), medians",
                  f"{'target':16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'proxy µs/req':>14}{'generator µs/req':>18}"]
        for k, r in lg.items():
            lines.append(f"{k:16}{r['req_per_s']:10.0f}{fmt(r.get('p50_ms'), '9.2f')}{fmt(r.get('p99_ms'), '9.2f')}"
                         f"{fmt(r.get('proxy_cpu_us_per_req'), '14.1f')}{fmt(r['generator_cpu_us_per_req'], '18.2f')}")
    if res.get("codec"):
        lines += ["", "JSON codec (trestle transcode --bench), MB/s of JSON text each way"]
        for k, r in res["codec"].items():
            lines.append(f"  {k:8}JSON->binary {fmt(r['json_to_binary_mb_s'], '8.0f')}   binary->JSON {fmt(r['binary_to_json_mb_s'], '8.0f')}")
    lines += ["", "Goals"]
    for name, r in g.items():
        verdict = "-" if r["goal"] is None else ("met" if r["met"] else "MISSED")
        lines.append(f"  {name:34}{fmt(r['value'], '8.2f')}   {r['goal'] or '':10}{verdict}")
    return "\n".join(lines)


def paired_ratio(a_runs, b_runs, key="proxy_cpu_us_per_req"):
    """The median over runs of a's CPU per call over b's in the same round (the runs are
    interleaved, so each pair saw the same machine): steadier than a ratio of medians when the
    machine's speed drifts during a bench."""
    pairs = [x[key] / y[key] for x, y in zip(a_runs, b_runs) if x.get(key) and y.get(key)]
    return statistics.median(pairs) if pairs else None


def goals(u, b, j=None, codec=None, lg=None, tls=None, web=None, gz=None):
    def goal(value, op, limit):
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        return {"value": value, "goal": f"{op} {limit}", "met": met}
    g = {"trestle/nghttpx CPU µs per request": goal(ratio(u["trestle"]["proxy_cpu_us_per_req"],
                                                          u["nghttpx"]["proxy_cpu_us_per_req"]), "<=", 0.8),
         "trestle/nghttpx req/s": goal(ratio(u["trestle"]["req_per_s"], u["nghttpx"]["req_per_s"]), ">=", 0.9),
         "trestle/direct req/s": {"value": ratio(u["trestle"]["req_per_s"], u["direct"]["req_per_s"]),
                                  "goal": None, "met": None},
         }
    if b:
        g["trestle bidi peak RSS MiB"] = goal(b["trestle"]["peak_rss_mib"], "<=", 64)
    if j:
        native = j["grpc-h2 small"]["proxy_cpu_us_per_req"]
        g["JSON h2 small / gRPC CPU per call"] = goal(ratio(j["json-h2 small"]["proxy_cpu_us_per_req"], native), "<=", 2)
        g["JSON h1 small / gRPC c64m1 CPU per call"] = goal(
            ratio(j["json-h1 small"]["proxy_cpu_us_per_req"], j["grpc-h2-c64m1 small"]["proxy_cpu_us_per_req"]), "<=", 2)
        g["JSON h1 small / gRPC c16m16 CPU per call"] = {
            "value": ratio(j["json-h1 small"]["proxy_cpu_us_per_req"], native), "goal": None, "met": None}
    if web:
        native = web["grpc-h2 small"]["proxy_cpu_us_per_req"]
        g["gRPC-Web h2 small / gRPC CPU per call"] = goal(ratio(web["grpcweb-h2 small"]["proxy_cpu_us_per_req"], native), "<=", 1.3)
        h1native = web["grpc-h2-c64m1 small"]["proxy_cpu_us_per_req"]
        g["gRPC-Web h1 small / gRPC c64m1 CPU"] = goal(ratio(web["grpcweb-h1 small"]["proxy_cpu_us_per_req"], h1native), "<=", 1.3)
        g["gRPC h1 small / gRPC c64m1 CPU"] = {
            "value": ratio(web["grpc-h1 small"]["proxy_cpu_us_per_req"], h1native), "goal": None, "met": None}
    if gz:
        for size in ("10KiB",):
            if f"json-h2 {size} gzip" in gz and f"json-h2 {size} identity" in gz:
                g[f"JSON gzip / identity reply {size} CPU"] = goal(ratio(gz[f"json-h2 {size} gzip"]["proxy_cpu_us_per_req"],
                                                                         gz[f"json-h2 {size} identity"]["proxy_cpu_us_per_req"]), "<=", 2)
    if lg and "direct" in lg:
        g["trestle load / h2load req/s (direct)"] = goal(ratio(lg["direct"]["req_per_s"], lg["h2load direct"]["req_per_s"]), ">=", 0.9)
        g["trestle load / h2load CPU per call"] = goal(ratio(lg["direct"]["generator_cpu_us_per_req"],
                                                             lg["h2load direct"]["generator_cpu_us_per_req"]), "<=", 1.5)
    if tls:
        g["TLS trestle/nghttpx CPU µs per request"] = goal(ratio(tls["trestle-tls"]["proxy_cpu_us_per_req"],
                                                                 tls["nghttpx-tls"]["proxy_cpu_us_per_req"]), "<=", 0.9)
        g["TLS trestle/nghttpx CPU, paired runs"] = {
            "value": paired_ratio(tls["trestle-tls"]["runs"], tls["nghttpx-tls"]["runs"]), "goal": None, "met": None}
        g["trestle TLS / cleartext CPU per request"] = goal(ratio(tls["trestle-tls"]["proxy_cpu_us_per_req"],
                                                                 u["trestle"]["proxy_cpu_us_per_req"]), "<=", 1.25)
    if codec:
        for name, r in codec.items():
            g[f"codec {name} JSON->binary MB/s"] = goal(r["json_to_binary_mb_s"], ">=", 300)
            g[f"codec {name} binary->JSON MB/s"] = goal(r["binary_to_json_mb_s"], ">=", 300)
    return g


def main():
    if sys.argv[1:2] == ["bidi"]:
        return bidi_client(int(sys.argv[2]), int(sys.argv[3]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # subprocess.run then kills its child
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    for t in ("upstream", "trestle", "nghttpx"):
        ap.add_argument(f"--{t}", required=True, help="PORT:PID")
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--bidi-mib", type=int, required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per h2load run or bidi stream")
    ap.add_argument("--descriptors", help="routes/demo.pb: measure JSON calls and the codec too")
    ap.add_argument("--trestle-bin", default=".build/release/trestle")
    ap.add_argument("--codec-iterations", type=int, default=20000)
    ap.add_argument("--trestle-tls", help="PORT:PID of a Trestle with a TLS listener")
    ap.add_argument("--nghttpx-tls", help="PORT:PID of an nghttpx with a TLS frontend")
    ap.add_argument("--upstream-tls", help="PORT:PID of the demo upstream over TLS")
    ap.add_argument("--trestle-tls2", help="PORT:PID of a Trestle with a TLS listener and a tls cluster")
    ap.add_argument("--nghttpx-tls2", help="PORT:PID of an nghttpx with a TLS frontend and a ;tls backend")
    ap.add_argument("--tls-only", action="store_true",
                    help="only the cleartext unary rows and the TLS rows (no JSON, gRPC-Web, gzip, codec, generator, bidi)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:split])
    a.nghttpx_cmd = argv[split + 1:]  # after --: the nghttpx command line, for the record
    pp = lambda s: tuple(int(x) for x in s.split(":"))
    up_port, up_pid = pp(a.upstream)
    targets = {"direct": (up_port, None), "trestle": pp(a.trestle), "nghttpx": pp(a.nghttpx)}
    errors = []
    print("unary:", file=sys.stderr)
    u, h2load_cmd = unary(targets, up_pid, a, errors)
    j = codec = lg = web = gz = None
    if a.descriptors and not a.tls_only:
        print("json:", file=sys.stderr)
        j = json_unary(targets["trestle"][0], targets["trestle"][1], a, errors)
        print("gRPC-Web, gRPC over HTTP/1.1:", file=sys.stderr)
        web = web_unary(targets["trestle"][0], targets["trestle"][1], a, errors)
        print("gzip JSON replies:", file=sys.stderr)
        gz = gzip_json(a, errors)
        print("codec:", file=sys.stderr)
        codec = codec_bench(a)
        print("trestle load:", file=sys.stderr)
        lg = loadgen(targets, a, errors)
    tls = None
    if a.trestle_tls and a.nghttpx_tls:
        print("tls:", file=sys.stderr)
        tls = tls_unary({"trestle-tls": pp(a.trestle_tls), "nghttpx-tls": pp(a.nghttpx_tls)}, up_pid, a, errors)
    tls2 = None
    if a.upstream_tls and a.trestle_tls2 and a.nghttpx_tls2:
        print("tls both sides:", file=sys.stderr)
        tls2 = tls_both_sides(a, errors)
    b = None
    if not a.tls_only:
        print("bidi:", file=sys.stderr)
        b = bidi(targets, a, errors)
    res = {"requests": a.requests, "runs": a.runs, "bidi_mib": a.bidi_mib, "cpus": os.cpu_count(),
           "commands": {"h2load": h2load_cmd, "nghttpx": shlex.join(a.nghttpx_cmd)}, "unary": u, "bidi": b,
           "json": j, "web": web, "gzip": gz, "codec": codec, "loadgen": lg, "tls": tls, "tls_both_sides": tls2,
           "goals": goals(u, b, j, codec, lg, tls, web, gz),
           "errors": errors}
    if tls2:
        res["goals"].update(goals_tls_both_sides(tls2, u))
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    print(report(res))
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

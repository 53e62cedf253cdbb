"""TLS on both sides of the gateway (README, "TLS"): TLS listeners with ALPN h2 and http/1.1 in
front of grpcio, curl, nghttp, openssl s_client and raw sockets; TLS clusters to grpcio servers
with TLS and mutual TLS; client certificates; certificate reload on SIGHUP under load.
Certificates are made here, per module, with the openssl command line."""
import hashlib
import json
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from concurrent import futures

import grpc
import pytest

import demo_server
import harness
import interop_server
import transcode_protos
import transcode_server
from interop_server import pattern
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 15  # seconds: a bound on each external command and call, never a pause
TRANSCODE = "trestle.test.v1.TranscodeService"


# -- certificates ------------------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def issue(folder, name, subject, sans, ca="ca", days="365"):
    (folder / f"{name}.ext").write_text(f"subjectAltName={sans}\n")
    openssl("req", "-new", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=folder)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", days, "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=folder)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.crt; server (localhost, 127.0.0.1) and server2 (same names, new key: rotation);
    wrongname (elsewhere.example); expired (2020); client (CN=client-a); rogue-client (another CA)."""
    folder = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", *EC, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "30",
                "-subj", f"/CN=Test {ca} CA", cwd=folder)
    issue(folder, "server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
    issue(folder, "server2", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
    issue(folder, "wrongname", "/CN=elsewhere.example", "DNS:elsewhere.example")
    issue(folder, "client", "/CN=client-a/O=Acme", "DNS:client-a.example")
    issue(folder, "rogue-client", "/CN=rogue", "DNS:rogue.example", ca="rogue")
    db = folder / "db"
    db.mkdir()
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca=x\n[x]\ndatabase=db/index.txt\nnew_certs_dir=db\nserial=db/serial\n"
        "default_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=copy\n[p]\ncommonName=supplied\n")
    (folder / "expired.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-new", *EC, "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", cwd=folder)
    openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
            "-in", "expired.csr", "-out", "expired.crt", "-startdate", "20200101000000Z",
            "-enddate", "20200201000000Z", cwd=folder)
    return folder


def wait_logged(process, text):
    """Polls a process's output for `text` (its output is read by a thread: a line written just
    before an observed event may not have been collected yet)."""
    deadline = time.monotonic() + WAIT
    while text not in process.output():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{process.output()}"
        time.sleep(0.05)


def read(path):
    return path.read_bytes()


def fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text())
    return hashlib.sha256(der).hexdigest()


# -- gateways and upstreams -------------------------------------------------------------------------

def listener_tls(pki, name="server", **more):
    return {"certificate": str(pki / f"{name}.crt"), "key": str(pki / f"{name}.key"), **more}


def tls_routes(pki, upstream_port, *, cluster_tls=None, listener=None, workers=1):
    """Listener 0 is TLS (what `gateway.port` names), listener 1 cleartext; admin on a third port."""
    config = harness.routes([upstream_port], workers=workers)
    config["listeners"] = [{"address": f"127.0.0.1:{harness.free_port()}", "tls": listener or listener_tls(pki)},
                           {"address": f"127.0.0.1:{harness.free_port()}"}]
    config["admin"] = {"address": f"127.0.0.1:{harness.free_port()}"}
    config["preface_timeout"] = "3s"
    if cluster_tls is not None:
        config["clusters"][0]["tls"] = cluster_tls
    return config


def cleartext_port(config):
    return int(config["listeners"][1]["address"].rsplit(":", 1)[1])


def admin_port(config):
    return int(config["admin"]["address"].rsplit(":", 1)[1])


def metrics(config):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port(config)}/metrics", timeout=WAIT) as r:
        return r.read().decode()


def metric(config, name):
    m = re.search(rf"^{re.escape(name)} (\d+)$", metrics(config), re.M)
    return int(m.group(1)) if m else None


class TLSUpstream:
    """grpc.testing.TestService on a grpcio server with TLS (optionally requiring client certificates)."""

    def __init__(self, pki, cert="server", require_client_auth=False):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=interop_server.OPTIONS)
        self.service = interop_server.TestService()
        test_pb2_grpc.add_TestServiceServicer_to_server(self.service, self.server)
        credentials = grpc.ssl_server_credentials(
            [(read(pki / f"{cert}.key"), read(pki / f"{cert}.crt"))],
            root_certificates=read(pki / "ca.crt") if require_client_auth else None,
            require_client_auth=require_client_auth)
        self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.server.start()

    def stop(self):
        self.server.stop(grace=0).wait(10)


@pytest.fixture
def tls_upstream(pki):
    started = []

    def start(**kwargs):
        started.append(TLSUpstream(pki, **kwargs))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def secure_channel(pki, port, client=None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(pki / "ca.crt"),
        private_key=read(pki / f"{client}.key") if client else None,
        certificate_chain=read(pki / f"{client}.crt") if client else None)
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=harness.CHANNEL_OPTIONS)


def stub(channel):
    return test_pb2_grpc.TestServiceStub(channel)


def simple(size):
    return messages_pb2.SimpleRequest(response_size=size, payload=messages_pb2.Payload(body=pattern(size)))


@pytest.fixture
def both_sides(pki, tls_upstream, gateway):
    """A grpcio TLS upstream, the gateway with TLS on its listener and to the cluster, a secure channel."""
    up = tls_upstream()
    config = tls_routes(pki, up.port, cluster_tls={"ca": str(pki / "ca.crt"), "server_name": "localhost"})
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        yield up, gw, config, stub(ch)


# -- grpcio through TLS on both sides: the four call types ------------------------------------------

def test_tls_h2_grpc_unary(both_sides):
    up, _, config, s = both_sides
    reply = s.UnaryCall(simple(31415), timeout=WAIT)
    assert reply.payload.body == pattern(31415)
    # Both hops were TLS: the gateway counted a client handshake and holds a TLS upstream connection.
    assert metric(config, "trestle_tls_handshakes_total") >= 1
    assert metric(config, "trestle_upstream_connections") >= 1


def test_tls_h2_grpc_server_streaming(both_sides):
    _, _, _, s = both_sides
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=n) for n in (1, 20000, 70000)])
    assert [len(r.payload.body) for r in s.StreamingOutputCall(request, timeout=WAIT)] == [1, 20000, 70000]


def test_tls_h2_grpc_client_streaming(both_sides):
    _, _, _, s = both_sides
    requests = (messages_pb2.StreamingInputCallRequest(payload=messages_pb2.Payload(body=pattern(n)))
                for n in (5, 100000, 1 << 20))
    assert s.StreamingInputCall(requests, timeout=WAIT).aggregated_payload_size == 5 + 100000 + (1 << 20)


def test_tls_h2_grpc_bidi(both_sides):
    _, _, _, s = both_sides
    requests = [messages_pb2.StreamingOutputCallRequest(payload=messages_pb2.Payload(body=pattern(n)))
                for n in (3, 17000, 40000)]
    replies = list(s.FullDuplexCall(iter(requests), timeout=WAIT))
    assert [r.payload.body for r in replies] == [pattern(n) for n in (3, 17000, 40000)]


def test_tls_and_cleartext_listeners_side_by_side(pki, upstream, gateway):
    up = upstream()
    config = tls_routes(pki, up.port)
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        assert stub(ch).UnaryCall(simple(10), timeout=WAIT).payload.body == pattern(10)
    with harness.channel(cleartext_port(config)) as ch:
        assert stub(ch).UnaryCall(simple(10), timeout=WAIT).payload.body == pattern(10)
    # A cleartext h2c client on the TLS port is refused (it is not TLS), counted as such.
    with harness.channel(gw.port) as ch:
        code, _, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=5))
        assert code == grpc.StatusCode.UNAVAILABLE
    assert metric(config, 'trestle_tls_handshake_failures_total{reason="not_tls"}') >= 1


# -- curl, nghttp, openssl s_client -----------------------------------------------------------------

@pytest.fixture(scope="module")
def descriptor_set():
    pb, _ = transcode_protos.build()
    return pb


@pytest.fixture
def json_tls_gateway(pki, gateway, descriptor_set):
    server, port = transcode_server.start_server()
    config = tls_routes(pki, port)
    config["descriptors"] = [str(descriptor_set)]
    config["clusters"][0]["name"] = "transcode"
    config["routes"] = [{"service": TRANSCODE, "cluster": "transcode", "timeout": "30s"}]
    gw = gateway(config)
    yield gw, config
    server.stop(0)


def curl(pki, port, http, path, data):
    argv = ["curl", "-sS", http, "--cacert", str(pki / "ca.crt"), "-o", "-", "-w", "\n%{http_code} %{http_version}",
            "--max-time", str(WAIT), "-H", "Content-Type: application/json", "--data-binary", data,
            f"https://127.0.0.1:{port}{path}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT + 5)
    assert done.returncode == 0, done.stderr
    body, _, tail = done.stdout.rpartition("\n")
    status, version = tail.split()
    return int(status), version, body


@pytest.mark.parametrize("http,version", [("--http1.1", "1.1"), ("--http2", "2")])
def test_tls_curl_json_unary(pki, json_tls_gateway, http, version):
    gw, _ = json_tls_gateway
    status, negotiated, body = curl(pki, gw.port, http, f"/{TRANSCODE}/NoRule", '{"stringValue": "x", "int64Value": 5}')
    assert (status, negotiated) == (200, version)
    assert json.loads(body) == {"stringValue": "x", "int64Value": "5"}


def test_tls_nghttp_json_unary(pki, json_tls_gateway, tmp_path):
    gw, _ = json_tls_gateway
    body = tmp_path / "body.json"
    body.write_text('{"stringValue": "over nghttp"}')
    done = subprocess.run(["nghttp", "-v", "-d", str(body), "-H", "content-type: application/json",
                           f"https://127.0.0.1:{gw.port}/{TRANSCODE}/NoRule"],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The negotiated protocol: h2" in done.stdout
    assert ":status: 200" in done.stdout
    assert '"stringValue":"over nghttp"' in done.stdout, done.stdout


def s_client(pki, port, *args, request=b""):
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(pki / "ca.crt"),
                           "-verify_return_error", *args],
                          input=request, capture_output=True, timeout=WAIT)
    return done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")


@pytest.mark.parametrize("alpn", ["h2", "http/1.1"])
def test_tls_openssl_s_client_alpn(pki, json_tls_gateway, alpn):
    gw, _ = json_tls_gateway
    out = s_client(pki, gw.port, "-alpn", alpn)
    assert f"ALPN protocol: {alpn}" in out, out
    assert "Verify return code: 0 (ok)" in out


def test_tls_without_alpn_is_sniffed(pki, json_tls_gateway):
    """A client that offers no ALPN gets the sniffing of a cleartext port: an HTTP/1.1 request works."""
    gw, _ = json_tls_gateway
    data = b'{"stringValue": "no alpn"}'
    request = (f"POST /{TRANSCODE}/NoRule HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
    out = s_client(pki, gw.port, "-quiet", request=request)
    assert "HTTP/1.1 200" in out, out
    assert '"stringValue":"no alpn"' in out, out


# -- a record split at every byte -------------------------------------------------------------------

def test_tls_record_fed_byte_by_byte(pki, json_tls_gateway):
    """Every TLS byte the client sends — ClientHello, Finished, the request's records — goes in its
    own send(): the gateway's record layer reassembles them."""
    gw, _ = json_tls_gateway
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.set_alpn_protocols(["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = 0

    def send_bytewise():
        nonlocal sent
        data = outgoing.read()
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
        sent += len(data)

    def receive():
        chunk = sock.recv(65536)
        if chunk:
            incoming.write(chunk)
        else:
            incoming.write_eof()

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            send_bytewise()
            receive()
    send_bytewise()
    assert tls.selected_alpn_protocol() == "http/1.1"
    data = b'{"stringValue": "byte by byte"}'
    tls.write((f"POST /{TRANSCODE}/NoRule HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
    send_bytewise()
    response = b""
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            response += chunk
        except ssl.SSLWantReadError:
            receive()
        except ssl.SSLZeroReturnError:  # close_notify after the response (Connection: close)
            break
    sock.close()
    assert sent > 500  # ClientHello and the request really went a byte at a time
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert json.loads(response.partition(b"\r\n\r\n")[2]) == {"stringValue": "byte by byte"}


# -- handshake failures -----------------------------------------------------------------------------

def test_tls_handshake_failures_are_counted_and_logged(pki, json_tls_gateway):
    gw, config = json_tls_gateway
    # Plaintext HTTP to the TLS port.
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(4096)  # the alert or EOF: the gateway closes the connection
    # A client that does not trust the gateway's certificate (its own CA is another one).
    out = s_client(pki, gw.port, "-CAfile", str(pki / "rogue.crt"))
    assert "verify error" in out or "unable to get local issuer" in out, out

    def failures(reason):
        return metric(config, f'trestle_tls_handshake_failures_total{{reason="{reason}"}}')

    deadline = time.monotonic() + WAIT
    while (failures("not_tls") < 1 or failures("unknown_ca") < 1) and time.monotonic() < deadline:
        threading_wait(0.02)
    assert failures("not_tls") >= 1 and failures("unknown_ca") >= 1, metrics(config)
    log = gw.output()
    assert re.search(r"TLS handshake failed with client 127\.0\.0\.1:\d+: the client sent plaintext HTTP", log), log
    assert re.search(r"TLS handshake failed with client 127\.0\.0\.1:\d+: .*unknown CA.*\(unknown_ca\)", log), log
    # The gateway is unharmed.
    status, _, _ = curl(pki, gw.port, "--http2", f"/{TRANSCODE}/NoRule", "{}")
    assert status == 200


def threading_wait(seconds):
    import threading
    threading.Event().wait(seconds)  # the polling interval of an observation


def test_tls_handshake_timeout_closes_the_connection(pki, json_tls_gateway):
    """A client that connects and never finishes its handshake is closed after preface_timeout (3 s)."""
    gw, config = json_tls_gateway
    with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a record, never finished
        start = time.monotonic()
        assert sock.recv(100) == b""
        assert 2.5 < time.monotonic() - start < WAIT
    assert metric(config, 'trestle_tls_handshake_failures_total{reason="timeout"}') == 1
    wait_logged(gw, "not complete within 3000ms (timeout)")


# -- client certificates ----------------------------------------------------------------------------

def test_tls_client_certificate_required(pki, upstream, gateway):
    up = upstream()
    config = tls_routes(pki, up.port, listener=listener_tls(
        pki, client_ca=str(pki / "ca.crt"), require_client_certificate=True, forward_client_certificate=True))
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        code, _, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=5))
        assert code == grpc.StatusCode.UNAVAILABLE
    with secure_channel(pki, gw.port, client="rogue-client") as ch:
        code, _, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=5))
        assert code == grpc.StatusCode.UNAVAILABLE
    assert metric(config, 'trestle_tls_handshake_failures_total{reason="certificate_required"}') >= 1
    assert metric(config, 'trestle_tls_handshake_failures_total{reason="unknown_ca"}') >= 1
    with secure_channel(pki, gw.port, client="client") as ch:
        # A client's own x-forwarded-client-cert is never believed: only the verified one goes on.
        stub(ch).UnaryCall(simple(1), timeout=WAIT, metadata=[("x-test-id", "mtls"),
                                                               ("x-forwarded-client-cert", "Subject=\"CN=forged\"")])
    xfcc = up.service.record("mtls").metadata["x-forwarded-client-cert"]
    assert f"Hash={fingerprint(pki / 'client.crt')}" in xfcc
    assert 'Subject="CN=client-a,O=Acme"' in xfcc or 'Subject="O=Acme,CN=client-a"' in xfcc
    assert "DNS=client-a.example" in xfcc and "forged" not in xfcc


def test_tls_client_certificate_optional_not_forwarded_unless_configured(pki, upstream, gateway):
    up = upstream()
    config = tls_routes(pki, up.port, listener=listener_tls(pki, client_ca=str(pki / "ca.crt")))
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:  # optional: no certificate is fine
        stub(ch).UnaryCall(simple(1), timeout=WAIT, metadata=[("x-test-id", "none")])
    with secure_channel(pki, gw.port, client="client") as ch:
        stub(ch).UnaryCall(simple(1), timeout=WAIT, metadata=[("x-test-id", "cert")])
    assert "x-forwarded-client-cert" not in up.service.record("none").metadata
    assert "x-forwarded-client-cert" not in up.service.record("cert").metadata


# -- upstream TLS failures --------------------------------------------------------------------------

@pytest.mark.parametrize("cert,reason", [
    ("expired", r"certificate verify failed: expired: the server's certificate \"CN=localhost\" expired on 2020-02-01"),
    ("wrongname", r"certificate verify failed: name mismatch: .* is not valid for \"localhost\" \(it is for elsewhere\.example\)"),
])
def test_tls_upstream_bad_certificate_is_unavailable_naming_the_reason(pki, tls_upstream, gateway, cert, reason):
    up = tls_upstream(cert=cert)
    config = tls_routes(pki, up.port, cluster_tls={"ca": str(pki / "ca.crt"), "server_name": "localhost"})
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        code, details, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=WAIT))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert re.search(reason, details), details
    assert metric(config, "trestle_upstream_tls_handshake_failures_total") >= 1


def test_tls_upstream_mutual_tls(pki, tls_upstream, gateway):
    """An upstream that requires a client certificate refuses the gateway without one (UNAVAILABLE,
    saying so) and serves it with one."""
    up = tls_upstream(require_client_auth=True)
    base = {"ca": str(pki / "ca.crt"), "server_name": "localhost"}
    without = gateway(tls_routes(pki, up.port, cluster_tls=base))
    with secure_channel(pki, without.port) as ch:
        code, details, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=WAIT))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "client certificate" in details, details
    with_cert = gateway(tls_routes(pki, up.port, cluster_tls={
        **base, "certificate": str(pki / "client.crt"), "key": str(pki / "client.key")}))
    with secure_channel(pki, with_cert.port) as ch:
        assert stub(ch).UnaryCall(simple(7), timeout=WAIT).payload.body == pattern(7)


def test_tls_upstream_session_resumed_on_reconnect(pki, tls_upstream, gateway):
    """A second connection to the same upstream resumes the TLS session: grpcio's server offers
    tickets, the gateway's client cache keeps one per endpoint."""
    up = tls_upstream()
    config = tls_routes(pki, up.port, cluster_tls={"ca": str(pki / "ca.crt"), "server_name": "localhost"})
    config["clusters"][0]["max_streams_per_connection"] = 1
    config["clusters"][0]["max_connections"] = 2
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        s = stub(ch)
        first = s.UnaryCall.future(simple(1), timeout=WAIT, metadata=[("x-test-hold", "1"), ("x-test-id", "a")])
        up.service.record("a").arrived.wait(WAIT)
        # The first connection is busy: the second call needs a second connection.
        assert s.UnaryCall(simple(2), timeout=WAIT).payload.body == pattern(2)
        up.service.record("a").release.set()
        first.result(WAIT)
    assert metric(config, "trestle_upstream_tls_resumed_total") >= 1, metrics(config)


# -- certificate reload -----------------------------------------------------------------------------

def served_fingerprint(pki, port):
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def wait_for(predicate, what):
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        threading_wait(0.02)


def test_tls_certificate_rotation_under_load(pki, upstream, gateway, tmp_path):
    """`trestle load` over TLS runs across a SIGHUP that swaps the certificate: no call fails, a
    new connection sees the new certificate; then a bad key file keeps the new one, naming the file."""
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    cert.write_bytes(read(pki / "server.crt"))
    key.write_bytes(read(pki / "server.key"))
    up = upstream()
    config = tls_routes(pki, up.port, listener={"certificate": str(cert), "key": str(key)}, workers=2)
    gw = gateway(config)
    assert served_fingerprint(pki, gw.port) == fingerprint(pki / "server.crt")

    report = tmp_path / "load.json"
    load = subprocess.Popen([harness.TRESTLE_BIN, "load", "--target", f"127.0.0.1:{gw.port}", "--cacert",
                             str(pki / "ca.crt"), "--server-name", "localhost",
                             "--method", "/grpc.testing.TestService/EmptyCall", "--duration", "3s",
                             "-c", "4", "-m", "4", "--quiet", "--json", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (metric(config, 'trestle_calls_total{code="OK"}') or 0) > 100, "load to be running")
        cert.write_bytes(read(pki / "server2.crt"))
        key.write_bytes(read(pki / "server2.key"))
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: gw.output().count("certificates reloaded") >= 1, "the reload")
        assert served_fingerprint(pki, gw.port) == fingerprint(pki / "server2.crt")
        before = metric(config, 'trestle_calls_total{code="OK"}')
        wait_for(lambda: metric(config, 'trestle_calls_total{code="OK"}') > before + 100, "calls after the reload")
        output, _ = load.communicate(timeout=WAIT)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0, output.decode()
    figures = json.loads(report.read_text())
    assert figures["calls"] > 0 and figures["errors"] == 0, figures

    # A key that does not match: the new files are refused, the current certificate stays.
    key.write_bytes(read(pki / "server.key"))
    gw.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the previous ones" in gw.output(), "the refused reload")
    line = next(l for l in gw.output().splitlines() if "keeping the previous ones" in l)
    assert str(cert) in line or str(key) in line, line
    assert served_fingerprint(pki, gw.port) == fingerprint(pki / "server2.crt")


# -- what the upstream is told: :scheme and x-forwarded-client-cert ---------------------------------

class RecordingUpstream(harness.RawServer):
    """A raw HTTP/2 server (the `h2` library) that records each request's header list and answers
    it with one empty gRPC message and `grpc-status: 0`."""

    def __init__(self):
        import h2.config
        import h2.connection
        import h2.events
        self.h2 = h2
        self.requests = []  # [(name, value), ...] per request, in arrival order
        super().__init__()

    def _serve(self, conn):
        h2 = self.h2
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        c.initiate_connection()
        try:
            conn.sendall(c.data_to_send())
            while data := conn.recv(65536):
                for event in c.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self.requests.append(list(event.headers))
                    elif isinstance(event, h2.events.DataReceived):
                        c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        c.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                        c.send_data(event.stream_id, b"\x00\x00\x00\x00\x00")
                        c.send_headers(event.stream_id, [("grpc-status", "0")], end_stream=True)
                conn.sendall(c.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            conn.close()


def test_tls_upstream_sees_https_scheme_and_the_verified_client_certificate(pki, gateway, descriptor_set):
    """Over a TLS listener the upstream gets `:scheme https` (native gRPC and JSON alike) and, when
    the listener forwards it, the verified client certificate; over the cleartext one, `:scheme http`
    and no certificate."""
    up = RecordingUpstream()
    try:
        config = tls_routes(pki, up.port, listener=listener_tls(
            pki, client_ca=str(pki / "ca.crt"), forward_client_certificate=True))
        config["descriptors"] = [str(descriptor_set)]
        config["routes"].append({"service": TRANSCODE, "cluster": "testing"})
        gw = gateway(config)
        with secure_channel(pki, gw.port, client="client") as ch:
            stub(ch).EmptyCall(empty(), timeout=WAIT)
        with harness.channel(cleartext_port(config)) as ch:
            stub(ch).EmptyCall(empty(), timeout=WAIT)
        status, _, _ = curl(pki, gw.port, "--http1.1", f"/{TRANSCODE}/NoRule", "{}")
        assert status == 200
        native_tls, native_clear, json_tls = (dict(r) for r in up.requests)
        assert native_tls[":scheme"] == "https" and native_clear[":scheme"] == "http" and json_tls[":scheme"] == "https"
        assert f"Hash={fingerprint(pki / 'client.crt')}" in native_tls["x-forwarded-client-cert"]
        assert "x-forwarded-client-cert" not in native_clear and "x-forwarded-client-cert" not in json_tls
    finally:
        up.stop()


def empty():
    from testing_stubs import empty_pb2
    return empty_pb2.Empty()


def test_tls_routes_reload_rebuilds_a_changed_tls_cluster(pki, tls_upstream, gateway):
    """A reload of the routes file that changes a cluster's `tls` (here its server name) gives
    new connections a context built from the new keys; a reload back restores it."""
    up = tls_upstream()
    config = tls_routes(pki, up.port, cluster_tls={"ca": str(pki / "ca.crt"), "server_name": "localhost"})
    gw = gateway(config)
    with secure_channel(pki, gw.port) as ch:
        assert stub(ch).UnaryCall(simple(3), timeout=WAIT).payload.body == pattern(3)

    def reload_with(server_name, generation):
        config["clusters"][0]["tls"]["server_name"] = server_name
        harness.write_routes(config, gw.config_path)
        gw.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: f"config {generation}," in gw.output(), f"config {generation}")

    reload_with("elsewhere.example", 2)
    with secure_channel(pki, gw.port) as ch:
        code, details, _ = harness.status_of(lambda: stub(ch).UnaryCall(simple(1), timeout=WAIT))
    assert code == grpc.StatusCode.UNAVAILABLE and "name mismatch" in details, details
    reload_with("localhost", 3)
    with secure_channel(pki, gw.port) as ch:
        assert stub(ch).UnaryCall(simple(4), timeout=WAIT).payload.body == pattern(4)


def test_tls_routes_reload_of_listener_tls_keys_waits_for_a_restart(pki, upstream, gateway):
    """A listener's tls keys naming other files is a listener change: logged as waiting for a
    restart, and new connections still get the certificate the listener started with."""
    up = upstream()
    config = tls_routes(pki, up.port)
    gw = gateway(config)
    assert served_fingerprint(pki, gw.port) == fingerprint(pki / "server.crt")
    config["listeners"][0]["tls"] = listener_tls(pki, "server2")
    harness.write_routes(config, gw.config_path)
    gw.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "config 2," in gw.output(), "config 2")
    assert "listeners' tls changed in" in gw.output() and "applied at the next restart" in gw.output(), gw.output()
    assert served_fingerprint(pki, gw.port) == fingerprint(pki / "server.crt")


# -- memory of idle connections ---------------------------------------------------------------------

def idle_pair_kib(pki, *flags):
    done = subprocess.run([harness.TRESTLE_BIN, "tls-bench", "--mode", "memory", "--handshakes", "300",
                           "--dir", str(pki), *flags], capture_output=True, text=True, timeout=60)
    m = re.search(r"idle pair after a handshake .*: (\d+) KiB resident", done.stdout)
    assert done.returncode == 0 and m, done.stdout + done.stderr
    return int(m.group(1))


@pytest.mark.rss
def test_tls_idle_connections_give_their_record_buffers_back(pki):
    """What the worker's idle sweep calls (releaseIdleBuffers: SSL_free_buffers and the output
    buffers): 300 established, idle server+client pairs in memory hold at least 30 KiB less per
    pair once their buffers are given back (~76 KiB → ~32 KiB measured)."""
    kept, released = idle_pair_kib(pki), idle_pair_kib(pki, "--release-idle")
    assert kept - released >= 30, (kept, released)


# -- the demo upstream over TLS (`trestle demo-upstream --tls-cert --tls-key`) ------------------------

@pytest.fixture
def demo_tls_upstream(pki):
    """The built-in demo service (trestle.demo.v1.Echo) over TLS with the test server certificate."""
    port = harness.free_port()
    proc = harness.Process("demo-upstream-tls", [harness.TRESTLE_BIN, "demo-upstream", "--listen", f"127.0.0.1:{port}",
                                                 "--tls-cert", pki / "server.crt", "--tls-key", pki / "server.key"],
                           "trestle demo-upstream: ready")
    proc.port = port
    yield proc
    proc.kill()


def test_tls_demo_upstream_behind_the_gateway_all_call_types(pki, demo_tls_upstream, gateway):
    """grpcio over TLS → the gateway → a tls cluster verifying the demo upstream's certificate:
    the demo service's four call types, through TLS on both hops."""
    config = tls_routes(pki, demo_tls_upstream.port, cluster_tls={"ca": str(pki / "ca.crt"), "server_name": "localhost"})
    config["descriptors"] = [str(demo_server.DESCRIPTOR_SET)]
    config["routes"] = [{"service": demo_server.SERVICE, "cluster": "testing", "timeout": "30s"}]
    gw = gateway(config)
    Req, Resp = demo_server.EchoRequest, demo_server.EchoResponse
    with secure_channel(pki, gw.port) as ch:
        def method(kind, name):
            return getattr(ch, kind)(f"/{demo_server.SERVICE}/{name}", request_serializer=Req.SerializeToString,
                                     response_deserializer=Resp.FromString)
        reply = method("unary_unary", "Echo")(Req(message="hi", payload=pattern(40000)), timeout=WAIT)
        assert (reply.message, reply.payload) == ("hi", pattern(40000))
        replies = list(method("unary_stream", "Expand")(Req(message="m", count=3, response_size=20000), timeout=WAIT))
        assert [(r.index, len(r.payload)) for r in replies] == [(0, 20000), (1, 20000), (2, 20000)]
        collected = method("stream_unary", "Collect")(iter([Req(message=w) for w in ("a", "b", "c")]), timeout=WAIT)
        assert (collected.message, collected.index) == ("a b c", 3)
        chat = list(method("stream_stream", "Chat")(iter([Req(message="x", payload=pattern(n)) for n in (5, 70000)]),
                                                     timeout=WAIT))
        assert [r.payload for r in chat] == [pattern(5), pattern(70000)]
    # The upstream hop was TLS: the gateway's cluster connection completed a verified handshake.
    assert metric(config, "trestle_upstream_connections") >= 1
    assert "no shared ALPN" not in demo_tls_upstream.output()


def test_tls_demo_upstream_offers_only_h2(pki, demo_tls_upstream):
    """ALPN h2 only (gRPC over TLS): a client offering http/1.1 alone gets the no_application_protocol
    alert and the reason is logged; h2 is selected."""
    chosen = s_client(pki, demo_tls_upstream.port, "-alpn", "h2,http/1.1")
    assert "ALPN protocol: h2" in chosen and "Verify return code: 0 (ok)" in chosen, chosen
    refused = s_client(pki, demo_tls_upstream.port, "-alpn", "http/1.1")
    assert "no application protocol" in refused, refused
    wait_logged(demo_tls_upstream, "no shared ALPN protocol")

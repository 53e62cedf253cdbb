"""`trestle check --config FILE` on routes files with `tls:`: every certificate, key and CA file
is read and checked, and each problem is printed as FILE:LINE:COLUMN at the key naming the file.
Certificates are made here with the openssl command line."""
import re
import subprocess

import harness


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(folder):
    """A CA; a server certificate for localhost and 127.0.0.1; an expired one; a client certificate;
    a key that matches nothing."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "365", "-subj", "/CN=Check CA",
            cwd=folder)
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, days in [("server", "365"), ("client", "365"), ("soon", "5")]:
        openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", days, "-extfile", "server.ext", "-out", f"{name}.crt", cwd=folder)
    # Expired: `openssl ca` is the one that takes explicit dates.
    db = folder / "db"
    db.mkdir()
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (folder / "ca.cnf").write_text(
        "[ca]\ndefault_ca=x\n[x]\ndatabase=db/index.txt\nnew_certs_dir=db\nserial=db/serial\n"
        "default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n")
    openssl("req", "-new", *ec, "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost", cwd=folder)
    openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
            "-in", "expired.csr", "-out", "expired.crt", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
            cwd=folder)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "stray.key", cwd=folder)


GOOD = """\
listeners:
  - address: 127.0.0.1:{port}
  - address: 127.0.0.1:{tls_port}
    tls:
      certificate: server.crt
      key: server.key
      client_ca: ca.crt
      require_client_certificate: true
clusters:
  - name: testing
    endpoints: [127.0.0.1:{port}]
    tls:
      ca: ca.crt
      server_name: localhost
      certificate: client.crt
      key: client.key
  - name: lab
    endpoints: [127.0.0.1:{port}]
    tls:
      insecure_skip_verify: true
routes:
  - service: grpc.testing.TestService
    cluster: testing
"""

# Errors on lines 5, 9, 10, 13 and 17; a warning on line 18 (expires in 5 days).
BAD = """\
listeners:
  - address: 127.0.0.1:{tls_port}
    tls:
      certificate: expired.crt
      key: expired.key
  - address: 127.0.0.1:{port}
    tls:
      certificate: server.crt
      key: stray.key
      client_ca: nowhere.pem
clusters:
  - name: testing
    endpoints: [127.0.0.1:{port}]
    tls:
      ca: server.key
      certificate: client.crt
      key: client.key
  - name: other
    endpoints: [127.0.0.1:{port}]
    tls:
      certificate: soon.crt
      key: soon.key
routes:
  - service: grpc.testing.TestService
    cluster: testing
"""


def check(path):
    result = subprocess.run([harness.TRESTLE_BIN, "check", "--config", path],
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr


def lines_about(output, path):
    """[(line, column, message)] of the FILE:LINE:COLUMN: message lines about `path`."""
    return [(int(line), int(column), message)
            for line, column, message in re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): (\S.*)$", output, re.M)]


def test_cli_check_tls_accepts_good_files(tmp_path):
    make_pki(tmp_path)
    path = tmp_path / "tls.yaml"
    path.write_text(GOOD.format(port=harness.free_port(), tls_port=harness.free_port()))
    code, output = check(path)
    assert code == 0, output
    assert "ok (2 listeners, 2 clusters, 1 routes)" in output
    found = lines_about(output, path)
    assert [(line, message.split(":")[0]) for line, _, message in found] == [(20, "warning")], output
    assert "insecure_skip_verify" in found[0][2]


def test_cli_check_tls_reports_each_bad_file(tmp_path):
    make_pki(tmp_path)
    path = tmp_path / "tls.yaml"
    path.write_text(BAD.format(port=harness.free_port(), tls_port=harness.free_port()))
    code, output = check(path)
    assert code == 1, output
    found = {line: (column, message) for line, column, message in lines_about(output, path)}
    assert sorted(found) == [4, 9, 10, 15, 21], output
    assert found[4] == (20, f'certificate {tmp_path}/expired.crt ("CN=localhost") expired on 2020-02-01 00:00 UTC'
                            f' ({found[4][1].split("(")[-1]}'), output
    assert found[9] == (12, f"key {tmp_path}/stray.key does not match certificate {tmp_path}/server.crt (CN=server)")
    assert found[10] == (18, f"cannot read {tmp_path}/nowhere.pem: No such file or directory")
    assert found[15] == (11, f'CA file {tmp_path}/server.key holds no PEM certificate ("-----BEGIN CERTIFICATE-----")')
    column, message = found[21]
    assert column == 20 and message.startswith(f'warning: certificate {tmp_path}/soon.crt ("CN=soon") expires in '), output


def test_cli_check_tls_key_errors_point_at_the_key(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(GOOD.format(port=harness.free_port(), tls_port=harness.free_port())
                    .replace("require_client_certificate", "require_client_certficate"))
    code, output = check(path)
    assert code == 1, output
    assert lines_about(output, path) == [
        (8, 7, 'unknown key "require_client_certficate" in "tls" of listener 2; did you mean "require_client_certificate"?')
    ], output


def test_cli_serve_refuses_unusable_tls_files(tmp_path):
    """`serve` reads every TLS file before it listens: a key that does not match its certificate
    stops startup with the file named, never a cleartext or half-configured gateway."""
    make_pki(tmp_path)
    path = tmp_path / "tls.yaml"
    path.write_text(BAD.format(port=harness.free_port(), tls_port=harness.free_port()))
    done = subprocess.run([harness.TRESTLE_BIN, "serve", "--config", path], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done.stderr
    assert "TLS:" in done.stderr and ("stray.key" in done.stderr or "server.crt" in done.stderr), done.stderr
    assert "ready" not in done.stderr

"""`trestle check --config FILE`: routes file errors as FILE:LINE:COLUMN: message."""
import re
import subprocess

import harness


# Two errors, on lines 7 and 10.
BROKEN = """\
listeners:
  - address: 127.0.0.1:{port}
workers: 2
clusters:
  - name: testing
    endpoints: [127.0.0.1:{port}]
    connect_timeout: soon
routes:
  - service: grpc.testing.TestService
    cluster: nowhere
    timeout: 30s
"""

UNCLOSED = """\
listeners:
  - address: 127.0.0.1:{port}
clusters: [{{name: testing, endpoints: [127.0.0.1:{port}]
routes:
  - service: "*"
    cluster: testing
"""


def check(path):
    result = subprocess.run([harness.TRESTLE_BIN, "check", "--config", path],
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr


def error_lines(output, path):
    """{line number: message} of the FILE:LINE:COLUMN: message lines about `path`."""
    found = re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): (\S.*)$", output, re.M)
    assert all(int(column) >= 1 for _, column, _ in found), found
    return {int(line): message for line, _, message in found}


def test_cli_check_reports_each_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN.format(port=harness.free_port()))
    code, output = check(path)
    assert code != 0, output
    assert {7, 10} <= set(error_lines(output, path)), output


def test_cli_check_reports_syntax_error(tmp_path):
    path = tmp_path / "unclosed.yaml"
    path.write_text(UNCLOSED.format(port=harness.free_port()))
    code, output = check(path)
    assert code != 0, output
    assert error_lines(output, path), output


def test_cli_check_accepts_valid(tmp_path):
    path = harness.write_routes(harness.routes([harness.free_port()]), tmp_path / "valid.yaml")
    code, output = check(path)
    assert code == 0, output

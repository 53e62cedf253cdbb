"""gRPC-Web and CORS in a real browser: headless Chromium loads a page from one origin (a small
static server in the test) whose script calls the gateway on another origin with fetch() in
gRPC-Web framing, reads the body as it arrives and records what it read; the test reads it back
over the DevTools protocol. Chromium enforces CORS for real: a page on an origin the route does not
allow must fail, and its call must never reach the upstream."""
import base64
import functools
import http.server
import json
import threading
import urllib.parse

import pytest

import browser
import harness
from testing_stubs import messages_pb2

SVC = "/grpc.testing.TestService"

PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const q = new URLSearchParams(location.search);
const mode = q.get('mode');
const req = Uint8Array.from(atob(q.get('req')), c => c.charCodeAt(0));
function frame(msg) {
  const f = new Uint8Array(5 + msg.length), n = msg.length;
  f[1] = n >>> 24 & 255; f[2] = n >>> 16 & 255; f[3] = n >>> 8 & 255; f[4] = n & 255;
  f.set(msg, 5);
  return f;
}
function b64(bytes) { let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); }
window.progress = 0;
async function run() {
  const r = {chunks: 0, messages: [], arrivals: []};
  const headers = {'content-type': mode === 'text' ? 'application/grpc-web-text' : 'application/grpc-web+proto',
                   'x-grpc-web': '1', 'x-user-agent': 'grpc-web-javascript/0.1'};
  for (const h of q.getAll('hdr')) { const i = h.indexOf(':'); headers[h.slice(0, i)] = h.slice(i + 1); }
  try {
    const resp = await fetch(q.get('url'), {method: 'POST', headers,
                                           body: mode === 'text' ? b64(frame(req)) : frame(req)});
    r.httpStatus = resp.status;
    r.contentType = resp.headers.get('content-type');
    r.headerStatus = resp.headers.get('grpc-status');
    r.headerMessage = resp.headers.get('grpc-message');
    const reader = resp.body.getReader();
    let buf = [], text = '';
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      r.chunks++;
      if (mode === 'text') {
        text += new TextDecoder().decode(value);
        const whole = text.length - text.length % 4;
        for (let i = 0; i < whole; i += 4) { for (const c of atob(text.slice(i, i + 4))) buf.push(c.charCodeAt(0)); }
        text = text.slice(whole);
      } else {
        for (const b of value) buf.push(b);
      }
      while (buf.length >= 5) {
        const n = (buf[1] << 24 | buf[2] << 16 | buf[3] << 8 | buf[4]) >>> 0;
        if (buf.length < 5 + n) break;
        const flag = buf[0], payload = buf.slice(5, 5 + n);
        buf = buf.slice(5 + n);
        if (flag & 0x80) {
          r.trailers = new TextDecoder().decode(new Uint8Array(payload));
        } else {
          r.messages.push(n);
          window.progress = r.messages.length;
        }
      }
    }
    const m = r.trailers && /grpc-status:\\s*(\\d+)/.exec(r.trailers);
    r.trailerStatus = m ? m[1] : null;
  } catch (e) {
    r.error = String(e);
  }
  document.getElementById('out').textContent = JSON.stringify(r);
  window.result = r;
}
run();
</script></body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    (root / "page.html").write_text(PAGE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium():
    b = browser.Browser()
    yield b
    b.close()


@pytest.fixture
def web(upstream, gateway, page_server):
    up = upstream()
    config = harness.routes([up.port], workers=1)
    # Only the page's 127.0.0.1 origin is allowed; the same page on localhost is another origin.
    config["routes"][0]["cors"] = {"allowed_origins": [f"http://127.0.0.1:{page_server}"],
                                   "allowed_headers": ["x-test-id"]}
    config["cors"] = {"allowed_origins": [f"http://127.0.0.1:{page_server}"]}
    gw = gateway(config)
    gw.upstream = up
    return gw


def run_page(chromium, page_host, page_port, gw, path, request, mode="bin", headers=(), on_progress=None):
    query = urllib.parse.urlencode([("url", f"http://127.0.0.1:{gw.port}{path}"), ("mode", mode),
                                    ("req", base64.b64encode(request.SerializeToString()).decode()),
                                    *[("hdr", h) for h in headers]])
    session = chromium.open(f"http://{page_host}:{page_port}/page.html?{query}")
    if on_progress:
        chromium.wait_for(session, "window.progress >= 1 ? window.progress : null")
        on_progress()
    result = chromium.wait_for(session, "window.result === undefined ? null : window.result")
    # The DOM says the same (what a --dump-dom reader would see once the call is done).
    assert json.loads(chromium.evaluate(session, "document.getElementById('out').textContent")) == result
    return result


@pytest.mark.parametrize("mode", ["bin", "text"])
def test_browser_allowed_origin_unary_reads_status_from_trailer(chromium, page_server, web, mode):
    r = run_page(chromium, "127.0.0.1", page_server, web, f"{SVC}/UnaryCall",
                 messages_pb2.SimpleRequest(response_size=1234), mode=mode)
    assert "error" not in r, r
    assert r["httpStatus"] == 200
    assert r["contentType"] == ("application/grpc-web-text+proto" if mode == "text" else "application/grpc-web+proto")
    assert len(r["messages"]) == 1 and r["messages"][0] > 1234
    assert r["trailerStatus"] == "0"
    rec = web.upstream.service.calls[0]
    assert rec.metadata["x-user-agent"] == "grpc-web-javascript/0.1"


def test_browser_server_stream_read_as_it_arrives(chromium, page_server, web):
    """The page has the first message while the upstream holds the second back."""
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=100),
        messages_pb2.ResponseParameters(size=200, interval_us=30_000_000)])
    rec = web.upstream.service.record("browser-stream")

    def first_message_seen():
        assert rec.responses_yielded == 1 and not rec.release.is_set()
        rec.release.set()

    r = run_page(chromium, "127.0.0.1", page_server, web, f"{SVC}/StreamingOutputCall", request,
                 headers=["x-test-id:browser-stream"], on_progress=first_message_seen)
    assert "error" not in r, r
    assert len(r["messages"]) == 2 and r["trailerStatus"] == "0"


def test_browser_reads_trailers_only_status_from_exposed_headers(chromium, page_server, web):
    r = run_page(chromium, "127.0.0.1", page_server, web, "/no.such.Service/Method", messages_pb2.SimpleRequest())
    assert "error" not in r, r
    assert r["headerStatus"] == "12"
    assert r["headerMessage"] == "unknown service no.such.Service"
    assert r["messages"] == [] and r.get("trailers") is None


def test_browser_disallowed_origin_is_blocked_and_nothing_forwarded(chromium, page_server, web):
    r = run_page(chromium, "localhost", page_server, web, f"{SVC}/UnaryCall", messages_pb2.SimpleRequest(response_size=1))
    assert r.get("error", "").startswith("TypeError"), r
    assert "httpStatus" not in r
    assert not web.upstream.service.calls

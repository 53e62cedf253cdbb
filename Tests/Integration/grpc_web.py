"""gRPC-Web on the wire for the integration tests (PROTOCOL-WEB.md), written here rather than taken
from the gateway: message and trailer frames, base64 text decoded 4 characters at a time (a text
response may be several padded runs), and raw HTTP/1.1 and HTTP/2 (python h2) clients that show
every byte and when it arrived."""
import base64
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events

WAIT = 10.0


def frame(message, flag=0):
    return struct.pack(">BI", flag, len(message)) + message


def b64decode_runs(text):
    """Decodes base64 that may be several padded runs one after another (b64decode alone stops at
    the first padding)."""
    text = text.strip()
    assert len(text) % 4 == 0, f"base64 text of {len(text)} characters"
    return b"".join(base64.b64decode(text[i:i + 4]) for i in range(0, len(text), 4))


def parse_frames(body):
    """[(flag, payload)] of a gRPC-Web body; asserts it holds whole frames only."""
    frames, i = [], 0
    while i < len(body):
        assert len(body) - i >= 5, f"a partial frame prefix at byte {i}"
        flag, length = struct.unpack(">BI", body[i:i + 5])
        assert len(body) - i - 5 >= length, f"a frame of {length} bytes cut at {len(body) - i - 5}"
        frames.append((flag, body[i + 5:i + 5 + length]))
        i += 5 + length
    return frames


def parse_trailers(payload):
    """A trailer frame's fields as a dict; asserts lower-case names and CRLF lines."""
    out = {}
    text = payload.decode("ascii")
    assert text.endswith("\r\n"), repr(text)
    for line in text[:-2].split("\r\n"):
        name, sep, value = line.partition(":")
        assert sep and name == name.lower(), repr(line)
        out[name] = value.strip()
    return out


def split_body(body):
    """(messages, trailers dict or None) of a binary gRPC-Web body; the trailer frame must be last."""
    frames = parse_frames(body)
    messages = [p for f, p in frames if not f & 0x80]
    trailer_frames = [i for i, (f, _) in enumerate(frames) if f & 0x80]
    assert len(trailer_frames) <= 1 and (not trailer_frames or trailer_frames[0] == len(frames) - 1), frames
    return messages, (parse_trailers(frames[-1][1]) if trailer_frames else None)


class HTTP1Response:
    def __init__(self, status, headers, raw_headers):
        self.status = status
        self.headers = headers
        self.raw_headers = raw_headers
        self.body = b""


class HTTP1Client:
    """One HTTP/1.1 connection; `request` writes a request and reads the head; `read_chunk` reads
    one chunk of a chunked body as it arrives."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.trailers = {}  # of the last chunked body read

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def send_chunk(self, data):
        self.send(b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n")

    def request(self, method, path, headers, body=None, chunks=None):
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in headers]
        if chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        elif body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if chunks == "open":
            self.send(head)  # the caller sends the chunks (send_chunk) and reads the head itself
            return None
        if chunks is not None:
            self.send(head)
            for c in chunks:
                self.send_chunk(c)
            self.send_chunk(b"")
        else:
            self.send(head + (body or b""))
        return self.read_head()

    def read_head(self):
        status_line = self._line().decode()
        status = int(status_line.split()[1])
        headers, raw = {}, []
        while True:
            line = self._line().decode()
            if not line:
                break
            name, _, value = line.partition(":")
            raw.append((name, value.strip()))
            headers.setdefault(name.strip().lower(), value.strip())
        return HTTP1Response(status, headers, raw)

    def read_chunk(self):
        """The next chunk's bytes; b"" at the last chunk (its trailers go to `self.trailers`)."""
        size = int(self._line().split(b";")[0], 16)
        if size == 0:
            self.trailers = {}
            while (line := self._line()):
                name, _, value = line.decode().partition(":")
                self.trailers[name.strip().lower()] = value.strip()
            return b""
        data = self._exact(size)
        assert self._line() == b""
        return data

    def read_body(self, response):
        if "content-length" in response.headers:
            response.body = self._exact(int(response.headers["content-length"]))
        elif response.headers.get("transfer-encoding") == "chunked":
            parts = []
            while (c := self.read_chunk()):
                parts.append(c)
            response.body = b"".join(parts)
        return response.body


def h1_call(port, path, body, headers=(), text=False, ctype=None):
    """(response, body bytes decoded from text when `text`) of one gRPC-Web call over HTTP/1.1."""
    ctype = ctype or ("application/grpc-web-text" if text else "application/grpc-web+proto")
    c = HTTP1Client(port)
    try:
        r = c.request("POST", path, [("Content-Type", ctype), ("X-Grpc-Web", "1"), *headers],
                      base64.b64encode(body) if text else body)
        c.read_body(r)
    finally:
        c.close()
    return r, (b64decode_runs(r.body.decode()) if text and r.body else r.body)


class H2Stream:
    def __init__(self):
        self.headers = None
        self.trailers = None
        self.data = b""
        self.data_events = []   # (monotonic time, bytes) as they arrived
        self.ended = False
        self.reset = None


class H2Client:
    """A prior-knowledge h2c connection driven by python h2."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.streams = {}
        self.flush()

    def close(self):
        self.sock.close()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def start(self, path, headers, end=False, method="POST"):
        sid = self.conn.get_next_available_stream_id()
        self.streams[sid] = H2Stream()
        self.conn.send_headers(sid, [(":method", method), (":scheme", "http"), (":path", path),
                                     (":authority", "127.0.0.1"), *headers], end_stream=end)
        self.flush()
        return sid

    def send(self, sid, data, end=False):
        """Sends `data` within the flow-control windows (waiting for the gateway to open them)."""
        while True:
            self.pump(lambda: self.conn.local_flow_control_window(sid) > 0 or not data)
            n = min(len(data), self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            last = n == len(data)
            self.conn.send_data(sid, data[:n], end_stream=end and last)
            self.flush()
            data = data[n:]
            if last:
                return

    def end(self, sid):
        self.conn.end_stream(sid)
        self.flush()

    def pump(self, until, timeout=WAIT):
        """Reads events until `until()` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "timed out waiting on the HTTP/2 stream"
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            assert data, "connection closed"
            for ev in self.conn.receive_data(data):
                s = self.streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, h2.events.ResponseReceived):
                    s.headers = dict(ev.headers)
                elif isinstance(ev, h2.events.TrailersReceived):
                    s.trailers = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    s.data += ev.data
                    s.data_events.append((time.monotonic(), ev.data))
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    s.ended = True
                elif isinstance(ev, h2.events.StreamReset):
                    s.reset = ev.error_code
                    s.ended = True
            self.flush()


def h2_call(port, path, chunks, headers=(), text=False, ctype=None):
    """The finished H2Stream of one gRPC-Web call over h2c, the body sent as `chunks` (DATA frames)."""
    ctype = ctype or ("application/grpc-web-text" if text else "application/grpc-web+proto")
    c = H2Client(port)
    try:
        sid = c.start(path, [("content-type", ctype), ("x-grpc-web", "1"), *headers], end=not chunks)
        for i, chunk in enumerate(chunks):
            c.send(sid, chunk, end=i == len(chunks) - 1)
        s = c.streams[sid]
        c.pump(lambda: s.ended)
        return s
    finally:
        c.close()

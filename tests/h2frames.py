"""HTTP/2 by hand, for the attack tests: raw frames over a plain socket (h2c, prior knowledge).

A library client (h2) keeps to the protocol's state machine; an attacker does not. Here the
test decides every frame: the window settings it advertises, a header block that never ends,
flow control honoured or not. Header blocks are encoded by hand (HPACK, RFC 7541, no Huffman);
the server's header blocks are decoded with python3-hpack when a test needs them.
"""

import socket
import ssl
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4

SETTINGS_HEADER_TABLE_SIZE = 1
SETTINGS_ENABLE_PUSH = 2
SETTINGS_MAX_CONCURRENT_STREAMS = 3
SETTINGS_INITIAL_WINDOW_SIZE = 4
SETTINGS_MAX_FRAME_SIZE = 5

# The first entry of the HPACK dynamic table is index 62 (after the 61 static ones); an
# indexed header field referring to it is the single byte 0x80 | 62.
NEWEST_DYNAMIC_ENTRY = bytes([0x80 | 62])


def frame(type, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([type, flags]) + struct.pack(">I", stream) + payload


def settings(**values):
    """settings(INITIAL_WINDOW_SIZE=0, ENABLE_PUSH=0)"""
    ids = {"HEADER_TABLE_SIZE": 1, "ENABLE_PUSH": 2, "MAX_CONCURRENT_STREAMS": 3,
           "INITIAL_WINDOW_SIZE": 4, "MAX_FRAME_SIZE": 5, "MAX_HEADER_LIST_SIZE": 6}
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in values.items()))


def ping(data=b"sqdiff!!", ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def data(stream, payload, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, stream, payload)


def headers(stream, block, end_stream=True, end_headers=True):
    return frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0), stream, block)


def continuation(stream, block=b"", end_headers=False):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream, block)


# --- HPACK, encoding only, no Huffman ----------------------------------------------------------

def hpack_int(value, prefix_bits, flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([flags | value])
    out = [flags | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    s = s.encode() if isinstance(s, str) else s
    return hpack_int(len(s), 7) + s


def literal(name_index, value):
    """Literal header field without indexing, name from the static table."""
    return hpack_int(name_index, 4) + hpack_str(value)


def literal_indexed(name, value):
    """Literal header field with incremental indexing, new name: enters the dynamic table."""
    return b"\x40" + hpack_str(name) + hpack_str(value)


def parse_frames(data):
    """The complete frames in bytes a server sent: [(type, flags, stream, payload)]."""
    frames = []
    while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
        length = int.from_bytes(data[:3], "big")
        frames.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF, data[9:9 + length]))
        data = data[9 + length:]
    return frames


def request_block(method="GET", path="/?n=1&n=2&n=3", authority="127.0.0.1"):
    """The pseudo-header fields of a request: :method, :scheme http, :path, :authority."""
    m = {"GET": b"\x82", "POST": b"\x83"}[method]
    return m + b"\x86" + literal(4, path) + literal(1, authority)


# --- a connection ------------------------------------------------------------------------------

class H2Conn:
    """A raw HTTP/2 connection. send() never raises on a closed connection (it sets closed);
    poll() reads what the server sent, answers its SETTINGS, and notes GOAWAY, EOF, RST."""

    def __init__(self, port, timeout=5, sndbuf=None, tls=None, **client_settings):
        # tls: an ssl.SSLContext: HTTP/2 over TLS, chosen by ALPN ("h2"), to an HTTPS port.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        if tls:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.closed = False  # EOF or reset seen, or a send failed
        self.goaway = None  # (last stream id, error code) once a GOAWAY came
        self.frames = []  # (type, flags, stream, payload) of every frame read, in order
        self.bytes_sent = 0
        self.conn_window = 65535
        self.stream_window_initial = 65535
        self.stream_windows = {}
        self.send(PREFACE + settings(**client_settings))
        # Acknowledge the server's SETTINGS now: an ACK sent later could land inside a header
        # block (HEADERS ... CONTINUATION), which is a protocol error of the client's.
        deadline = time.monotonic() + timeout
        while not self.gone() and time.monotonic() < deadline and \
                not any(f[0] == SETTINGS and not f[1] & ACK for f in self.frames):
            self.poll(0.05)

    def send(self, payload, timeout=None):
        """Sends all of payload; False (and closed set) if the connection is gone. With timeout,
        also False if the bytes could not be handed to the kernel in time (closed not set)."""
        if self.closed:
            return False
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            self.sock.sendall(payload)
            self.bytes_sent += len(payload)
            return True
        except socket.timeout:
            return False
        except OSError:  # EPIPE, ECONNRESET
            self.closed = True
            return False
        finally:
            self.sock.settimeout(old)

    def poll(self, timeout=0.0):
        """Reads whatever arrives within timeout (at least what is already there); returns the
        frames read."""
        new = []
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            self.sock.settimeout(max(left, 0.0) if left > 0 else 0.0)
            try:
                chunk = self.sock.recv(1 << 20)
            except (BlockingIOError, socket.timeout, ssl.SSLWantReadError):
                break
            except OSError:
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
            while len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + length:
                    break
                type, flags = self.buf[3], self.buf[4]
                stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                payload = self.buf[9:9 + length]
                self.buf = self.buf[9 + length:]
                f = (type, flags, stream, payload)
                self._handle(f)
                new.append(f)
            if new and left <= 0:
                break
        self.sock.settimeout(5)
        self.frames += new
        return new

    def _handle(self, f):
        type, flags, stream, payload = f
        if type == SETTINGS and not flags & ACK:
            for i in range(0, len(payload) - 5, 6):
                key, value = struct.unpack(">HI", payload[i:i + 6])
                if key == SETTINGS_INITIAL_WINDOW_SIZE:
                    delta = value - self.stream_window_initial
                    self.stream_window_initial = value
                    for s in self.stream_windows:
                        self.stream_windows[s] += delta
            self.send(frame(SETTINGS, ACK, 0))
        elif type == WINDOW_UPDATE:
            inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if stream == 0:
                self.conn_window += inc
            else:
                self.stream_windows[stream] = self.stream_windows.get(stream, self.stream_window_initial) + inc
        elif type == GOAWAY:
            self.goaway = (int.from_bytes(payload[:4], "big") & 0x7FFFFFFF, int.from_bytes(payload[4:8], "big"))

    def window(self, stream):
        return min(self.conn_window, self.stream_windows.setdefault(stream, self.stream_window_initial))

    def consume_window(self, stream, n):
        self.conn_window -= n
        self.stream_windows[stream] = self.stream_windows.get(stream, self.stream_window_initial) - n

    def gone(self):
        """The server closed the connection or said it would (GOAWAY)."""
        return self.closed or self.goaway is not None

    def wait_gone(self, deadline, ping_every=None):
        """Reads (and, with ping_every, sends a PING that often) until the server closes the
        connection or sends GOAWAY, or deadline (time.monotonic()) passes. True if gone."""
        next_ping = time.monotonic()
        while not self.gone() and time.monotonic() < deadline:
            if ping_every and time.monotonic() >= next_ping:
                self.send(ping(), timeout=0.5)
                next_ping = time.monotonic() + ping_every
            self.poll(min(0.1, max(deadline - time.monotonic(), 0)))
        return self.gone()

    def responses(self):
        """{stream: (headers dict, body bytes, ended)} of what was read so far (decodes HPACK)."""
        import hpack
        decoder = hpack.Decoder()
        decoder.max_allowed_table_size = 65536
        out = {}
        block = {}
        for type, flags, stream, payload in self.frames:
            if type in (HEADERS, CONTINUATION):
                if type == HEADERS:
                    payload = _strip_headers_padding(flags, payload)
                block[stream] = block.get(stream, b"") + payload
                if flags & END_HEADERS:
                    hdrs = dict(decoder.decode(block.pop(stream), raw=False))
                    h, b, _ = out.get(stream, ({}, b"", False))
                    out[stream] = ({**h, **hdrs}, b, bool(flags & END_STREAM))
            elif type == DATA:
                h, b, _ = out.get(stream, ({}, b"", False))
                if flags & 0x8:
                    pad = payload[0]
                    payload = payload[1:len(payload) - pad]
                out[stream] = (h, b + payload, bool(flags & END_STREAM))
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _strip_headers_padding(flags, payload):
    if flags & 0x8:
        pad = payload[0]
        payload = payload[1:len(payload) - pad]
    if flags & 0x20:
        payload = payload[5:]
    return payload

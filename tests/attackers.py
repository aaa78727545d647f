# SPDX-License-Identifier: MIT
"""The attack clients: each plays one hostile client against a front end on 127.0.0.1:PORT
and reports what it met. tests/test_attacks.py checks the front end's budgets around each;
bench/soak.py cycles them beside well-behaved clients. HTTP/2 frames come from h2frames.py."""

import socket
import threading
import time

import h2frames as h2

PIPELINED = b"GET /?n=1&n=2&n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
BIG_HEADER = h2.literal_indexed("x-pad", "a" * 3990)  # a 4,027-byte dynamic table entry
BODY = b'{"numbers":[1,2,3]}'

# Ambiguous HTTP/1.1 framing (RFC 9112): each must get a 400 and a close.
FRAMINGS = [
    ("content-length with transfer-encoding",
     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
     % (len(BODY), len(BODY), BODY)),
    ("transfer-encoding with content-length",
     b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
     % (len(BODY), len(BODY), BODY)),
    ("two differing content-lengths",
     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: 5\r\n\r\n%s" % (len(BODY), BODY)),
    ("bare LF line endings", b"GET /?n=1 HTTP/1.1\nHost: x\n\n"),
    ("bare LF in chunked framing",
     b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\n%s\n0\n\n" % (len(BODY), BODY)),
    ("a chunk size 0x13", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x13\r\n%s\r\n0\r\n\r\n"
     % BODY),
    ("obs-fold", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n identity\r\n\r\n0\r\n\r\n"),
    ("no Host", b"GET /?n=1 HTTP/1.1\r\n\r\n"),
    ("two Hosts", b"GET /?n=1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
]


def read_until_closed(sock, deadline):
    """Reads (and discards) until EOF or a reset; returns (closed, bytes read)."""
    total = 0
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            return True, total
        if not chunk:
            return True, total
        total += len(chunk)
    return False, total


def pipeline_without_reading(port, seconds, tick=None):
    """Pipelines PIPELINED as fast as it can for `seconds`, reading nothing, with a small
    receive buffer so the answers stop draining early; calls tick() every 0.2 s. Returns
    (the socket, still open, for the caller to watch; bytes sent; whether the front end
    closed it while it was sending)."""
    pattern = PIPELINED * 2000
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", port))
    sent, end, next_tick = 0, time.monotonic() + seconds, 0
    while time.monotonic() < end:
        sock.settimeout(0.2)
        try:
            sent += sock.send(pattern[sent % len(pattern):])
        except socket.timeout:
            pass
        except OSError:
            return sock, sent, True
        if tick and time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + 0.2
    return sock, sent, False


def pipeline_then_half_close(port, n, seconds):
    """n tiny pipelined requests, then shutdown(SHUT_WR); reads answers until the front end
    closes or `seconds` pass. Returns (answers, closed)."""
    req = b"GET /?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        def sender():
            try:
                sock.sendall(req * n)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        answers, tail, closed = 0, b"", False
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sock.settimeout(0.5)
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                closed = True
                break
            data = tail + chunk
            answers += data.count(b"HTTP/1.1 ")
            tail = data[-8:] if not data.endswith(b"HTTP/1.1 ") else b""
        t.join(10)
        return answers, closed


def amplifying_connection(port, streams=100, wire_bytes=16000):
    """Window 0 (answers cannot leave), then `streams` requests whose header blocks are 1-byte
    references to one 4 KB dynamic table entry."""
    c = h2.H2Conn(port, INITIAL_WINDOW_SIZE=0, ENABLE_PUSH=0)
    for i in range(streams):
        block = h2.request_block() + (BIG_HEADER if i == 0 else b"")
        block += h2.NEWEST_DYNAMIC_ENTRY * (wire_bytes - len(block))
        if not c.send(h2.headers(2 * i + 1, block), timeout=2):
            break
    return c


def unfinished_bodies(port, streams, per_stream, patience, tick=None):
    """An HTTP/2 connection that opens `streams` POSTs and sends each `per_stream` body bytes
    (JSON whitespace: a body that never gets to its end) as the windows allow, never ending
    them; stops after `patience` s without progress, calling tick(conn) every 0.5 s. Returns
    (the connection, gone() if the front end closed it; bytes sent; when the last was sent)."""
    c = h2.H2Conn(port, ENABLE_PUSH=0)
    ids = [2 * i + 1 for i in range(streams)]
    sent = dict.fromkeys(ids, 0)
    c.poll(0.3)  # the server's SETTINGS and window updates
    for sid in ids:
        c.send(h2.headers(sid, h2.request_block("POST", "/"), end_stream=False))
    chunk, last, next_tick = b" " * 16384, time.monotonic(), 0
    while not c.gone() and any(v < per_stream for v in sent.values()) and time.monotonic() < last + patience:
        moved = False
        for sid in ids:
            n = min(len(chunk), per_stream - sent[sid], c.window(sid))
            if n > 0 and c.send(h2.data(sid, chunk[:n]), timeout=1):
                c.consume_window(sid, n)
                sent[sid] += n
                moved, last = True, time.monotonic()
        if tick and time.monotonic() >= next_tick:
            tick(c)
            next_tick = time.monotonic() + 0.5
        c.poll(0 if moved else 0.1)
    return c, sum(sent.values()), last

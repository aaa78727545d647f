"""HTTPS (issue 20): the TLS listener, its protocols, its certificate and its budget.

The front end runs with a third socket named "https" (as sqdiff-httpd-tls.socket names it)
and a certificate of a CA the tests make (tlsca.py). Clients are real ones: curl, Python's
ssl module, openssl s_client, testssl.sh; the red-team checks of the cleartext edge are played
again through TLS. Under the real systemd, with the certificate as a credential, the README's
procedure runs it (test_docs.py).
"""

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import h2frames as h2
from conftest import BUILDDIR, TARGET, lean_asan
from expected import answer, query
from suite import ProcessSuite, proc_rss_kib, wait_for
from test_attacks import IDLE, MARGIN, config_constant, metric, rss_per_open_connection
from tlsca import TestCA, peer_serial

pytestmark = pytest.mark.skipif(TARGET != "process", reason="the plain processes' HTTPS socket (the units': test_docs)")

NUMBERS = [1, 2, 3, -7, 2**63 - 1, -2**63]


@pytest.fixture(scope="module")
def ca():
    d = tempfile.mkdtemp(prefix="sqdiff-ca-")
    yield TestCA(d)
    shutil.rmtree(d, ignore_errors=True)


def tls_suite(ca, extra_config="", name="server", serial=1):
    cert, key = ca.issue(name, serial)
    with lean_asan():
        return ProcessSuite(BUILDDIR, extra_config=extra_config, tls=(cert, key))


@pytest.fixture(scope="module")
def https(ca):
    """Workers mode, HTTPS beside HTTP, the red-team's limits (idle-timeout 2s,
    max-connections 32)."""
    s = tls_suite(ca, "idle-timeout = 2s\nmax-connections = 32\nmax-body-size = 1M\n")
    yield s
    s.close()


def curl(ca, suite, *args, body=None):
    """curl's answer (JSON) and HTTP version; body: POSTed (from stdin)."""
    post = ["-X", "POST", "--data-binary", "@-"] if body is not None else []
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", ca.cert, "-w", "\n%{http_version}",
                          *post, *args], input=body, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body, version = out.stdout.rsplit("\n", 1)
    return json.loads(body), version


def tls_connect(ca, suite, alpn=None, context=None):
    ctx = context or ca.client_context(alpn)
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", suite.tls_port), timeout=10),
                           server_hostname="localhost")


_unread = {}  # per socket: bytes read past the last response


def read_response(sock):
    """The next HTTP/1.1 response on sock: (status line, JSON body)."""
    data = _unread.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += sock.recv(65536)
    _unread[sock] = rest[length:]
    return head.split(b"\r\n")[0].decode(), json.loads(rest[:length])


def http1_over(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return read_response(sock)


# --- answers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol,flag", [("1.1", "--http1.1"), ("2", "--http2")])
def test_curl_over_https_answers_exactly(ca, https, protocol, flag):
    url = f"https://localhost:{https.tls_port}"
    got, version = curl(ca, https, flag, url + query(NUMBERS))
    assert (got, version) == (answer(NUMBERS), protocol)
    body = json.dumps({"numbers": list(range(-500, 20_000))})
    got, version = curl(ca, https, flag, url + "/", body=body)
    assert (got, version) == (answer(list(range(-500, 20_000))), protocol)


def test_alpn_chooses_h2_then_http1(ca, https):
    for offered, chosen in ((["h2", "http/1.1"], "h2"), (["http/1.1", "h2"], "h2"), (["http/1.1"], "http/1.1"),
                            (["spdy/3"], None), (None, None)):
        with tls_connect(ca, https, offered) as s:
            assert s.selected_alpn_protocol() == chosen, offered
            if chosen != "h2":  # HTTP/1.1, ALPN or not
                assert http1_over(s, query([3, 4])) == ("HTTP/1.1 200 OK", answer([3, 4]))


def test_the_cleartext_port_keeps_working_beside_https(https):
    assert https.get(query(NUMBERS)).json() == answer(NUMBERS)


def test_keep_alive_and_pipelining_over_tls(ca, https):
    with tls_connect(ca, https, ["http/1.1"]) as s:
        for i in range(20):
            assert http1_over(s, query([i, 1])) == ("HTTP/1.1 200 OK", answer([i, 1]))
        n = 300
        s.sendall(b"".join(f"GET {query([i, 2])} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(n)))
        for i in range(n):
            assert read_response(s) == ("HTTP/1.1 200 OK", answer([i, 2]))


def tls_records(data):
    """Whole TLS records at the start of data (the 5-byte header and what it counts), and the rest."""
    records = []
    while len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
        n = 5 + int.from_bytes(data[3:5], "big")
        records.append(data[:n])
        data = data[n:]
    return records, data


def test_an_answer_over_tls_is_one_record(ca, https):
    """h2o writes each buffer it is given as a TLS record of its own: the head and the body of an
    answer would be two records, two encryptions (the keep-alive load cost 6.8 µs of CPU per
    request against nginx's 6.1). The client here sees the ciphertext: each answer must come out
    of exactly one record (a TLS 1.3 session ticket is a record too, and gives no bytes)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ca.client_context(["http/1.1"]).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", https.tls_port), timeout=10) as sock:
        for _ in range(10):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        sock.sendall(outgoing.read())
        pending = b""
        for i in range(5):
            tls.write(f"GET {query([i, 3])} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            sock.sendall(outgoing.read())
            plain, carrying = b"", 0
            while not plain.endswith(b"}"):  # the JSON body ends the answer
                chunk = sock.recv(65536)
                assert chunk, "connection closed before the answer"
                records, pending = tls_records(pending + chunk)
                for record in records:
                    incoming.write(record)
                    got = b""
                    try:
                        while True:
                            got += tls.read(65536)
                    except ssl.SSLWantReadError:
                        pass
                    carrying += bool(got)
                    plain += got
            head, body = plain.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200 OK") and json.loads(body) == answer([i, 3])
            assert carrying == 1, f"answer {i} came in {carrying} records"


# --- protocols refused ---------------------------------------------------------------------------

def old_client(version=None, ciphers=None, tls13=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


@pytest.mark.parametrize("name,version,ciphers", [
    ("TLS 1.0", ssl.TLSVersion.TLSv1, None),
    ("TLS 1.1", ssl.TLSVersion.TLSv1_1, None),
    ("TLS 1.2, RSA key exchange and CBC only", ssl.TLSVersion.TLSv1_2, "AES128-SHA:AES256-SHA"),
    ("TLS 1.2, CBC only", ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"),
    ("TLS 1.2, 3DES and RC4", ssl.TLSVersion.TLSv1_2, "DES-CBC3-SHA:RC4-SHA"),
])
def test_old_protocols_and_weak_ciphers_are_refused(ca, https, name, version, ciphers):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with tls_connect(ca, https, context=old_client(version, ciphers)):
            pass
    # The same client with a cipher of the profile gets in: the refusal above is the profile's.
    with tls_connect(ca, https, context=old_client(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256")) as s:
        assert s.version() == "TLSv1.2"


def test_sslv3_is_refused(ca, https):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{https.tls_port}", "-ssl3"],
                         input="", capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "BEGIN CERTIFICATE" not in out.stdout, out.stdout + out.stderr


def test_tls13_and_session_resumption(ca, https):
    ctx = ca.client_context(["http/1.1"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.2's session is known once the handshake ends
    with tls_connect(ca, https, context=ctx) as s:
        http1_over(s, "/?n=1")
        session = s.session
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", https.tls_port), timeout=10),
                         server_hostname="localhost", session=session) as s:
        assert s.session_reused, "a ticket of the same server was not taken"
    with tls_connect(ca, https) as s:
        assert s.version() == "TLSv1.3"


def test_a_resumed_tls13_connection_gets_a_fresh_ticket(ca, https):
    """TLS 1.3 clients use a ticket once (RFC 8446, C.4; OpenSSL's do): a connection that resumed
    must bring a new ticket, or the next one is a full handshake again."""
    ctx = ca.client_context(["http/1.1"])
    session, ids = None, []
    new = metric(https, "sqdiff_tls_handshakes_total", '{session="new"}')
    resumed = metric(https, "sqdiff_tls_handshakes_total", '{session="resumed"}')
    for _ in range(4):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", https.tls_port), timeout=10),
                             server_hostname="localhost", session=session) as s:
            assert s.version() == "TLSv1.3" and s.session_reused == (session is not None)
            http1_over(s, "/?n=1")  # the tickets come before the answer
            session = s.session
            ids.append(session.id)
    assert len(set(ids)) == len(ids), "a resumed connection brought no new ticket"
    assert metric(https, "sqdiff_tls_handshakes_total", '{session="new"}') == new + 1
    assert metric(https, "sqdiff_tls_handshakes_total", '{session="resumed"}') == resumed + 3


# --- the budget --------------------------------------------------------------------------------

def test_a_stalled_handshake_is_cut_at_idle_timeout(https):
    before = metric(https, "sqdiff_http_connections_closed_total", '{reason="no-progress"}')
    failed = metric(https, "sqdiff_http_connections_closed_total", '{reason="tls-handshake"}')
    with socket.create_connection(("127.0.0.1", https.tls_port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's first bytes, no more
        s.settimeout(IDLE + MARGIN)
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
    assert metric(https, "sqdiff_http_connections_closed_total", '{reason="no-progress"}') == before + 1
    # counted once, as cut: not as a failed handshake too
    assert metric(https, "sqdiff_http_connections_closed_total", '{reason="tls-handshake"}') == failed


def test_handshakes_in_progress_count_against_max_connections(ca):
    s = tls_suite(ca, "max-connections = 4\nidle-timeout = 30s\n", name="capped")
    stalled = []
    try:
        for _ in range(4):
            stalled.append(socket.create_connection(("127.0.0.1", s.tls_port), timeout=10))
        wait_for(lambda: metric(s, "sqdiff_http_accept_paused_total", '{reason="connection-cap"}') >= 1
                 or metric(s, "sqdiff_http_connections") >= 4, 10, "4 handshakes accepted")
        assert metric(s, "sqdiff_http_connections") == 4 + 1  # and the scrape's own
        late = concurrent.futures.ThreadPoolExecutor(1).submit(
            lambda: curl(ca, s, f"https://localhost:{s.tls_port}/?n=5"))
        wait_for(lambda: metric(s, "sqdiff_http_accept_paused_total", '{reason="connection-cap"}') >= 1, 10,
                 "accepting paused at the cap")
        assert not late.done()
        stalled.pop().close()
        assert late.result(timeout=20) == (answer([5]), "2")
    finally:
        for c in stalled:
            c.close()
        s.close()


@pytest.mark.skipif("ASAN_OPTIONS" in os.environ, reason="ASan adds its own bookkeeping to every allocation "
                    "(make test runs this on the plain build)")
@pytest.mark.parametrize("alpn", ["http/1.1", "h2"])
def test_an_open_tls_connection_costs_no_more_than_the_budget_counts(ca, alpn):
    """The memory budget counts CONFIG_TLS_CONN_BYTES per connection when HTTPS is on: 300
    idle ones, each past its handshake (and a request, or HTTP/2's SETTINGS), grow the front
    end's RSS by less."""
    s = tls_suite(ca, name="costs")

    def connect():
        sock = tls_connect(ca, s, [alpn])
        if alpn == "http/1.1":
            http1_over(sock, "/?n=1")
        else:
            sock.sendall(h2.PREFACE + h2.settings(ENABLE_PUSH=0))
        return sock
    try:
        for _ in range(3):  # warm: the first connections' allocations are the process's, not theirs
            with tls_connect(ca, s, ["http/1.1"]) as c:
                http1_over(c, "/?n=1")
        per_conn = rss_per_open_connection(s, 300, connect)
        assert per_conn <= config_constant("CONFIG_TLS_CONN_BYTES"), \
            f"an idle TLS connection costs {per_conn} bytes, the budget counts " \
            f"{config_constant('CONFIG_TLS_CONN_BYTES')}"
    finally:
        s.close()


# --- the red team, again through TLS ---------------------------------------------------------------

def test_pipelining_client_that_never_reads_over_tls(ca, https):
    pid = https.frontend_pid()
    base = proc_rss_kib(pid)
    s = tls_connect(ca, https, ["http/1.1"])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    pattern = b"GET /?n=1&n=2 HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
    sent, end, closed, peak = 0, time.monotonic() + 5, False, 0
    s.settimeout(0.2)
    while time.monotonic() < end:
        try:
            sent += s.send(pattern)
        except (socket.timeout, ssl.SSLWantWriteError):
            pass
        except OSError:
            closed = True
            break
        peak = max(peak, proc_rss_kib(pid) - base)
    assert peak < 64 * 1024, f"RSS grew {peak} KiB under {sent} bytes of pipelined requests"
    if not closed:  # its answers stopped draining: idle-timeout later the front end has closed
        time.sleep(IDLE + MARGIN)
        deadline = time.monotonic() + 5
        s.settimeout(0.5)
        while not closed and time.monotonic() < deadline:
            try:
                closed = s.recv(1 << 20) == b""
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except OSError:
                closed = True
    s.close()
    assert closed, "a TLS client that never reads still connected after idle-timeout"


def test_http2_zero_window_over_tls_is_closed(ca, https):
    c = h2.H2Conn(https.tls_port, tls=ca.client_context(["h2"]), INITIAL_WINDOW_SIZE=0, ENABLE_PUSH=0)
    try:
        for i in range(10):
            c.send(h2.headers(2 * i + 1, h2.request_block(path=query([i, 2, 3]))))
        assert c.wait_gone(time.monotonic() + IDLE + MARGIN, ping_every=0.5), \
            "an HTTP/2-over-TLS connection stuck behind window 0 still open"
    finally:
        c.close()


def test_http2_empty_frame_flood_over_tls_is_closed(ca, https):
    c = h2.H2Conn(https.tls_port, tls=ca.client_context(["h2"]))
    frames = 0
    try:
        c.send(h2.headers(1, h2.request_block(), end_stream=True, end_headers=False))
        deadline = time.monotonic() + 5
        while not c.gone() and time.monotonic() < deadline and frames < 100_000:
            if c.send(h2.continuation(1) * 100, timeout=1):
                frames += 100
            c.poll(0)
        assert c.gone() and frames < 100_000, f"{frames} empty CONTINUATION frames and still open"
    finally:
        c.close()


# --- the certificate ----------------------------------------------------------------------------

def test_a_certificate_reload_under_load_loses_no_request(ca):
    s = tls_suite(ca, name="reloaded", serial=0x1001)
    cert, key = s.tls
    stop, failures, serials, done = threading.Event(), [], set(), [0]

    def load():
        ctx = ca.client_context(["http/1.1"])
        while not stop.is_set():
            try:
                with tls_connect(ca, s, context=ctx) as c:
                    serials.add(peer_serial(c))
                    for i in range(3):
                        assert http1_over(c, query([i, 7])) == ("HTTP/1.1 200 OK", answer([i, 7]))
                        done[0] += 1
            except Exception as e:  # noqa: BLE001: every failure is the test's finding
                failures.append(repr(e))
    try:
        keep = tls_connect(ca, s, ["http/1.1"])  # open across the reload
        assert http1_over(keep, "/?n=2")[1] == answer([2])
        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: done[0] >= 50, 20, "requests before the reload")
        new_cert, new_key = ca.issue("renewed", 0x2002)
        shutil.copy(new_cert, cert)  # as certbot renews: new files, same names
        shutil.copy(new_key, key)
        s.httpd.send_signal(signal.SIGHUP)
        wait_for(lambda: 0x2002 in serials, 20, "a new connection with the renewed certificate")
        at = done[0]
        wait_for(lambda: done[0] >= at + 50, 20, "requests after the reload")
        stop.set()
        for t in threads:
            t.join(30)
        assert failures == []
        assert serials == {0x1001, 0x2002}
        assert http1_over(keep, "/?n=3")[1] == answer([3]), "the connection opened before the reload"
        keep.close()
    finally:
        stop.set()
        s.close()


def test_a_bad_certificate_is_refused_at_start_and_kept_at_reload(ca):
    cert, key = ca.issue("good", 7)
    _, other_key = ca.issue("other", 8)
    httpd = os.path.join(BUILDDIR, "src", "sqdiff-httpd")
    for args, why in (([f"--tls-certificate={cert}", f"--tls-key={other_key}"], "key values mismatch"),
                      ([f"--tls-certificate={key}", f"--tls-key={key}"], "tls-certificate"),
                      ([f"--tls-certificate={cert}"], "HTTPS needs both"),
                      (["--listen-tls=127.0.0.1:1"], "need tls-certificate")):
        out = subprocess.run([httpd, "--check", "--mode=local", *args], capture_output=True, text=True, timeout=20)
        assert out.returncode == 78 and why in out.stderr, (args, out.returncode, out.stderr)
    out = subprocess.run([httpd, "--check", "--mode=local", f"--tls-certificate={cert}", f"--tls-key={key}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    s = tls_suite(ca, name="kept", serial=0x3003)
    try:
        assert s.get("/?n=1").status == 200  # socket activation: the front end runs from here
        with open(s.tls[0], "w") as f:
            f.write("not a certificate\n")
        s.httpd.send_signal(signal.SIGHUP)
        wait_for(lambda: "HTTPS certificate" in s.logs() or "Reload refused" in s.logs(), 10, "the reload logged")
        wait_for(lambda: "Reload refused" in s.logs(), 10, "the reload refused")
        with tls_connect(ca, s) as c:
            assert peer_serial(c) == 0x3003
        assert s.get("/?n=4").json() == answer([4])
    finally:
        s.close()


# --- testssl.sh ----------------------------------------------------------------------------------

def test_testssl_finds_nothing_high_or_critical(ca, https):
    report = os.path.join(tempfile.mkdtemp(prefix="sqdiff-testssl-"), "report.json")
    out = subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off", "--add-ca", ca.cert,
                          "--jsonfile", report,
                          f"127.0.0.1:{https.tls_port}"], capture_output=True, text=True, timeout=900)
    with open(report) as f:
        findings = json.load(f)
    assert len(findings) > 50, out.stdout[-3000:]
    bad = [(f["id"], f["severity"], f["finding"]) for f in findings if f["severity"] in ("HIGH", "CRITICAL")]
    assert bad == [], bad
    served = {f["id"]: f["finding"] for f in findings}
    assert served.get("TLS1_3") == "offered with final" and served.get("TLS1_1") == "not offered", served
    assert served.get("SSLv3") == "not offered" and served.get("TLS1") == "not offered", served

"""The daemons' glue, checked in the fast loop (issue 15): what systemd would see of them
(notify, watchdog, status, a graceful stop), the catalog, rate-limited logs, batching past one
message's worth of jobs, big-job metering, HEAD, and HTTP/2 streams that vanish while their jobs
wait (run against the sanitized build by `make test`, where a dangling pointer aborts).

The notify tests play systemd's part for plain processes: each daemon gets a NOTIFY_SOCKET and
WATCHDOG_USEC from the suite (ProcessSuite(notify=True)); under systemd, tests/test_systemd.py
checks the same through systemd itself. Every wait here is bounded; none passes on timing.
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

import h2frames as h2
from conftest import BUILDDIR, ROOT, TARGET
from expected import answer, query
from suite import ProcessSuite, open_requests, read_responses, wait_for

process_only = pytest.mark.skipif(TARGET != "process", reason="plays systemd's part for plain processes")

STATUS_RE = re.compile(r"STATUS=workers mode: ")
# The front end's counters, in the STATUS= text of today ("5 answered, 3 pending, 1 timed out,
# 2 refused busy, ...") or of the per-status counters ("3 pending, ..., answers 200=5 ... 503=2
# 504=1 ..., 7 dropped replies"): each number by the first pattern that finds it.
STATUS_FIELDS = {
    "answered": (r"\b(\d+) answered\b", r"\b200=(\d+)"),
    "pending": (r"\b(\d+) pending\b",),
    "timed_out": (r"\b(\d+) timed out\b", r"\b504=(\d+)"),
    "busy": (r"\b(\d+) refused busy\b", r"\b503=(\d+)"),
    "dropped": (r"\b(\d+) dropped replies\b",),
}


def status_field(line, name):
    """A number of a STATUS= line of the front end, None for another line."""
    if not STATUS_RE.match(line):
        return None
    for pattern in STATUS_FIELDS[name]:
        m = re.search(pattern, line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no {name} in {line!r}")


def answered(line):
    return status_field(line, "answered")


def pending(line):
    return status_field(line, "pending")


def notified_suite(extra_config=""):
    return ProcessSuite(BUILDDIR, extra_config=extra_config, notify=True)


@pytest.fixture(scope="module")
def ns():
    """Workers mode, notified; a request timeout long enough for a held queue to drain."""
    s = notified_suite("request-timeout = 20s\n")
    yield s
    s.close()


def big_body(count, first=4611686018427387904):
    numbers = [first + i for i in range(count)]
    return numbers, json.dumps({"numbers": numbers}).encode()


# --- the catalog ---------------------------------------------------------------------------------

def test_every_message_id_is_in_the_catalog():
    """Every SQ_MSG_* of src/log.h is a 128-bit id documented in units/sqdiff.catalog, and the
    catalog documents no other: journalctl -x explains every event, whichever a run logged."""
    with open(os.path.join(ROOT, "src", "daemon", "log.h")) as f:
        ids = dict(re.findall(r'^#define (SQ_MSG_\w+) "([^"]*)"', f.read(), re.M))
    with open(os.path.join(ROOT, "units", "sqdiff.catalog")) as f:
        catalog = re.findall(r"^-- (\S+)", f.read(), re.M)
    assert len(ids) >= 13, ids
    for name, value in ids.items():
        assert re.fullmatch(r"[0-9a-f]{32}", value), f"{name} = {value!r} is not a MESSAGE_ID"
    assert len(set(ids.values())) == len(ids), "two events share a MESSAGE_ID"
    assert sorted(catalog) == sorted(ids.values()), \
        f"in log.h only: {set(ids.values()) - set(catalog)}; in the catalog only: {set(catalog) - set(ids.values())}"


# --- notify, watchdog, status, stop --------------------------------------------------------------

@process_only
def test_front_end_notifies_ready_status_and_watchdog(ns):
    n = ns.notifications["httpd"]
    ready = n.find(lambda l: l.startswith("STATUS="))
    assert ready is not None and "workers mode" in ready, n.lines[:10]
    assert "sqdiff-httpd: info: Ready:" in ns.logs()
    start = n.count()
    for numbers in ([1, 2], [3], [4, 5, 6]):
        resp = ns.get(query(numbers))
        assert resp.status == 200 and resp.json() == answer(numbers)
    # The reaper sends STATUS= every reaper-interval (1 s): a later one counts the answers.
    line = n.wait(lambda l: (answered(l) or 0) >= 3, 10, "a STATUS= with 3 answered", start=start)
    assert pending(line) == 0, line
    n.wait(lambda l: l == "WATCHDOG=1", 10, "WATCHDOG=1 (WATCHDOG_USEC=1s)", start=start)


@process_only
def test_workers_notify_status_watchdog_and_stopping(ns):
    resp = ns.get("/?n=7")
    assert resp.status == 200
    for kind in ("sum", "square"):
        n = ns.notifications[kind]
        start = n.count()
        n.wait(lambda l: re.match(r"STATUS=\w+ worker: [1-9]\d* jobs done", l), 10,
               f"the {kind} worker's STATUS= with jobs done", start=start)
        n.wait(lambda l: l == "WATCHDOG=1", 10, f"the {kind} worker's WATCHDOG=1", start=start)
    n = ns.notifications["sum"]
    start = n.count()
    ns.stop_workers("sum")
    assert ns.workers["sum"].returncode == 0
    assert n.find(lambda l: l == "STOPPING=1", start=start), n.lines[start:]
    ns.start_workers("sum")
    assert ns.get("/?n=8").json() == answer([8])


@process_only
def test_graceful_stop_answers_what_is_pending():
    """SIGTERM with a request waiting for a stopped worker: STOPPING=1, no new connection is
    taken, and the waiting request is answered once the worker goes on; then exit 0."""
    s = notified_suite("request-timeout = 20s\n")
    try:
        n = s.notifications["httpd"]
        s.signal_workers("sum", signal.SIGSTOP)
        (waiting,) = open_requests(s.port, [query([6, 7])], timeout=20)
        n.wait(lambda l: pending(l) == 1, 10, "a STATUS= with the request pending")
        s.httpd.send_signal(signal.SIGTERM)
        n.wait(lambda l: l == "STOPPING=1", 10, "STOPPING=1")
        n.wait(lambda l: l.startswith("STATUS=") and l.endswith(", stopping"), 10, "a STATUS= saying stopping")
        try:
            late = open_requests(s.port, [query([1])], timeout=20)[0]
        except ConnectionRefusedError:
            late = None
        s.signal_workers("sum", signal.SIGCONT)
        assert read_responses(waiting, 1) == [answer([6, 7])]
        waiting.close()
        assert s.httpd.wait(timeout=20) == 0
        if late is not None:  # in the listener's backlog when it closed: reset or closed, unanswered
            try:
                data = late.recv(65536)
            except ConnectionResetError:
                data = b""
            late.close()
            assert data == b"", f"a stopping front end took a new connection: {data[:200]!r}"
        assert "sqdiff-httpd: info: Stopped" in s.logs()
    finally:
        s.signal_workers("sum", signal.SIGCONT)
        s.close()


# --- logs: rate limiting, what a timeout names ----------------------------------------------------

JUNK = r"""
import os, sys, zmq
ctx = zmq.Context()
# A worker's connection (docs/protocol.md): junk where replies go.
s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.PROBE_ROUTER, 1)
s.connect("ipc://" + os.environ["SQDIFF_RUNTIME_DIR"] + "/jobs-sum.sock")
for i in range(int(sys.argv[1])):
    s.send(b"junk %d" % i)
s.close(linger=5000); ctx.term()
"""


@process_only
def test_junk_replies_are_logged_rate_limited():
    """25 junk messages from a peer within a moment: all counted, 10 logged (the burst)."""
    s = notified_suite()
    try:
        subprocess.run(["/usr/bin/python3", "-c", JUNK, "25"], check=True, timeout=30,
                       env=dict(os.environ, SQDIFF_RUNTIME_DIR=s.runtime_dir))
        s.notifications["httpd"].wait(lambda l: status_field(l, "dropped") == 25, 10, "a STATUS= with 25 dropped replies")
        logged = s.logs().count("Dropped a reply from a worker")
        assert logged == 10, f"{logged} log lines for 25 junk messages; the burst is 10 per 10 s"
    finally:
        s.close()


@process_only
@pytest.mark.parametrize("kind", ["sum", "square"])
def test_timeout_log_names_the_stalled_kind(kind):
    s = ProcessSuite(BUILDDIR, extra_config="request-timeout = 300ms\nreaper-interval = 100ms\n")
    try:
        s.signal_workers(kind, signal.SIGSTOP)
        resp = s.get("/?n=3")
        assert resp.status == 504
        s.signal_workers(kind, signal.SIGCONT)
        other = "square" if kind == "sum" else "sum"
        line = next((l for l in s.logs().splitlines() if "timed out after" in l), None)
        assert line and f" {kind} worker" in line and f" {other} worker" not in line, s.logs()[-2000:]
    finally:
        s.signal_workers(kind, signal.SIGCONT)
        s.close()


# --- HEAD ---------------------------------------------------------------------------------------

def test_head_has_the_headers_of_get(suite):
    """RFC 9110 section 9.3.2: HEAD answers the headers GET would, Content-Length included."""
    path = query([3, 4, 5])
    get = suite.get(path)
    head = suite.request(path, method="HEAD")
    assert get.status == head.status == 200
    assert head.body == b""
    head_headers = {k.lower(): v for k, v in head.headers.items()}
    get_headers = {k.lower(): v for k, v in get.headers.items()}
    for name in ("content-length", "content-type"):
        assert head_headers.get(name) == get_headers[name], (name, head.headers, get.headers)
    assert int(get_headers["content-length"]) == len(get.body)


# --- batching and metering toward the workers -----------------------------------------------------

@process_only
def test_more_than_a_batch_of_jobs_for_one_kind(ns):
    """300 requests queued while no sum worker is there leave in more than one message of at
    most WIRE_BATCH_MAX (256) jobs when one comes: every request gets its answer."""
    lists = [[i, 2 * i + 1] for i in range(300)]
    n = ns.notifications["httpd"]
    ns.stop_workers("sum")
    try:
        socks = open_requests(ns.port, [query(x) for x in lists], timeout=30)
        n.wait(lambda l: pending(l) == 300, 15, "a STATUS= with 300 pending")
    finally:
        ns.start_workers("sum")
    try:
        got = [read_responses(sock, 1)[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    bad = [(x, g) for x, g in zip(lists, got) if g != answer(x)]
    assert not bad, f"{len(bad)} of 300 wrong, first: {bad[0]}"


@process_only
def test_batches_stay_within_the_byte_limit():
    """Jobs that queued while no worker was there leave in messages within WIRE_BATCH_BYTES
    (64 KiB), which is what a worker takes when max-numbers makes each job small."""
    s = notified_suite("request-timeout = 20s\n[global]\nmax-numbers = 1000\n")
    bodies = [big_body(1000, 4611686018427387904 + 1000 * i) for i in range(12)]  # ~20 KB jobs
    try:
        s.stop_workers("sum")
        socks = []
        try:
            for _, body in bodies:
                sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                socks.append(sock)
            s.notifications["httpd"].wait(lambda l: pending(l) == len(bodies), 15, "a STATUS= with 12 pending")
        finally:
            s.start_workers("sum")
        for (numbers, _), sock in zip(bodies, socks):
            assert read_responses(sock, 1) == [answer(numbers)]
            sock.close()
    finally:
        s.close()


def test_many_big_jobs_one_after_another(suite):
    """Jobs over WIRE_BATCH_BYTES are metered while in flight and settled by their replies:
    more of them than FANOUT_BIG_INFLIGHT_MAX (16), one after another, are all answered."""
    for i in range(20):
        numbers, body = big_body(4000, 4611686018427387904 + 1000 * i)  # ~80 KB jobs
        resp = suite.request("/", method="POST", body=body, headers={"content-type": "application/json"})
        assert resp.status == 200 and resp.json() == answer(numbers), (i, resp)


# --- HTTP/2 streams that go away while their jobs wait -------------------------------------------

def reset_streams_while_waiting(s, n, count):
    """count HTTP/2 streams opened and reset (CANCEL) while their requests wait, then the
    connection closed."""
    c = h2.H2Conn(s.port, ENABLE_PUSH=0)
    try:
        start = n.count()
        streams = [2 * i + 1 for i in range(count)]
        for sid in streams:
            c.send(h2.headers(sid, h2.request_block("GET", query([sid, 100 + sid]))))
        n.wait(lambda l: pending(l) == count, 15, f"a STATUS= with {count} pending", start=start)
        for sid in streams:
            c.send(h2.frame(h2.RST_STREAM, 0, sid, struct.pack(">I", 0x8)))
        start = n.count()
        n.wait(lambda l: pending(l) == 0, 15, "a STATUS= with none pending after the resets", start=start)
    finally:
        c.close()


@process_only
def test_http2_streams_reset_while_a_worker_stalls(ns):
    """The sum worker stopped, streams reset while their jobs are out: the late replies find
    nothing, and the front end (ASan, in make test) touches no freed request."""
    n = ns.notifications["httpd"]
    dropped = status_field(last_status(n), "dropped")
    ns.signal_workers("sum", signal.SIGSTOP)
    try:
        reset_streams_while_waiting(ns, n, 20)
    finally:
        ns.signal_workers("sum", signal.SIGCONT)
    start = n.count()
    for numbers in ([1, 2, 3], [9]):
        resp = ns.get(query(numbers))
        assert resp.status == 200 and resp.json() == answer(numbers)
    # The stopped worker had asked for a few job messages (its credit): their jobs' late replies
    # find nothing. The other jobs never left the front end's queue; the resets took them out.
    n.wait(lambda l: (status_field(l, "dropped") or 0) > dropped, 15, "the late replies counted as dropped", start=start)
    assert ns.httpd.poll() is None


@process_only
def test_http2_streams_reset_while_no_worker_is_there(ns):
    """No square worker: the streams' square jobs wait in the front end's queue; the resets take
    them out, so the worker that comes finds only live jobs (ASan: no freed job is read)."""
    n = ns.notifications["httpd"]
    ns.stop_workers("square")
    try:
        reset_streams_while_waiting(ns, n, 20)
    finally:
        ns.start_workers("square")
    for numbers in ([4, 5], [-6]):
        resp = ns.get(query(numbers))
        assert resp.status == 200 and resp.json() == answer(numbers)
    assert ns.httpd.poll() is None


def test_http2_bodies_in_sequence_stay_within_budget(attack_suite):
    """The HTTP/2 body budget counts bodies in flight: three POSTs of 0.6 x max-body-size, one
    after another on one connection, are all answered."""
    numbers = [7] * 300000  # "7," each: about 600 kB, under attack_suite's 1M
    body = json.dumps({"numbers": numbers}, separators=(",", ":")).encode()
    assert 500_000 < len(body) < 1_000_000
    c = h2.H2Conn(attack_suite.port, ENABLE_PUSH=0)
    try:
        for sid in (1, 3, 5):
            c.send(h2.headers(sid, h2.request_block("POST", "/"), end_stream=False))
            sent, deadline = 0, time.monotonic() + 30
            while sent < len(body) and not c.gone() and time.monotonic() < deadline:
                n = min(16384, len(body) - sent, c.window(sid))
                if n > 0 and c.send(h2.data(sid, body[sent:sent + n], end_stream=sent + n == len(body)), timeout=5):
                    c.consume_window(sid, n)
                    sent += n
                else:
                    c.poll(0.05)  # the server's WINDOW_UPDATEs
            while sid not in c.responses() or not c.responses()[sid][2]:
                assert not c.gone() and time.monotonic() < deadline, \
                    f"stream {sid}: no answer; GOAWAY {c.goaway}, closed {c.closed}"
                c.poll(0.1)
            headers, got, _ = c.responses()[sid]
            assert headers[":status"] == "200" and json.loads(got) == answer(numbers), (sid, headers, got[:200])
    finally:
        c.close()


# --- replies, connections, the sandbox, the connection cap ---------------------------------------

DUPLICATING_SUM_WORKER = r"""
import json, os, zmq
rundir = os.environ["SQDIFF_RUNTIME_DIR"]
ctx = zmq.Context()
# A sum worker as docs/protocol.md writes one: hello, grant, then replies on the same connection.
s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.PROBE_ROUTER, 1)
s.connect(f"ipc://{rundir}/jobs-sum.sock")
s.setsockopt(zmq.RCVTIMEO, 20000)
while True:
    raw = s.recv()
    if raw == b"":  # the front end's hello
        s.send(b'{"ready": 1}')
        continue
    break
msg = json.loads(raw)
job = (msg if isinstance(msg, list) else [msg])[0]
reply = json.dumps({"id": job["id"], "sum": sum(n * n for n in job["numbers"])}).encode()
s.send(reply)
s.send(reply)
s.close(linger=5000); ctx.term()
print("sent twice")
"""


def last_status(n):
    """The last STATUS= line received (READY=1 comes with one)."""
    with n.cond:
        return [l for l in n.lines if STATUS_RE.match(l)][-1]


@process_only
def test_a_duplicate_reply_is_dropped(ns):
    """A sum worker that replies twice to a job, before the square worker has: the second is
    dropped (counted), and the answer waits for the square half."""
    n = ns.notifications["httpd"]
    dropped = status_field(last_status(n), "dropped")
    ns.signal_workers("square", signal.SIGSTOP)
    ns.stop_workers("sum")
    try:
        (sock,) = open_requests(ns.port, [query([2, 3, 4])], timeout=20)
        out = subprocess.run(["/usr/bin/python3", "-c", DUPLICATING_SUM_WORKER], capture_output=True, text=True,
                             timeout=60, env=dict(os.environ, SQDIFF_RUNTIME_DIR=ns.runtime_dir))
        assert out.stdout.strip() == "sent twice", out
        start = n.count()
        n.wait(lambda l: (status_field(l, "dropped") or 0) > dropped, 10, "the duplicate counted as dropped", start=start)
        ns.signal_workers("square", signal.SIGCONT)
        assert read_responses(sock, 1) == [answer([2, 3, 4])]
        sock.close()
    finally:
        ns.signal_workers("square", signal.SIGCONT)
        ns.start_workers("sum")


@pytest.mark.parametrize("head", [b"GET /?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                  b"GET /?n=2 HTTP/1.0\r\n\r\n"], ids=["connection-close", "http-1.0"])
def test_the_last_answer_ends_the_connection(suite, head):
    """Connection: close, or HTTP/1.0 without keep-alive: the answer is the last thing on the
    connection; a request sent after it is not read."""
    with socket.create_connection(("127.0.0.1", suite.port), timeout=20) as sock:
        sock.sendall(head)
        assert read_responses(sock, 1) == [answer([2])]
        try:
            sock.sendall(b"GET /?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
            rest = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            rest = b""
        assert rest == b"", f"the connection went on after its last answer: {rest[:200]!r}"


def seccomp_of(pid):
    with open(f"/proc/{pid}/status") as f:
        st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return st["Seccomp"].strip(), st.get("Seccomp_filters", "").strip()


@process_only
@pytest.mark.skipif(os.environ.get("SQDIFF_SECCOMP") == "0", reason="the sanitized build runs without seccomp")
def test_seccomp_1_keeps_both_filters():
    """SQDIFF_SECCOMP=1 (anything but 0) leaves the filters on: each daemon has two, the
    set-up one and the runtime one, stacked."""
    saved = os.environ.get("SQDIFF_SECCOMP")
    os.environ["SQDIFF_SECCOMP"] = "1"
    try:
        s = ProcessSuite(BUILDDIR)
    finally:
        if saved is None:
            del os.environ["SQDIFF_SECCOMP"]
        else:
            os.environ["SQDIFF_SECCOMP"] = saved
    try:
        assert s.get("/?n=5").json() == answer([5])
        for what, pid in (("front end", s.frontend_pid()), ("sum", s.worker_pids("sum")[0]),
                          ("square", s.worker_pids("square")[0])):
            mode, filters = seccomp_of(pid)
            assert mode == "2", f"{what}: Seccomp {mode}"
            assert filters in ("", "2"), f"{what}: {filters} seccomp filters, not set-up + runtime"
    finally:
        s.close()


def memory_cgroup(name, limit):
    """A new memory cgroup limited to `limit` bytes: (its directory, the file to write a pid
    to), in the v1 memory hierarchy or the unified one, whichever this machine has; None when
    neither can be made (then the test skips)."""
    for root, files in (("/sys/fs/cgroup/memory", ["memory.limit_in_bytes"]),
                        ("/sys/fs/cgroup", ["memory.max", "memory.high"])):
        if not os.path.exists(os.path.join(root, files[0].split(".")[0] + ".stat" if root.endswith("memory")
                                           else "cgroup.controllers")):
            continue
        d = os.path.join(root, name)
        try:
            os.mkdir(d)
            for f in files:
                with open(os.path.join(d, f), "w") as out:
                    out.write(str(limit))
            return d, os.path.join(d, "cgroup.procs")
        except OSError:
            if os.path.isdir(d):
                os.rmdir(d)
    return None


@process_only
@pytest.mark.parametrize("max_connections,fits", [(0, True), (20000, False)])
def test_max_connections_fit_the_cgroups_memory_limit(tmp_path, max_connections, fits):
    """Under a cgroup memory limit of 256 MiB, with 16384 descriptors and the default
    max-held-bytes (160M): max-connections = 0 becomes (256 - 160 - 48) MiB / 4 KiB = 12288 and
    the log says the sum fits; an explicit 20000 is kept and the log warns that it does not."""
    import resource
    from suite import PASSENV, free_port

    cg = memory_cgroup(f"sqdiff-test-{os.getpid()}-{max_connections}", 256 << 20)
    if cg is None:
        pytest.skip("no memory cgroup can be made here")
    conf = tmp_path / "sqdiff.conf"
    conf.write_text(f"[httpd]\nmode = local\nmax-connections = {max_connections}\n")
    log = tmp_path / "log"
    env = {k: os.environ[k] for k in PASSENV if k in os.environ}

    def enter():
        resource.setrlimit(resource.RLIMIT_NOFILE, (16384, 16384))
        with open(cg[1], "w") as f:
            f.write(str(os.getpid()))

    try:
        with open(log, "w") as out:
            p = subprocess.Popen([os.path.join(BUILDDIR, "src", "sqdiff-httpd"), "--config", str(conf),
                                  "--listen", f"127.0.0.1:{free_port()}", "--runtime-dir", str(tmp_path)],
                                 stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=enter)
        try:
            wait_for(lambda: "Ready" in log.read_text(), 20, "the front end to start")
        finally:
            p.terminate()
            assert p.wait(timeout=20) == 0, log.read_text()[-3000:]
        said = [line for line in log.read_text().splitlines() if "Memory budget:" in line]
        want = ("max-held-bytes 160 MiB + 12288 connections x 4 KiB + 48 MiB = 256 MiB, within the cgroup's limit "
                "of 256 MiB" if fits else
                "max-held-bytes 160 MiB + 20000 connections x 4 KiB + 48 MiB = 286 MiB, OVER the cgroup's limit "
                "of 256 MiB")
        assert len(said) == 1 and want in said[0], said
        assert ("warning:" in said[0]) == (not fits), said
    finally:
        os.rmdir(cg[0])


@process_only
def test_max_connections_0_leaves_descriptor_headroom(tmp_path):
    """max-connections = 0 caps connections at the descriptor limit less 64 (CONFIG_FD_HEADROOM):
    with 256 descriptors, accepting pauses at 192 connections, before descriptors run out."""
    import resource
    from suite import PASSENV, free_port

    conf = tmp_path / "sqdiff.conf"
    conf.write_text("[httpd]\nmode = local\n")
    log = tmp_path / "log"
    port = free_port()
    env = {k: os.environ[k] for k in PASSENV if k in os.environ}
    with open(log, "w") as out:
        p = subprocess.Popen([os.path.join(BUILDDIR, "src", "sqdiff-httpd"), "--config", str(conf),
                              "--listen", f"127.0.0.1:{port}", "--runtime-dir", str(tmp_path)],
                             stdout=out, stderr=subprocess.STDOUT, env=env,
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    socks = []
    try:
        wait_for(lambda: "Ready" in log.read_text(), 20, "the front end to start")
        for _ in range(230):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=20))
        wait_for(lambda: "Stopped accepting" in log.read_text(), 20, "accepting to pause")
        line = next(l for l in log.read_text().splitlines() if "Stopped accepting" in l)
        assert "max-connections reached, 192 open" in line, line
    finally:
        for s in socks:
            s.close()
        p.terminate()
        assert p.wait(timeout=20) == 0, log.read_text()[-3000:]


def six_posts_one_by_one(s):
    """Six POSTs of 700 numbers (19 digits and a comma each), each on its connection, one after
    the other once STATUS= has counted the last as pending or refused: (the sockets, and
    (pending, refused) after each)."""
    n = s.notifications["httpd"]
    socks, seen = [], []
    for i in range(6):
        body = big_body(700, 4611686018427387904 + 1000 * i)[1]
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        socks.append(sock)
        line = n.wait(lambda l: (pending(l) or 0) + (status_field(l, "busy") or 0) == i + 1, 15,
                      f"request {i + 1} pending or refused")
        seen.append((pending(line), status_field(line, "busy")))
    return socks, seen


@process_only
def test_jobs_waiting_for_a_worker_stay_within_max_queued_bytes():
    """max-queued-bytes (64 KiB here) bounds the jobs waiting for a kind, the new one included:
    with no sum worker, four jobs of about 14 kB wait and the fifth and sixth get 503 at once."""
    s = notified_suite("request-timeout = 20s\nreaper-interval = 100ms\nmax-queued-bytes = 64K\n")
    socks = []
    try:
        s.stop_workers("sum")
        socks, seen = six_posts_one_by_one(s)
        assert seen == [(1, 0), (2, 0), (3, 0), (4, 0), (4, 1), (4, 2)], seen
    finally:
        s.start_workers("sum")
    try:
        for i, sock in enumerate(socks[:4]):  # a worker is back: the four are answered
            assert read_responses(sock, 1) == [answer(big_body(700, 4611686018427387904 + 1000 * i)[0])]
    finally:
        for sock in socks:
            sock.close()
    numbers, body = big_body(700)  # the queue is empty again: room for a job
    resp = s.request("/", method="POST", body=body)
    assert resp.status == 200 and resp.json() == answer(numbers), resp
    s.close()


@process_only
def test_requests_held_for_the_workers_stay_within_max_held_bytes():
    """max-held-bytes (128 KiB here) bounds what the held requests cost in all, body and jobs
    included: with no sum worker, the first 14 kB POST waits, and once the budget has no room
    for the next, each new one gets 503 at once, saying why; a worker back, every waiting one is
    answered, and the budget is free again."""
    s = notified_suite("request-timeout = 20s\nreaper-interval = 100ms\nmax-held-bytes = 128K\n")
    socks, refused, held = [], [], 0
    try:
        s.stop_workers("sum")
        socks, seen = six_posts_one_by_one(s)
        held = seen[-1][0]
        assert 1 <= held < 6 and seen == [(min(i + 1, held), max(0, i + 1 - held)) for i in range(6)], seen
        for sock in socks[held:]:
            refused.append(read_responses(sock, 1)[0])
        assert all(r == {"success": False, "error": "the server holds all it may for requests, try again shortly"}
                   for r in refused), refused
    finally:
        s.start_workers("sum")
    try:
        for i, sock in enumerate(socks[:held]):  # a worker is back: the waiting ones are answered
            assert read_responses(sock, 1) == [answer(big_body(700, 4611686018427387904 + 1000 * i)[0])]
    finally:
        for sock in socks:
            sock.close()
    with urllib.request.urlopen(s.metrics_url, timeout=10) as r:  # the budget is free again
        held_now = [line for line in r.read().decode().splitlines() if line.startswith("sqdiff_http_held_bytes ")]
    assert held_now == ["sqdiff_http_held_bytes 0"], held_now
    numbers, body = big_body(700)
    resp = s.request("/", method="POST", body=body)
    assert resp.status == 200 and resp.json() == answer(numbers), resp
    s.close()


def test_http2_empty_frames_are_counted_exactly(attack_suite):
    """SERVER_EMPTY_FRAMES_MAX (100) frames without progress are allowed, the next one ends the
    connection. Here they are the client's SETTINGS and its ACK of ours, N empty DATA frames and
    a PING: with 97 empty frames that makes 100 and the PING is answered; with 98 it is not."""
    def run(empties, then_end):
        c = h2.H2Conn(attack_suite.port, ENABLE_PUSH=0)
        try:
            c.send(h2.headers(1, h2.request_block("POST", "/"), end_stream=False))
            c.send(h2.data(1, b"") * empties + h2.ping())
            deadline = time.monotonic() + 20
            while not c.gone() and not any(f[0] == h2.PING and f[1] & h2.ACK for f in c.frames):
                assert time.monotonic() < deadline, "neither a PING ACK nor GOAWAY"
                c.poll(0.1)
            acked = any(f[0] == h2.PING and f[1] & h2.ACK for f in c.frames)
            if acked and then_end:
                c.send(h2.data(1, b'{"numbers":[1,2]}', end_stream=True))
                while 1 not in c.responses() or not c.responses()[1][2]:
                    assert not c.gone() and time.monotonic() < deadline, (c.goaway, c.closed)
                    c.poll(0.1)
                return acked, c.responses()[1]
            return acked, None
        finally:
            c.close()

    acked, (headers, body, _) = run(97, True)
    assert acked and headers[":status"] == "200" and json.loads(body) == answer([1, 2])
    acked, _ = run(98, False)
    assert not acked, "a PING as the 101st frame without progress was answered"


def test_a_bad_value_is_named_escaped(suite):
    """The 400 names the offending value with quotes, backslashes and bytes outside printable
    ASCII escaped as \\xHH: what a client sent never reaches the error text (or a log) raw."""
    resp = suite.get("/?n=1%22%5C%7F%C3%A9")
    assert resp.status == 400
    assert '"1\\x22\\x5c\\x7f\\xc3\\xa9"' in resp.json()["error"], resp.json()


@process_only
def post_big_jobs_until_timed_out(s, socks, count=300):
    """POSTs count requests of ~40 kB jobs (one per message), each on a connection of its own
    (appended to socks, for the caller to close), and waits for a STATUS= that shows all of
    them timed out."""
    for i in range(count):
        _, body = big_body(2000, 4611686018427387904 + 10000 * i)
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        socks.append(sock)
    s.notifications["httpd"].wait(lambda l: status_field(l, "timed_out") == count, 30,
                                  f"a STATUS= with {count} timed out")


def test_jobs_for_a_stopped_worker_wait_where_a_timeout_cancels_them():
    """ZeroMQ holds at most FANOUT_SNDHWM (64) job messages for a worker; the rest wait in the
    front end's queue, where their requests' timeouts take them back. 300 requests of ~40 kB
    jobs (one per message) while the sum worker is stopped all time out; when it goes on, it
    gets only what ZeroMQ and the socket buffers held: far fewer than 300 late replies."""
    s = notified_suite("request-timeout = 1s\nreaper-interval = 100ms\n")
    n = s.notifications["httpd"]
    socks = []
    try:
        s.signal_workers("sum", signal.SIGSTOP)
        try:
            post_big_jobs_until_timed_out(s, socks)
        finally:
            s.signal_workers("sum", signal.SIGCONT)
        # Replies come back in order: once a new request is answered, every late one has come.
        resp = s.get("/?n=11")
        assert resp.status == 200 and resp.json() == answer([11])
        start = n.count()
        late = status_field(n.wait(lambda l: STATUS_RE.match(l), 10, "a STATUS=", start=start), "dropped")
        assert late < 150, f"{late} late replies: the stopped worker was handed {late} jobs, not at most ~64 + a few"
    finally:
        for sock in socks:
            sock.close()
    s.close()


# A sum worker that grants 64 (sqdiff-worker grants 4) and keeps it up: after each job message it
# answers every job exactly and grants one back. Its first grant carries counters, so the front
# end's metrics show it registered; it prints "up", then, at a line on stdin, how many jobs it got.
GENEROUS_SUM_WORKER = r"""
import json, os, select, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.PROBE_ROUTER, 1)
s.connect(f"ipc://{os.environ['SQDIFF_RUNTIME_DIR']}/jobs-sum.sock")
assert s.poll(10000) and s.recv() == b""
s.send(b'{"ready":64,"done":0,"rejected":0,"unsent":0}')
print("up", flush=True)
got = 0
while not select.select([sys.stdin], [], [], 0)[0]:
    if not s.poll(20):
        continue
    msg = json.loads(s.recv())
    jobs = msg if isinstance(msg, list) else [msg]
    got += len(jobs)
    replies = [{"id": j["id"], "sum": sum(n * n for n in j["numbers"])} for j in jobs]
    s.send(json.dumps(replies if isinstance(msg, list) else replies[0]).encode())
    s.send(b'{"ready":1}')
print(got, flush=True)
s.close(linger=2000); ctx.term()
"""


def sum_workers_reporting(suite):
    """How many sum workers the front end's /metrics shows with counters (registered, granted)."""
    with urllib.request.urlopen(suite.metrics_url, timeout=10) as r:
        return sum(line.startswith('sqdiff_worker_jobs_done_total{kind="sum"') for line in r.read().decode().splitlines())


def test_a_worker_that_grants_more_gets_no_more_than_its_share(suite):
    """Two sum workers with credit, sqdiff-worker (it grants 4) and one that grants 64: 40
    requests that arrive together (40 HTTP/2 streams in one write, so in one pass of the loop)
    are split between them, 20 each. With the most credit first, the second took all 40."""
    if suite.metrics_url is None:
        pytest.skip("no metrics listener known (SQDIFF_METRICS_URL)")
    assert suite.get("/?n=1").status == 200
    generous = suite.start_python(GENEROUS_SUM_WORKER)
    try:
        assert generous.stdout.readline().strip() == "up"
        wait_for(lambda: sum_workers_reporting(suite) == 2, 10, "both sum workers registered with credit")
        lists = [[i, -3 * i, 7] for i in range(40)]
        c = h2.H2Conn(suite.port, ENABLE_PUSH=0)
        try:
            c.send(b"".join(h2.headers(2 * i + 1, h2.request_block("GET", query(x))) for i, x in enumerate(lists)))
            deadline = time.monotonic() + 20
            while sum(1 for r in c.responses().values() if r[2]) < 40:
                assert not c.gone() and time.monotonic() < deadline, f"{len(c.responses())} answers of 40"
                c.poll(0.1)
            for i, x in enumerate(lists):
                headers, body, _ = c.responses()[2 * i + 1]
                assert headers[":status"] == "200" and json.loads(body) == answer(x), (x, headers, body)
        finally:
            c.close()
        out, _ = generous.communicate("stop\n", timeout=30)
        assert out.split()[-1] == "20", f"the worker granting 64 got {out.split()[-1]} of 40 jobs, not its half"
    finally:
        if generous.poll() is None:
            generous.kill()
            generous.wait()


def test_a_stalled_workers_jobs_are_hedged_to_another(suite):
    """Two sum workers: sqdiff-worker, stopped (SIGSTOP: alive and connected, but stalled), and
    one that answers at once. 30 requests one after another: the sum jobs that went to the
    stalled one (while its credit lasted) are sent to the other after the hedge delay, so every
    request is answered exactly, none 504 at the timeout, every hedge won. Once the stalled one
    goes on, its replies are late, counted, and dropped without a word."""
    if suite.metrics_url is None:
        pytest.skip("no metrics listener known (SQDIFF_METRICS_URL)")

    def sample(name):
        with urllib.request.urlopen(suite.metrics_url, timeout=10) as r:
            text = r.read().decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + '{kind="sum"}'))

    assert suite.get("/?n=1").status == 200
    generous = suite.start_python(GENEROUS_SUM_WORKER)
    try:
        assert generous.stdout.readline().strip() == "up"
        wait_for(lambda: sum_workers_reporting(suite) == 2, 10, "both sum workers registered with credit")
        hedged, won, late = (sample("sqdiff_jobs_hedged_total"), sample("sqdiff_hedges_won_total"),
                             sample("sqdiff_replies_late_total"))
        lists = [[i, 11 * i - 5] for i in range(30)]
        with suite.stall_allowed("sum"):
            suite.signal_workers("sum", signal.SIGSTOP)
            try:
                got = [suite.get(query(x), timeout=10) for x in lists]
            finally:
                suite.signal_workers("sum", signal.SIGCONT)
        wrong = [(x, r) for x, r in zip(lists, got) if r.status != 200 or r.json() != answer(x)]
        assert not wrong, f"{len(wrong)} of 30 not answered exactly, first: {wrong[:2]}"
        moved = sample("sqdiff_jobs_hedged_total") - hedged
        assert 1 <= moved <= 16, f"{moved} jobs hedged"  # what the stalled one's credit took; the burst
        assert sample("sqdiff_hedges_won_total") - won == moved  # the stalled one answered none first
        wait_for(lambda: sample("sqdiff_replies_late_total") - late == moved, 10,
                 "the stalled worker's replies, once it went on, counted as late")
        generous.communicate("stop\n", timeout=30)
    finally:
        if generous.poll() is None:
            generous.kill()
            generous.wait()


# A sum "worker" that asks for work and takes none: it reads the front end's hello back (so it
# is registered), says "up", then grants {"ready":64} every 20 ms without ever reading, until a
# line on stdin; then it reads what it was handed and prints how many job messages that was.
GREEDY_PEER = r"""
import os, select, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.PROBE_ROUTER, 1)
s.setsockopt(zmq.RCVHWM, 1)
s.connect(f"ipc://{os.environ['SQDIFF_RUNTIME_DIR']}/jobs-sum.sock")
assert s.poll(10000) and s.recv() == b""
print("up", flush=True)
while not select.select([sys.stdin], [], [], 0.02)[0]:
    s.send(b'{"ready":64}')
got = 0
while s.poll(1000):
    got += s.recv() != b""
print(got, flush=True)
"""


def test_a_worker_that_grants_and_never_reads_is_handed_at_most_zeromqs_queue():
    """A peer that keeps granting credit but never reads (stuck, or hostile) gets no more job
    messages than ZeroMQ's queue for it holds (FANOUT_SNDHWM, 64) plus the socket buffers: then
    ZeroMQ says EAGAIN and the rest wait in the front end's queue, where timeouts take them back.
    300 requests of ~40 kB jobs (one per message) while the real sum worker is stopped."""
    s = notified_suite("request-timeout = 1s\nreaper-interval = 100ms\n")
    socks, greedy = [], None
    try:
        s.signal_workers("sum", signal.SIGSTOP)
        try:
            greedy = s.start_python(GREEDY_PEER)
            assert greedy.stdout.readline().strip() == "up"
            post_big_jobs_until_timed_out(s, socks)
            out, _ = greedy.communicate("stop\n", timeout=60)
        finally:
            s.signal_workers("sum", signal.SIGCONT)
            if greedy and greedy.poll() is None:
                greedy.kill()
                greedy.wait()
        got = int(out.split()[-1])
        # It was handed a full queue (so it was a candidate all along), and not much more.
        assert 50 <= got < 150, f"a worker that never reads was handed {got} job messages of 300"
    finally:
        for sock in socks:
            sock.close()
    s.close()


def unread_bytes(local_port, remote_port):
    """Bytes of a loopback TCP connection held by the kernel, not read yet: the receive queue
    of the socket at local_port plus the send queue of its peer (/proc/net/tcp)."""
    total = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = (int(a.split(":")[1], 16) for a in fields[1:3])
            tx, rx = (int(x, 16) for x in fields[4].split(":"))
            if (local, remote) == (local_port, remote_port):
                total += rx
            elif (local, remote) == (remote_port, local_port):
                total += tx
    return total


@process_only
def test_read_ahead_while_a_request_waits_is_64k():
    """While an HTTP/1.1 request waits for the workers, the front end reads at most
    SERVER_HOLD_INPUT_MAX (64 KiB) more of its connection: what the client sends beyond
    stays in the kernel's buffers (TCP flow control holds the client back)."""
    s = notified_suite("reaper-interval = 100ms\nrequest-timeout = 20s\n")
    n = s.notifications["httpd"]
    try:
        s.signal_workers("sum", signal.SIGSTOP)
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        try:
            first = f"GET {query([2, 5])} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            sock.sendall(first)
            n.wait(lambda l: pending(l) == 1, 10, "the first request pending")
            # Then a body that never ends: as much as the kernel takes at once, up to 1 MB.
            data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b" " * 1000000
            sock.setblocking(False)
            sent = 0
            while sent < len(data):
                try:
                    sent += sock.send(data[sent:sent + 65536])
                except BlockingIOError:
                    break
            sock.setblocking(True)
            assert sent > 3 * 65536, f"the kernel took only {sent} bytes"
            start = n.count()  # a few passes of the front end's loop, each a chance to read
            n.wait(lambda l: n.count() - start >= 4, 10, "four notifications")
            unread = unread_bytes(s.port, sock.getsockname()[1])
            assert unread >= sent - 65536, f"of {sent} bytes sent behind a waiting request, only {unread} are unread"
        finally:
            s.signal_workers("sum", signal.SIGCONT)
        assert read_responses(sock, 1) == [answer([2, 5])]
        sock.close()
    finally:
        s.signal_workers("sum", signal.SIGCONT)
    s.close()


def pipelined_behind_a_waiting_request(s, end):
    """Workers mode, sum worker stopped: one request waits, four more are pipelined behind it,
    then `end(sock)` ends the client's side; the worker goes on. Returns what the client read
    until the front end closed, and how many answers the front end counted meanwhile."""
    n = s.notifications["httpd"]
    with urllib.request.urlopen(s.metrics_url, timeout=10) as r:
        before = sum(float(l.split()[-1]) for l in r.read().decode().splitlines() if l.startswith("sqdiff_http_requests_total"))
    try:
        s.signal_workers("sum", signal.SIGSTOP)
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        try:
            sock.sendall(f"GET {query([3])} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            n.wait(lambda l: pending(l) == 1, 10, "the first request pending")
            sock.sendall(b"".join(f"GET {query([i])} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(4, 8)))
            end(sock)
            start = n.count()  # a few passes of the front end's loop: it reads the end of stream
            n.wait(lambda l: n.count() - start >= 4, 10, "four notifications")
            start = n.count()
        finally:
            s.signal_workers("sum", signal.SIGCONT)
        got = b""
        while sock.fileno() >= 0:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, OSError):
                break
            if not chunk:
                break
            got += chunk
        sock.close()
        n.wait(lambda l: pending(l) == 0, 10, "nothing pending", start=start)
        start = n.count()  # and a few passes more: a queued request that would run has by then
        n.wait(lambda l: n.count() - start >= 5, 10, "five notifications")
    finally:
        s.signal_workers("sum", signal.SIGCONT)
    with urllib.request.urlopen(s.metrics_url, timeout=10) as r:
        after = sum(float(l.split()[-1]) for l in r.read().decode().splitlines() if l.startswith("sqdiff_http_requests_total"))
    return got, after - before


@process_only
def test_a_client_that_half_closes_gets_every_answer():
    """Requests pipelined behind one that waits, then end of stream (shutdown SHUT_WR): a
    client done sending still reads, so all five are answered in order, then the connection
    closes (RFC 9112 9.6; local mode did so already)."""
    s = notified_suite("reaper-interval = 100ms\nrequest-timeout = 20s\n")
    try:
        got, answered = pipelined_behind_a_waiting_request(s, lambda sock: sock.shutdown(socket.SHUT_WR))
        bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in got.split(b"HTTP/1.1 ")[1:]]
        assert bodies == [answer([i]) for i in range(3, 8)], got[:600]
        assert answered == 5
    finally:
        s.close()


@process_only
def test_a_client_that_closes_runs_at_most_one_queued_request():
    """The same, but the client closes its socket without reading: the waiting request is
    answered into the void, and at most one queued request runs before the front end learns
    from the client's reset that it is gone; the rest never run."""
    s = notified_suite("reaper-interval = 100ms\nrequest-timeout = 20s\n")
    try:
        _, answered = pipelined_behind_a_waiting_request(s, lambda sock: sock.close())
        assert 1 <= answered <= 2, f"{answered} requests answered for a client that had closed"
    finally:
        s.close()


@process_only
def test_an_http2_connection_waiting_for_the_workers_is_not_idle():
    """The sweep closes connections that complete nothing for idle-timeout, but not one with a
    request waiting for the workers (server_hold): an HTTP/2 stream held past six times the
    idle-timeout, while the front end's loop goes round, is answered on its connection."""
    s = notified_suite("idle-timeout = 500ms\nreaper-interval = 100ms\nrequest-timeout = 20s\n")
    n = s.notifications["httpd"]
    try:
        s.signal_workers("sum", signal.SIGSTOP)
        c = h2.H2Conn(s.port, ENABLE_PUSH=0)
        try:
            try:
                c.send(h2.headers(1, h2.request_block("GET", query([4, 9]))))
                n.wait(lambda l: pending(l) == 1, 10, "the request pending")
                start = n.count()  # 30 STATUS= lines: 3 s, 6 x idle-timeout, at 10 per second
                n.wait(lambda l: len([x for x in n.lines[start:] if x.startswith("STATUS=")]) >= 30, 30,
                       "30 STATUS= lines")
            finally:
                s.signal_workers("sum", signal.SIGCONT)
            deadline = time.monotonic() + 20
            while 1 not in c.responses() or not c.responses()[1][2]:
                assert not c.gone() and time.monotonic() < deadline, f"GOAWAY {c.goaway}, closed {c.closed}"
                c.poll(0.1)
            headers, body, _ = c.responses()[1]
            assert headers[":status"] == "200" and json.loads(body) == answer([4, 9])
        finally:
            c.close()
    finally:
        s.signal_workers("sum", signal.SIGCONT)
    s.close()


def test_worker_reply_batch_full_then_one_more_job(suite):
    """A message of 256 jobs and a batch of one job, read in one go: the replies go back in two
    messages (256 and 1), never one of 257, which the front end would drop whole. A big job goes
    first: while the worker computes it, ZeroMQ's thread queues the two behind it, so the worker
    reads both in the same pass (stopping it with SIGSTOP instead left that to a race: its
    report timer, overdue when it went on, could read the first alone)."""
    from test_workers import job, run_worker
    full = json.dumps([job(i + 1, [i, 2]) for i in range(256)])
    one = json.dumps([job(1000, [5])])  # a batch: a lone job's reply would leave alone anyway
    replies, alive = run_worker(suite, "sum", ["@BIG:200000", full, one], expect=258)
    assert alive and len(replies) == 258
    sizes = [len(m) if isinstance(m, list) else 1 for m in run_worker.messages]
    assert max(sizes) <= 256 and 256 in sizes, sizes


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_max_body_size_is_refused_while_read(attack_suite, chunked):
    """A body over max-body-size (1M) is refused as it is read, by the HTTP/1.1 reader, which
    closes the connection (Connection: close), not once taken whole."""
    from test_attacks import padded_body, post_raw
    status, hdrs, body = post_raw(attack_suite.port, padded_body(1536 * 1024), chunked)
    assert status == 413 and json.loads(body)["success"] is False, (status, body[:300])
    assert hdrs.get("connection") == "close", hdrs


def test_a_job_with_id_0_is_refused_however_it_is_written(suite):
    """Ids start at 1. The worker's fast scanner refuses id 0 in the canonical form the front end
    writes; the general reader, which takes every other form, refuses it too, also when a second
    "id" follows (an id 0 taken as "no id yet" would let the duplicate through)."""
    from test_workers import job, run_worker
    bad = ['{"numbers": [1], "id": 0}', '{"id": 0, "id": 5, "numbers": [1]}']
    replies, alive = run_worker(suite, "sum", bad + [json.dumps(job(2, [3]))], expect=1)
    assert alive and replies == [{"id": 2, "sum": 9}], replies


def test_http2_unfinished_bodies_over_max_body_size_end_the_connection(attack_suite):
    """Two streams with 600 kB of body each and no end: 1.2 MB in flight on a connection, over
    max-body-size (1M), ends it with GOAWAY; a PING sent after them is never answered."""
    c = h2.H2Conn(attack_suite.port, ENABLE_PUSH=0)
    try:
        deadline = time.monotonic() + 30
        for sid in (1, 3):
            c.send(h2.headers(sid, h2.request_block("POST", "/"), end_stream=False))
            sent = 0
            while sent < 600_000 and not c.gone():
                assert time.monotonic() < deadline, f"stream {sid}: {sent} bytes sent in 30 s"
                n = min(16384, 600_000 - sent, c.window(sid))
                if n > 0 and c.send(h2.data(sid, b" " * n), timeout=5):
                    c.consume_window(sid, n)
                    sent += n
                else:
                    c.poll(0.05)
        c.send(h2.ping())
        while not c.gone() and not any(f[0] == h2.PING and f[1] & h2.ACK for f in c.frames):
            assert time.monotonic() < deadline, "neither GOAWAY nor a PING ACK"
            c.poll(0.1)
        assert c.gone() and not any(f[0] == h2.PING and f[1] & h2.ACK for f in c.frames), \
            "1.2 MB of unfinished bodies on one connection, and it goes on"
    finally:
        c.close()


# 130 "workers" of the sum kind that say hello (PROBE_ROUTER) and never grant: they read the
# front end's hello back on each socket (so each is registered), say "up", and wait for a line.
SILENT_PEERS = r"""
import os, sys, zmq
ctx = zmq.Context()
socks = []
for _ in range(130):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.PROBE_ROUTER, 1)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"ipc://{os.environ['SQDIFF_RUNTIME_DIR']}/jobs-sum.sock")
    socks.append(s)
heard = sum(1 for s in socks if s.poll(1500) and s.recv() == b"")
print("up", heard, flush=True)
sys.stdin.readline()
"""


def test_peers_that_never_grant_cannot_fill_the_table(suite):
    """130 connections that say hello and never ask for work took the 128 slots of the sum
    kind's table, and the real worker found none. A peer silent for 2 s now makes room."""
    suite.stop_workers("sum")
    silent = None
    try:
        silent = suite.start_python(SILENT_PEERS)
        line = silent.stdout.readline().split()
        assert line[0] == "up" and int(line[1]) >= 120, line
        time.sleep(2.5)  # past FANOUT_SILENT_PEER_USEC (2 s) since they registered
        suite.start_workers("sum")
        resp = suite.get("/?n=3&n=4")
        assert resp.status == 200 and resp.json() == answer([3, 4]), resp
    finally:
        if silent is not None:
            silent.communicate("stop\n", timeout=30)
        suite.restart_workers()

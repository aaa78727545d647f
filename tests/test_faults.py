"""Faults and overload: every request gets the right answer or a clear failure, nothing hangs,
nothing is lost, and service comes back."""

import random
import signal
import socket
import threading
import time
import urllib.error

import pytest

from conftest import TARGET, make_suite
from expected import answer, query
from suite import open_requests, read_responses

systemd_only = pytest.mark.skipif(TARGET != "systemd", reason="needs systemd to restart what is killed")


def hammer(s, clients, stop, results, errors):
    """clients threads sending requests with fresh connections until stop is set."""

    def client(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            numbers = [rng.randrange(-(2**63), 2**63) for _ in range(rng.randrange(1, 6))]
            try:
                results.append((numbers, s.get(query(numbers), timeout=15)))
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError) as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    return threads


def check_results(results, errors):
    assert not errors, errors[:5]
    assert results
    failures = 0
    for numbers, resp in results:
        if resp.status == 200:
            assert resp.json() == answer(numbers), (numbers, resp)
        else:
            assert resp.status in (503, 504) and resp.json()["success"] is False, resp
            failures += 1
    return failures


@pytest.fixture(scope="module")
def fs():
    s = make_suite()
    yield s
    s.close()


@systemd_only
def test_kill_storm(fs):
    """50 clients for 20 s while a random worker is SIGKILLed every second."""
    stop, results, errors = threading.Event(), [], []
    threads = hammer(fs, 50, stop, results, errors)
    rng = random.Random(1)
    try:
        for _ in range(20):
            time.sleep(1)
            fs.box.systemctl("kill", "-s", "SIGKILL", f"sqdiff-worker@{rng.choice(['sum', 'square'])}.service")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    failures = check_results(results, errors)
    print(f"kill storm: {len(results)} requests, {failures} answered success=false")
    # After the storm every worker is back and every request succeeds.
    for kind in ("sum", "square"):
        deadline = time.monotonic() + 15
        while fs.box.show(f"sqdiff-worker@{kind}.service", "ActiveState")["ActiveState"] != "active":
            assert time.monotonic() < deadline, f"{kind} worker did not come back"
            time.sleep(0.1)
    for i in range(50):
        resp = fs.get(query([i, 2 * i]))
        assert resp.status == 200 and resp.json() == answer([i, 2 * i])


@systemd_only
def test_front_end_restart_under_load_refuses_no_connection(fs):
    stop, results, errors = threading.Event(), [], []
    threads = hammer(fs, 10, stop, results, errors)
    try:
        for _ in range(3):
            time.sleep(0.7)
            fs.box.systemctl("restart", "sqdiff-httpd.service")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    check_results(results, errors)  # no "connection refused", no reset, no wrong answer


def test_slow_and_idle_clients_do_not_stop_others(fs):
    idle = [socket.create_connection(("127.0.0.1", fs.port), timeout=10) for _ in range(300)]
    trickle = [socket.create_connection(("127.0.0.1", fs.port), timeout=10) for _ in range(300)]
    try:
        for s in trickle:
            s.sendall(b"GET /?n=1 HT")  # an unfinished request line
        for i in range(20):
            resp = fs.get(query([i, 1]))
            assert resp.status == 200 and resp.json() == answer([i, 1])
    finally:
        for s in idle + trickle:
            s.close()


def test_idle_connections_are_closed_after_the_timeout():
    s = make_suite(extra_config="idle-timeout = 1s\n")
    try:
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=15)
        conn.sendall(b"GET /?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_responses(conn, 1) == [answer([2])]
        # Then nothing: the server must close the connection (recv returns b"") well before our 15 s.
        assert conn.recv(100) == b""
        conn.close()
    finally:
        s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmRSS:")))


def test_overload_gets_fast_503_and_memory_stays_bounded():
    s = make_suite(extra_config="max-pending = 100\n")
    try:
        s.get("/?n=1")
        pid = s.frontend_pid()
        with s.stall_allowed("sum"):  # no watchdog kills it, whose jobs would go to the next
            s.signal_workers("sum", signal.SIGSTOP)
            try:
                socks = open_requests(s.port, [f"/?n={i}" for i in range(2000)], timeout=20)
                bodies = [read_responses(c, 1)[0] for c in socks]
                rss = rss_kib(pid)
            finally:
                s.signal_workers("sum", signal.SIGCONT)
        busy = sum(1 for b in bodies if b.get("error", "").startswith("too many"))
        timed_out = sum(1 for b in bodies if b == {"success": False})
        assert busy + timed_out == 2000 and timed_out == 100
        assert rss < 64 * 1024, f"front end RSS {rss} KiB under overload"
        for c in socks:
            c.close()
        for i in range(20):
            resp = s.get(query([i]))
            assert resp.status == 200 and resp.json() == answer([i])
    finally:
        s.close()


def test_a_worker_that_dies_holding_a_big_job_releases_its_share(tmp_path):
    """Big jobs (over WIRE_BATCH_BYTES) are metered per kind while out (32 MiB, 16 jobs). A sum
    worker that dies (SIGKILL) while holding one releases its share of the meter: the job goes
    to the next worker and its request is answered, and later big jobs are served too. A share
    leaked would leave the meter full: every later big job would wait, then 504."""
    import json
    import urllib.request

    if TARGET == "host":
        pytest.skip("needs a suite with a configuration of its own; SQDIFF_TARGET=host tests the installed one")
    s = make_suite(extra_config="request-timeout = 60s\n")
    big = [4611686018427387904 + i for i in range(1_000_000)]  # a 20 MiB body, 21 MB jobs
    body = json.dumps({"numbers": big}).encode()

    def out_bytes():
        with urllib.request.urlopen(s.metrics_url, timeout=10) as r:
            return next(int(float(line.split()[-1])) for line in r.read().decode().splitlines()
                        if line.startswith('sqdiff_big_jobs_out_bytes{kind="sum"}'))

    try:
        assert s.get("/?n=1").status == 200
        got = []
        with s.stall_allowed("sum"):
            s.signal_workers("sum", signal.SIGSTOP)
            t = threading.Thread(target=lambda: got.append(s.request("/", method="POST", body=body, timeout=120)))
            t.start()
            try:
                deadline = time.monotonic() + 60
                while out_bytes() == 0:
                    assert time.monotonic() < deadline, "the big job never went out to the stopped worker"
                    time.sleep(0.1)
                s.signal_workers("sum", signal.SIGKILL)
            finally:
                s.signal_workers("sum", signal.SIGCONT)
            deadline = time.monotonic() + 30
            while out_bytes() != 0 and time.monotonic() < deadline:  # released with the worker, not later
                time.sleep(0.1)
            released = out_bytes() == 0
            s.restart_workers()
            t.join(120)
        assert released, "the big-job meter kept the share of a worker that died"
        assert got and got[0].status == 200 and got[0].json() == answer(big), got
        for _ in range(2):  # later big jobs go out and are answered
            resp = s.request("/", method="POST", body=body, timeout=120)
            assert resp.status == 200 and resp.json() == answer(big), resp
    finally:
        s.close()

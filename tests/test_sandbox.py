"""The sandbox covers every thread of every daemon, for their whole life, and the runtime
directory cannot be turned against the front end. Runs against plain processes (the plain
build: sanitized builds run with SQDIFF_SECCOMP=0, and these tests skip there) and under
systemd."""

import json
import os
import random
import socket
import subprocess

import pytest

from conftest import TARGET, make_suite
from expected import answer
from suite import free_port, wait_for

seccomp_off = os.environ.get("SQDIFF_SECCOMP") == "0"
needs_seccomp = pytest.mark.skipif(seccomp_off, reason="SQDIFF_SECCOMP=0 (sanitized build)")
process_only = pytest.mark.skipif(TARGET != "process", reason="plain processes only")
systemd_only = pytest.mark.skipif(TARGET != "systemd", reason="needs the suite under systemd")
RUNTIME_DIR = "/run/sqdiff"


@pytest.fixture(scope="module")
def sb():
    """A suite of our own: these tests restart its daemons."""
    s = make_suite()
    yield s
    s.close()


def tasks(pid):
    """{tid: status fields} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            out[tid] = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    return out


def daemon_pids(s):
    s.get("/?n=1")  # socket activation starts the front end
    pids = {"front end": s.frontend_pid()}
    for kind in ("sum", "square"):
        pids[f"{kind} worker"] = s.worker_pids(kind)[0]
    return pids


def check_every_task(s):
    """Every thread of the three daemons is filtered; returns their pids."""
    pids = daemon_pids(s)
    for what, pid in pids.items():
        def named():  # a thread just started carries the process's name until it sets its own
            names = sorted(t["Name"] for t in tasks(pid).values())
            return any(n.startswith("ZMQbg/IO") for n in names) and "ZMQbg/Reaper" in names
        wait_for(named, 10, f"{what}'s ZeroMQ threads to be there and named")
        threads = tasks(pid)
        for tid, st in threads.items():
            assert st["Seccomp"].strip() == "2", f"{what} thread {st['Name']} ({tid}): Seccomp {st['Seccomp']}"
            assert st["NoNewPrivs"].strip() == "1", f"{what} thread {st['Name']} ({tid}): NoNewPrivs {st['NoNewPrivs']}"
    return pids


@needs_seccomp
def test_every_thread_is_filtered_after_http2_and_a_million_numbers(sb):
    before = check_every_task(sb)
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}",
                          sb.url + "/?n=1&n=2&n=3"], capture_output=True, text=True, check=True, timeout=30).stdout
    body, version = out.rsplit("\n", 1)
    assert version == "2" and json.loads(body) == answer([1, 2, 3])
    rng = random.Random(1)
    numbers = [rng.randrange(-2**63, 2**63) for _ in range(1_000_000)]
    resp = sb.request("/", method="POST", body=json.dumps({"numbers": numbers}).encode(), timeout=60)
    assert resp.status == 200 and resp.json() == answer(numbers)
    # The same processes (none was killed by SIGSYS and restarted), still all filtered.
    assert check_every_task(sb) == before


def restart(s, order):
    if order == "front end first":
        s.restart_frontend()
        for kind in ("sum", "square"):
            s.stop_workers(kind)
            s.start_workers(kind)
    elif order == "workers first":
        for kind in ("sum", "square"):
            s.stop_workers(kind)
            s.start_workers(kind)
        s.restart_frontend()
    else:  # both down at once, then both up
        for kind in ("sum", "square"):
            s.stop_workers(kind)
        s.restart_frontend()
        for kind in ("sum", "square"):
            s.start_workers(kind)


@needs_seccomp
@pytest.mark.parametrize("order", ["front end first", "workers first", "both"])
def test_every_thread_is_filtered_after_restarts(sb, order):
    old = daemon_pids(sb)
    restart(sb, order)
    # The suite recovers: a request waits (within its timeout) for the workers to reconnect.
    resp = sb.get("/?n=3&n=4", timeout=30)
    assert resp.status == 200 and resp.json() == answer([3, 4]), resp
    new = check_every_task(sb)
    assert all(new[k] != old[k] for k in new), (old, new)


@needs_seccomp
@process_only
def test_tcp_endpoints_work_under_the_filter():
    ports = [free_port() for _ in range(2)]
    # Without CURVE keys on purpose: what a tcp:// endpoint itself needs under the filters
    # (tests/test_scaleout.py runs CURVE under them).
    s = make_suite(extra_config="[global]\nallow-insecure-tcp = yes\n" + "".join(
        f"{key} = tcp://127.0.0.1:{port}\n" for key, port in zip(("jobs-sum-endpoint", "jobs-square-endpoint"), ports)))
    try:
        resp = s.get("/?n=5&n=6", timeout=30)
        assert resp.status == 200 and resp.json() == answer([5, 6])
        check_every_task(s)
    finally:
        s.close()


@process_only
def test_front_end_refuses_an_endpoint_it_does_not_own(tmp_path, builddir):
    # A socket of another user where the front end would bind: it must neither take it over
    # nor delete it. (We are root here: chown makes it someone else's.)
    path = tmp_path / "jobs-sum.sock"
    with socket.socket(socket.AF_UNIX) as squatter:
        squatter.bind(str(path))
        os.chown(path, 65534, 65534)
        p = subprocess.run([os.path.join(builddir, "src", "sqdiff-httpd"), "--config", "/dev/null",
                            "--runtime-dir", str(tmp_path), "--listen", f"127.0.0.1:{free_port()}"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
        assert f'Refusing to bind "ipc://{path}"' in p.stderr, p.stderr
        assert os.stat(path).st_uid == 65534


# Run inside the box as the workers' user: every way to remove or replace the front end's
# socket, each reported as OK or the error it got.
AS_WORKER = r"""
import errno, os, socket, sys
d = sys.argv[1]
target = os.path.join(d, "jobs-sum.sock")
print("uid", os.getuid())
def attempt(what, fn):
    try:
        fn()
        print(what, "OK")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
def replace():
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(os.path.join(d, "evil.sock"))
    os.rename(os.path.join(d, "evil.sock"), target)
attempt("unlink", lambda: os.unlink(target))
attempt("rename-away", lambda: os.rename(target, os.path.join(d, "moved.sock")))
attempt("replace", replace)
attempt("create", lambda: open(os.path.join(d, "new-file"), "x").close())
attempt("connect", lambda: socket.socket(socket.AF_UNIX).connect(target))
"""


@systemd_only
def test_a_worker_cannot_remove_or_replace_the_front_ends_sockets(sb):
    daemon_pids(sb)
    box = sb.box
    sock = RUNTIME_DIR + "/jobs-sum.sock"

    def identity():  # /run is the box's own tmpfs: ask inside
        return box.run(["stat", "-c", "%i %U %a", sock]).stdout.split()

    before = identity()
    # 0660: the workers (group sqdiff) may connect; removing or replacing is the directory's say.
    assert before[1:] == ["sqdiff-httpd", "660"], before
    worker_uid = int(box.run(["id", "-u", "sqdiff-worker"]).stdout)
    r = box.run(["setpriv", "--reuid=sqdiff-worker", "--regid=sqdiff", "--init-groups",
                 "/usr/bin/python3", "-c", AS_WORKER, RUNTIME_DIR])
    got = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert got["uid"] == str(worker_uid) != "0"
    assert got["connect"] == "OK"  # what a worker needs still works
    for what in ("unlink", "rename-away", "replace", "create"):
        assert got[what] == "EACCES", (what, got)
    # Still the front end's, and it still serves.
    assert identity() == before
    resp = sb.get("/?n=7", timeout=30)
    assert resp.status == 200 and resp.json() == answer([7])

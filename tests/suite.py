"""The running sqdiff suite as the black-box tests see it.

A Suite is a front end plus one sum worker and one square worker, reachable at
`url`. Two implementations share this interface:

  ProcessSuite (here)     plain processes: the front end behind
                          systemd-socket-activate, workers started directly,
                          binaries from a meson build directory.
  SystemdSuite            the installed suite under a real systemd booted in a
                          throwaway container, enabled as a user would.

Tests only use the methods below, so every black-box test runs against both.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request


# Passed to the daemons: the sanitizer runtimes' settings, and SQDIFF_SECCOMP=0 for their builds.
PASSENV = ("SQDIFF_SECCOMP", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def proc_rss_kib(pid):
    """VmRSS of a process, in KiB, from /proc (the host's pid)."""
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmRSS:")))


def proc_cpu_seconds(pid):
    """CPU time (user + system) a process has used so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": fields 3 onwards
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_responses(sock, count):
    """Reads `count` HTTP/1.1 responses with Content-Length bodies; returns their bodies."""
    buf, bodies = b"", []
    while len(bodies) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")][0])
        while len(buf) < length:
            buf += sock.recv(65536)
        bodies.append(json.loads(buf[:length]))
        buf = buf[length:]
    return bodies


def open_requests(port, paths, timeout=10):
    """One new connection per path, each with a GET of that path sent; returns the sockets."""
    socks = []
    for path in paths:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    return socks


class Notifications:
    """What a daemon sends to its NOTIFY_SOCKET (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1),
    received on a datagram socket at path, as systemd would, by a thread of its own."""

    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.lines = []  # every line received, in order
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.lines.extend(data.decode(errors="replace").split("\n"))
                self.cond.notify_all()

    def find(self, predicate, start=0):
        """The first line from index start on for which predicate is true, or None."""
        with self.cond:
            return next((l for l in self.lines[start:] if predicate(l)), None)

    def wait(self, predicate, timeout, what, start=0):
        """Waits (at most timeout seconds) for a line, from index start on, for which predicate
        is true; returns it, or raises TimeoutError naming what and the lines received."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                line = next((l for l in self.lines[start:] if predicate(l)), None)
                if line is not None:
                    return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}; got {self.lines[-20:]}")
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.lines)

    def close(self):
        self.closed = True
        self.thread.join(timeout=5)
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


class Suite:
    url = None  # "http://127.0.0.1:PORT"
    port = None
    metrics_url = None  # "http://127.0.0.1:PORT/metrics": the front end's metrics listener
    worker_binary = None  # path of sqdiff-worker where run_python() runs

    def request(self, path, method="GET", body=None, headers=None, timeout=30):
        """One request with a real HTTP client; returns a Response (never raises on HTTP errors)."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read())

    def get(self, path, **kw):
        return self.request(path, **kw)

    # --- control of the daemons -------------------------------------------------------------
    def signal_workers(self, kind, sig):
        """Send signal sig to every worker of kind ("sum" or "square")."""
        raise NotImplementedError

    def worker_pids(self, kind):
        raise NotImplementedError

    def stall_allowed(self, kind):
        """A context in which kind's worker may stay stopped (SIGSTOP) as long as a test wants:
        plain processes have no watchdog to kill it (UnitSuite turns systemd's off)."""
        return contextlib.nullcontext()

    def restart_workers(self):
        """Bring every worker back to a running, connected state (after SIGSTOP/SIGKILL tests)."""
        raise NotImplementedError

    def stop_workers(self, kind):
        """Stop every worker of kind (they stay stopped until start_workers)."""
        raise NotImplementedError

    def start_workers(self, kind):
        raise NotImplementedError

    def restart_frontend(self):
        """Stop the front end and start it again; its listening socket stays open meanwhile."""
        raise NotImplementedError

    def frontend_pid(self):
        """The front end's pid as this machine sees it (the suite must have answered a request)."""
        raise NotImplementedError

    def status(self):
        """The front end's latest STATUS= text, as systemd shows it ("" before the first)."""
        raise NotImplementedError

    def wait_pending(self, n, timeout=10):
        """Waits for a STATUS= line that shows n requests pending for the workers (the front end
        sends one every reaper-interval): the event that says requests were taken in."""
        def shown():
            m = re.search(r"\b(\d+) pending\b", self.status())
            return m is not None and int(m.group(1)) == n
        wait_for(shown, timeout, f"STATUS= with {n} requests pending (last: {self.status()!r})")

    def run_python(self, code, timeout=30):
        """Run a Python snippet where the suite runs (same machine or container), as root.

        The snippet sees the environment variable SQDIFF_RUNTIME_DIR, the directory holding
        the ZeroMQ IPC sockets. Returns its stdout; raises on a non-zero exit."""
        raise NotImplementedError

    def start_python(self, code):
        """Like run_python, but started, not waited for: a subprocess.Popen whose stdin and
        stdout are text pipes, for a snippet the test talks to while it runs."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class ProcessSuite(Suite):
    # With notify=True every daemon gets WATCHDOG_USEC too (as systemd would give it), and the
    # workers a NOTIFY_SOCKET each kept like the front end's: notifications["httpd"], ["sum"],
    # ["square"] hold what they sent (the front end's always: status() reads STATUS= there).
    WATCHDOG_USEC = 1000000

    def __init__(self, builddir, mode="workers", extra_config="", notify=False, tls=None):
        # tls: (certificate file, key file): a third socket, named "https" as
        # sqdiff-httpd-tls.socket names it, at self.tls_port.
        self.notify = notify
        self.tls = tls
        self.notifications = {}
        self.builddir = builddir
        self.worker_binary = os.path.join(builddir, "src", "sqdiff-worker")
        self.tmp = tempfile.mkdtemp(prefix="sqdiff-test-")
        self.runtime_dir = os.path.join(self.tmp, "run")
        os.mkdir(self.runtime_dir)
        self.config = os.path.join(self.tmp, "sqdiff.conf")
        with open(self.config, "w") as f:
            f.write(f"[httpd]\nmode = {mode}\n{extra_config}\n")
            if tls:
                f.write(f"tls-certificate = {tls[0]}\ntls-key = {tls[1]}\n")
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.workers = {}
        self.notifications["httpd"] = Notifications(os.path.join(self.tmp, "notify-httpd"))
        self._start_httpd()
        if mode == "workers":
            for kind in ("sum", "square"):
                self._start_worker(kind)

    def _start_httpd(self):
        # The front end's notifications (READY=1, STATUS=, WATCHDOG=1, STOPPING=1), received
        # as systemd would by a thread of their own: sd_notify() blocks once a datagram
        # socket's short queue is full.
        # systemd-socket-activate passes no environment but what it is told to.
        passenv = [a for v in PASSENV if v in os.environ for a in ("-E", f"{v}={os.environ[v]}")]
        passenv += ["-E", "NOTIFY_SOCKET=" + self.notifications["httpd"].path]
        if self.notify:
            passenv += ["-E", f"WATCHDOG_USEC={self.WATCHDOG_USEC}"]
        seen = self.notifications["httpd"].count()
        https = ["-l", f"127.0.0.1:{self.tls_port}"] if self.tls else []
        self.httpd = subprocess.Popen(
            # Two sockets, named as the socket units name them: HTTP, and metrics (and HTTPS).
            ["systemd-socket-activate", "-l", f"127.0.0.1:{self.port}", "-l", f"127.0.0.1:{self.metrics_port}",
             *https, "--fdname=http:metrics" + (":https" if self.tls else ""), *passenv,
             os.path.join(self.builddir, "src", "sqdiff-httpd"),
             "--config", self.config, "--runtime-dir", self.runtime_dir],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._listening, 10, "the socket to listen")
        if self.notify:
            self.notifications["httpd"].wait(lambda l: l == "READY=1", 20, "the front end's READY=1", start=seen)

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def _start_worker(self, kind):
        """Starts a worker and waits for its READY=1, received as systemd would (NOTIFY_SOCKET)."""
        if self.notify:
            self._start_worker_notified(kind)
            return
        path = os.path.join(self.tmp, f"notify-{kind}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            if os.path.exists(path):
                os.unlink(path)
            notify.bind(path)
            notify.settimeout(10)
            self.workers[kind] = p = subprocess.Popen(
                [os.path.join(self.builddir, "src", "sqdiff-worker"), f"--kind={kind}",
                 "--config", self.config, "--runtime-dir", self.runtime_dir],
                stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, NOTIFY_SOCKET=path))
            while True:
                try:
                    if b"READY=1" in notify.recv(4096).split(b"\n"):
                        return
                except socket.timeout:
                    raise TimeoutError(f"{kind} worker (pid {p.pid}) sent no READY=1:\n{self.logs()}")

    def _start_worker_notified(self, kind):
        """_start_worker with notifications[kind] kept: one socket for every worker of the kind."""
        if kind not in self.notifications:
            self.notifications[kind] = Notifications(os.path.join(self.tmp, f"notify-{kind}"))
        n = self.notifications[kind]
        seen = n.count()
        self.workers[kind] = p = subprocess.Popen(
            [os.path.join(self.builddir, "src", "sqdiff-worker"), f"--kind={kind}",
             "--config", self.config, "--runtime-dir", self.runtime_dir],
            stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, NOTIFY_SOCKET=n.path, WATCHDOG_USEC=str(self.WATCHDOG_USEC)))
        try:
            n.wait(lambda l: l == "READY=1", 20, f"the {kind} worker's READY=1", start=seen)
        except TimeoutError as e:
            raise TimeoutError(f"{kind} worker (pid {p.pid}): {e}\n{self.logs()}")

    def signal_workers(self, kind, sig):
        self.workers[kind].send_signal(sig)

    def worker_pids(self, kind):
        p = self.workers[kind]
        return [p.pid] if p.poll() is None else []

    def restart_workers(self):
        for kind, p in list(self.workers.items()):
            p.send_signal(signal.SIGCONT)
            if p.poll() is not None:
                self._start_worker(kind)

    def frontend_pid(self):
        return self.httpd.pid  # systemd-socket-activate execs the front end in place

    def status(self):
        n = self.notifications["httpd"]
        with n.cond:
            return next((l[len("STATUS="):] for l in reversed(n.lines) if l.startswith("STATUS=")), "")

    def stop_workers(self, kind):
        p = self.workers[kind]
        p.send_signal(signal.SIGCONT)
        p.terminate()
        p.wait(timeout=10)

    def start_workers(self, kind):
        self._start_worker(kind)

    def restart_frontend(self):
        # systemd-socket-activate execs the front end: restarting it means a new listener too,
        # so, as systemd would, keep the socket: hand the same port over at once.
        self.httpd.terminate()
        self.httpd.wait(timeout=10)
        if self.httpd.returncode != 0:
            raise AssertionError(f"front end exited with {self.httpd.returncode}")
        self._start_httpd()

    def run_python(self, code, timeout=30):
        env = dict(os.environ, SQDIFF_RUNTIME_DIR=self.runtime_dir)
        return subprocess.run(["/usr/bin/python3", "-c", code], env=env, check=True,
                              capture_output=True, text=True, timeout=timeout).stdout

    def start_python(self, code):
        env = dict(os.environ, SQDIFF_RUNTIME_DIR=self.runtime_dir)
        return subprocess.Popen(["/usr/bin/python3", "-c", code], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def logs(self):
        self.log.flush()
        with open(os.path.join(self.tmp, "log")) as f:
            return f.read()

    def close(self):
        """Stops everything; raises if a daemon did not stop cleanly (exit 0 on SIGTERM)."""
        procs = list(self.workers.values()) + [self.httpd]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        failed = []
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                failed.append(f"{p.args[0]} did not stop on SIGTERM")
            # A worker a test killed on purpose was replaced; only the live ones count.
            if p.returncode not in (0, -signal.SIGKILL) or (p.returncode != 0 and p is self.httpd):
                failed.append(f"{' '.join(map(str, p.args[:3]))} exited with {p.returncode}")
        logs = self.logs()
        self.log.close()
        for n in self.notifications.values():
            n.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if failed:
            raise AssertionError("; ".join(failed) + "\n--- daemon output:\n" + logs[-5000:])

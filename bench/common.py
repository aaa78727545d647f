# SPDX-License-Identifier: MIT
"""Shared by bench.py, size.py and tls.py: where load and servers run, build sqdiff, start and
stop the servers, read /proc.

Progress goes to stderr; only the result tables go to stdout.
"""

import contextlib
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "bench", "results")
DEFAULT_BUILD_DIR = os.path.join(REPO, "build-bench")   # git-ignored (/build*/)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The load generators get the last CPU and the servers the others (bench/README.md, "CPUs"): a
# server woken by its load on its own CPU answers several times faster than one woken across two,
# and left to the scheduler the same server lands either way from round to round.
CPUS = sorted(os.sched_getaffinity(0))
LOAD_CPU = CPUS[-1]
SERVER_CPUS = CPUS[:-1] or CPUS
ON_LOAD_CPU = ["taskset", "-c", str(LOAD_CPU)]


def log(msg):
    if Progress.showing:
        sys.stderr.write("\r\033[K")   # the progress line gives way; the next update redraws it
        Progress.showing = False
    print(msg, file=sys.stderr, flush=True)


class Progress:
    """A progress line on stderr for a run of `total` steps: what runs now, how far, how long
    is left (from the average step so far). Redrawn in place when stderr is a terminal; with
    force (--progress) and no terminal, one plain line per step. Otherwise silent."""

    showing = False   # a line without its newline is on the terminal

    def __init__(self, total, force=False):
        self.total = total
        self.tty = sys.stderr.isatty()
        self.enabled = self.tty or force
        self.start = time.monotonic()

    def step(self, done, what):
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        left = f", ~{fmt_duration(elapsed / done * (self.total - done))} left" if done else ""
        line = f"[{done}/{self.total} {100 * done // max(self.total, 1):3d}%] {what} · " \
               f"{fmt_duration(elapsed)} elapsed{left}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            sys.stderr.flush()
            Progress.showing = True
        else:
            print(line, file=sys.stderr, flush=True)

    def done(self):
        self.step(self.total, "done")
        if Progress.showing:
            sys.stderr.write("\n")
            Progress.showing = False


def fmt_duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def exit_on_sigterm():
    """SIGTERM/SIGHUP unwind like Ctrl-C does, so every `finally` stops its processes."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# ---------------------------------------------------------------- packages and build

def package_installed(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def ensure_packages(names):
    """Installs the Debian packages that are missing (apt-get, as `make deps` does)."""
    missing = [n for n in names if not package_installed(n)]
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=sys.stderr)


def meson_buildtype(build_dir):
    out = subprocess.run(["meson", "introspect", build_dir, "--buildoptions"],
                         capture_output=True, text=True, check=True).stdout
    return next(o["value"] for o in json.loads(out) if o["name"] == "buildtype")


def build_sqdiff(build_dir):
    """An optimised (buildtype=release) build in build_dir; the build deps come from `make deps`."""
    ensure_packages(["meson", "ninja-build"])
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        log(f"meson setup {build_dir} (release)")
        subprocess.run(["meson", "setup", build_dir, REPO, "--prefix=/usr",
                        "-Dbuildtype=release"], check=True, stdout=sys.stderr)
    elif meson_buildtype(build_dir) != "release":
        subprocess.run(["meson", "configure", build_dir, "-Dbuildtype=release"],
                       check=True, stdout=sys.stderr)
    log(f"ninja -C {build_dir}")
    subprocess.run(["ninja", "-C", build_dir], check=True, stdout=sys.stderr)


def sqdiff_binary(build_dir, name):
    path = os.path.join(build_dir, "src", name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{path} not found: build first (drop --no-build)")
    return path


# ---------------------------------------------------------------- /proc

def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3, state, is index 0)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_table():
    """{pid: (ppid, utime+stime in ticks)} of every process alive now."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = _stat_fields(name)
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            table[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def descendants(roots, table):
    """roots (those alive) and all their descendants."""
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def thread_times(pids):
    """{(pid, tid): (ns on a CPU, voluntary context switches)} of every thread of pids, from
    /proc/PID/task/TID/schedstat (the scheduler's own count, exact where ticks are sampled) and
    status; threads that end while being read are left out."""
    times = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            base = f"/proc/{pid}/task/{tid}/"
            try:
                with open(base + "schedstat") as f:
                    ns = int(f.read().split()[0])
                with open(base + "status") as f:
                    switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches:"))
            except (OSError, StopIteration):
                continue
            times[(pid, int(tid))] = (ns, switches)
    return times


# ---------------------------------------------------------------- idle CPUs

HALT_POLL = "/sys/module/haltpoll/parameters/guest_halt_poll_ns"


def _read_sys(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def idle_policy():
    """What an idle CPU does here: the cpuidle driver and, under cpuidle-haltpoll (a KVM guest), how
    long it polls before it halts to the hypervisor (0: it halts at once; the driver's own default
    is 200000). Waking a halted CPU costs the waker an exit to the hypervisor (README, "Idle CPUs")."""
    ns = _read_sys(HALT_POLL)
    return {"cpuidle": _read_sys("/sys/devices/system/cpu/cpuidle/current_driver"),
            "halt_poll_ns": int(ns) if ns is not None and ns.isdigit() else None}


def fmt_idle(idle):
    """idle_policy() as the results write it."""
    if idle["halt_poll_ns"] is None:
        return f"idle CPUs: cpuidle {idle['cpuidle'] or 'unknown'}"
    how = "halting at once" if idle["halt_poll_ns"] == 0 else f"polling {idle['halt_poll_ns'] / 1000:g} µs, then halting"
    return f"idle CPUs: cpuidle {idle['cpuidle']}, guest_halt_poll_ns {idle['halt_poll_ns']}, {how}"


@contextlib.contextmanager
def halt_poll(ns):
    """guest_halt_poll_ns set to ns while the block runs, then put back (ns None: left alone)."""
    if ns is None:
        yield
        return
    old = _read_sys(HALT_POLL)
    if old is None:
        raise SystemExit(f"--halt-poll-ns: no {HALT_POLL} (needs cpuidle-haltpoll, a KVM guest, and root)")
    log(f"{HALT_POLL}: {old} -> {ns} for this run (put back after it; by hand: echo {old} > {HALT_POLL})")
    with open(HALT_POLL, "w") as f:
        f.write(str(ns))
    try:
        yield
    finally:
        with open(HALT_POLL, "w") as f:
            f.write(old)
        log(f"{HALT_POLL}: {old} again")


def on_server_cpus():
    """From now on this process, and every server it starts, runs on the servers' CPUs. Returns
    where the load and the servers run, as the results record it (meta "cpus")."""
    os.sched_setaffinity(0, SERVER_CPUS)
    return {"load": LOAD_CPU, "servers": SERVER_CPUS}


def fmt_cpus(cpus):
    """A list of CPU numbers as the results write it: "0" or "0, 2"."""
    return ", ".join(map(str, cpus))


def cpu_ticks(roots, table=None):
    """{pid: user+sys ticks} of roots and their descendants, in table (default: read now)."""
    table = process_table() if table is None else table
    return {pid: table[pid][1] for pid in descendants(roots, table)}


def cpu_seconds_between(before, after):
    """User+sys seconds spent between two cpu_ticks() snapshots by the processes of `after`."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / CLK_TCK


def status_kib(pids, key):
    """Sum of a /proc/PID/status memory line (VmRSS, VmHWM) over pids, in KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


# ---------------------------------------------------------------- servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port, method, path, body=None, headers=None, timeout=10):
    """(status, content type, body bytes) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def answer_problem(status, ctype, body, expected):
    """None if the answer is 200, application/json, byte-equal to expected; else why not."""
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    if ctype.split(";")[0].strip().lower() != "application/json":
        return f"content type {ctype!r}"
    if body != expected:
        return f"body {body[:200]!r}, expected {expected[:200]!r}"
    return None


def exit_text(returncode):
    if returncode >= 0:
        return f"exited with {returncode}"
    name = signal.Signals(-returncode).name
    hint = " (a seccomp kill: `dmesg | grep type=1326` names the syscall)" if name == "SIGSYS" else ""
    return f"was killed by {name}{hint}"


class StartError(Exception):
    pass


class Server:
    """One server under test: the processes we started (each in its own session), a port,
    a log file. stop() is idempotent and only signals the processes we started, by PID."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.port = None
        self.procs = []
        self.logfile = open(os.path.join(workdir, "log"), "w")

    def spawn(self, argv, env=None, what=None):
        """Starts argv; what names it in messages (default: the program, argv[0])."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logfile,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        p.what = what or os.path.basename(argv[0])
        self.procs.append(p)
        return p

    def pids(self):
        """Every process of the server now: what we started and their children."""
        return descendants([p.pid for p in self.procs], process_table())

    def dead(self):
        """A description of the first process that exited, or None."""
        for p in self.procs:
            if p.poll() is not None:
                return f"{p.what} (pid {p.pid}) {exit_text(p.returncode)}"
        return None

    def log_tail(self, lines=30):
        self.logfile.flush()
        with open(self.logfile.name, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def check_alive(self, grace=0.0):
        """Raises, with the log, if a process exited (waiting up to grace s for one to)."""
        deadline = time.monotonic() + grace
        why = self.dead()
        while not why and time.monotonic() < deadline:
            time.sleep(0.05)
            why = self.dead()
        if why:
            raise StartError(f"{self.name}: {why}\n{self.log_tail()}")

    def verify(self, path, expected, method="GET", body=None, headers=None):
        """Raises unless the server answers path as expected."""
        problem = answer_problem(*http_request(self.port, method, path, body, headers), expected)
        if problem:
            raise StartError(f"{self.name} answers {method} {path[:80]}: {problem}")

    def wait_until(self, check, timeout=15):
        """Polls check(), which raises unless the server answers right, until it passes."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                check()
                return
            except (OSError, http.client.HTTPException, StartError) as e:
                if time.monotonic() > deadline:
                    raise StartError(f"{self.name} never answered right: {e}\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_answer(self, path, expected, timeout=15):
        """Polls until the server answers path right."""
        self.wait_until(lambda: self.verify(path, expected), timeout)

    def stop(self):
        """SIGTERM (SIGKILL after 10 s) to each process we started, last started first.
        Returns the problems seen (a non-zero exit, a kill)."""
        problems = []
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
            else:
                problems.append(f"{self.name}: {p.what} (pid {p.pid}) "
                                f"had stopped before SIGTERM: {exit_text(p.returncode)}")
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                problems.append(f"{self.name}: {p.what} (pid {p.pid}) "
                                "ignored SIGTERM, killed")
                continue
            if p.returncode != 0 and not any(f"(pid {p.pid})" in x for x in problems):
                problems.append(f"{self.name}: {p.what} (pid {p.pid}) "
                                f"on SIGTERM {exit_text(p.returncode)}")
        self.procs = []
        self.logfile.close()
        return problems


@contextlib.contextmanager
def stopped_on_failure(server):
    """Yields server; if the block fails or is interrupted, stops what it started (logging the
    problems) and re-raises: a start that fails leaves no process behind."""
    try:
        yield server
    except BaseException:
        for problem in server.stop():
            log(problem)
        raise


def wait_ready(notify, proc, what, timeout=15):
    """Waits for READY=1 on the bound AF_UNIX datagram socket `notify`, as systemd would."""
    deadline = time.monotonic() + timeout
    notify.settimeout(0.2)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError(f"{what} exited with {proc.returncode} before READY=1")
        try:
            if b"READY=1" in notify.recv(4096).split(b"\n"):
                return
        except socket.timeout:
            pass
    raise StartError(f"{what} sent no READY=1 within {timeout} s")


def spawn_notified(server, argv, what):
    """Starts argv with its own $NOTIFY_SOCKET and waits for its READY=1."""
    path = os.path.join(server.workdir, f"notify-{len(server.procs)}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        p = server.spawn(argv, env=dict(os.environ, NOTIFY_SOCKET=path), what=what)
        try:
            wait_ready(notify, p, f"{server.name}: {what}")
        except StartError as e:
            raise StartError(f"{e}\n{server.log_tail()}") from None
    os.unlink(path)
    return p


def unit_scheduling():
    """The command that starts a process as the packaged units do (CPUSchedulingPolicy=): read from
    units/, so the bench cannot drift; the bench refuses to run when the two units differ."""
    policies = set()
    for unit in ("sqdiff-httpd.service", "sqdiff-worker@.service"):
        with open(os.path.join(REPO, "units", unit)) as f:
            policies |= {line.split("=", 1)[1].strip() for line in f if line.startswith("CPUSchedulingPolicy=")}
    if not policies:
        return []
    if len(policies) > 1 or not policies <= {"batch", "other", "idle"}:
        raise SystemExit(f"units/: CPUSchedulingPolicy= {sorted(policies)}: the bench knows one of batch, other, idle")
    return ["chrt", f"--{policies.pop()}", "0"]


def start_sqdiff(workdir, name, build_dir, mode, probe_path, expected, options=(), worker_options=(),
                 httpd_options=(), cpus=None):
    """sqdiff in `local` mode (front end only) or `workers` mode (front end + one sum and one
    square worker), each process ready (READY=1), answering probe_path with expected, scheduled
    as the units schedule it (unit_scheduling()) and, with cpus ("0", as CPUAffinity=), on those
    CPUs only. options go to every process, worker_options to the workers after them (the later
    setting wins), httpd_options to the front end after them."""
    prefix = unit_scheduling() + (["taskset", "-c", cpus] if cpus is not None else [])
    with stopped_on_failure(Server(name, workdir)) as server:
        rundir = os.path.join(workdir, "run")
        os.mkdir(rundir)
        common = ["--config", "/dev/null", "--runtime-dir", rundir, *options]
        server.port = free_port()
        spawn_notified(server, [*prefix, sqdiff_binary(build_dir, "sqdiff-httpd"),
                                "--listen", f"127.0.0.1:{server.port}", f"--mode={mode}",
                                *common, *httpd_options], "sqdiff-httpd")
        if mode == "workers":
            for kind in ("sum", "square"):
                spawn_notified(server, [*prefix, sqdiff_binary(build_dir, "sqdiff-worker"),
                                        f"--kind={kind}", *common, *worker_options], f"{kind} worker")
        server.wait_answer(probe_path, expected)
        return server


def start_sqdiff_metrics(workdir, name, build_dir, probe_path, expected):
    """sqdiff in local mode with its Prometheus listener (--metrics-listen) on loopback:
    server.metrics_port."""
    port = free_port()
    server = start_sqdiff(workdir, name, build_dir, "local", probe_path, expected,
                          httpd_options=(f"--metrics-listen=127.0.0.1:{port}",))
    server.metrics_port = port
    return server


def start_sqdiff_curve(workdir, name, build_dir, probe_path, expected):
    """sqdiff in workers mode with the workers reached over tcp:// on loopback with CURVE, as
    workers on other hosts are (docs/scale-out.md): keys made by sqdiff-keygen, the workers'
    public key in the front end's allow-list."""
    keys = os.path.join(workdir, "keys")
    allow = os.path.join(keys, "workers.d")
    os.makedirs(allow)
    for who in ("frontend", "worker"):
        subprocess.run([sqdiff_binary(build_dir, "sqdiff-keygen"), os.path.join(keys, who)], check=True,
                       stdout=subprocess.DEVNULL)
    shutil.copy(os.path.join(keys, "worker.pub"), allow)
    ports = (free_port(), free_port())
    options = (f"--jobs-sum-endpoint=tcp://127.0.0.1:{ports[0]}", f"--jobs-square-endpoint=tcp://127.0.0.1:{ports[1]}",
               f"--curve-secret-key={keys}/frontend.secret", f"--curve-allowed-keys={allow}",
               f"--curve-server-public-key={keys}/frontend.pub")
    return start_sqdiff(workdir, name, build_dir, "workers", probe_path, expected, options=options,
                        worker_options=(f"--curve-secret-key={keys}/worker.secret",))


def nginx_config(workdir, port, body, workers, upstream=None, tls=None):
    """nginx answering / with body, or, with upstream (a port), proxying / to it over keep-alive
    connections (HTTP/1.1, the Connection header cleared), the usual front-end/back-end split.
    tls: (certificate, key): HTTPS and HTTP/2 by ALPN, TLS 1.2 and 1.3, Mozilla's intermediate groups."""
    # the body goes in an nginx single-quoted string: nothing in it may need escaping
    assert not set(body.decode()) & set("'\\$"), body
    if upstream is None:
        upstream_block, location = "", f"""default_type application/json;
            return 200 '{body.decode()}';"""
    else:
        upstream_block = f"""upstream backend {{
        server 127.0.0.1:{upstream};
        keepalive 64;
        keepalive_requests 10000000;
    }}"""
        location = """proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";"""
    listen_tls = "" if tls is None else f""" ssl http2;
        ssl_certificate {tls[0]};
        ssl_certificate_key {tls[1]};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_session_tickets on"""
    return f"""daemon off;
master_process on;
worker_processes {workers};
pid {workdir}/nginx.pid;
lock_file {workdir}/nginx.lock;
error_log {workdir}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    {upstream_block}
    server {{
        listen 127.0.0.1:{port}{listen_tls};
        location = / {{
            {location}
        }}
    }}
}}
"""


def start_nginx(workdir, name, probe_path, expected, workers, upstream=None):
    """Debian's nginx (master + `workers` workers) answering / with the fixed body expected, or
    proxying it to the port upstream."""
    with stopped_on_failure(Server(name, workdir)) as server:
        server.port = free_port()
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(workdir, server.port, expected, workers, upstream))
        server.spawn(["/usr/sbin/nginx", "-p", workdir + "/", "-e", f"{workdir}/error.log",
                      "-c", conf])
        try:
            server.wait_answer(probe_path, expected)
        except StartError as e:
            with open(f"{workdir}/error.log", errors="replace") as f:
                raise StartError(f"{e}\n{f.read()[-2000:]}") from None
        return server


def start_nginx_proxy(workdir, name, build_dir, probe_path, expected, workers):
    """nginx proxying to sqdiff in local mode: one server of both, the processes of both (sqdiff's
    first: it is the back end; stop() ends nginx first)."""
    backend_dir = os.path.join(workdir, "backend")
    os.mkdir(backend_dir)
    backend = start_sqdiff(backend_dir, name, build_dir, "local", probe_path, expected)
    with stopped_on_failure(backend):
        server = start_nginx(workdir, name, probe_path, expected, workers, upstream=backend.port)
    server.procs = backend.procs + server.procs
    backend.logfile.close()  # its processes keep their own descriptor of it
    return server


def start_mongrel2(workdir, name, build_dir, probe_path, expected):
    """Debian's Mongrel2 (one process, its own ZeroMQ I/O thread) with bench/m2-handler, a C
    handler of ours, over ipc: the other way to put ZeroMQ between HTTP and the computation."""
    with stopped_on_failure(Server(name, workdir)) as server:
        server.port = free_port()
        for d in ("run", "logs", "tmp"):
            os.mkdir(os.path.join(workdir, d))
        conf, db = os.path.join(workdir, "m2.conf"), os.path.join(workdir, "config.sqlite")
        with open(conf, "w") as f:
            f.write(f"""sq = Handler(send_spec='ipc://run/send', send_ident='34f9ceee-cd52-4b7f-b197-88bf2f0ec378',
             recv_spec='ipc://run/recv', recv_ident='')
main = Server(uuid="f400bf85-4538-4f7a-8908-67e313d515c2", access_log="/logs/access.log",
              error_log="/logs/error.log", chroot="{workdir}/", default_host="localhost", name="bench",
              pid_file="/run/mongrel2.pid", bind_addr="127.0.0.1", port={server.port},
              hosts=[Host(name="localhost", routes={{'/': sq}})])
settings = {{"zeromq.threads": 1, "server.daemonize": 0}}
servers = [main]
""")
        subprocess.run(["m2sh", "load", "-config", conf, "-db", db], check=True, capture_output=True, timeout=30)
        server.spawn(["/usr/bin/mongrel2", db, "f400bf85-4538-4f7a-8908-67e313d515c2"])
        server.spawn([os.path.join(build_dir, "m2-handler"), f"ipc://{workdir}/run/send",
                      f"ipc://{workdir}/run/recv"], what="m2-handler")
        server.wait_answer(probe_path, expected)
        return server


def start_with_retry(start, *args, attempts=3):
    """start(workdir, *args): a fresh temp workdir each try, since a free port may be taken
    between choosing it and binding it. The server owns the workdir (stop_servers removes it)."""
    for attempt in range(attempts):
        workdir = tempfile.mkdtemp(prefix="sqdiff-bench-")
        try:
            return start(workdir, *args)
        except StartError as e:
            shutil.rmtree(workdir, ignore_errors=True)
            if attempt == attempts - 1:
                raise
            log(f"retrying: {e}")
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise


def stop_servers(servers):
    """Stops every server and removes its temp dir; logs (and returns) any problem."""
    problems = []
    for server in reversed(servers):
        problems += server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
    for problem in problems:
        log(f"warning: {problem}")
    return problems


# ---------------------------------------------------------------- reporting

def command_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    text = (r.stdout + r.stderr).strip().splitlines()
    return text[0] if text else None


def git_revision():
    def git(*args):
        return subprocess.run(["git", "--no-optional-locks", "-C", REPO, *args],
                              capture_output=True, text=True).stdout.strip()
    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "git": git_revision(),
        "loadavg_start": os.getloadavg(),
        "idle": idle_policy(),
    }


def write_results(stem, markdown, data):
    os.makedirs(RESULTS_DIR, exist_ok=True)
    md_path = os.path.join(RESULTS_DIR, stem + ".md")
    json_path = os.path.join(RESULTS_DIR, stem + ".json")
    with open(md_path, "w") as f:
        f.write(markdown)
    with open(json_path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    log(f"wrote {os.path.relpath(md_path, REPO)} and {os.path.relpath(json_path, REPO)}")


def fmt_time_us(us):
    if us is None:
        return "—"
    if us < 1000:
        return f"{us:.0f} µs" if us >= 100 else f"{us:.1f} µs"
    if us < 1_000_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1_000_000:.2f} s"


def fmt_ratio(r):
    return "—" if r is None else f"×{r:.2f}"


def run_main(main):
    """Runs a benchmark's main(): exit 130 on Ctrl-C (servers are stopped by then), 1 on a start
    failure or a wrong answer, else main()'s status."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
    except (StartError, AssertionError) as e:
        log(f"error: {e}")
        sys.exit(1)

"""Scale-out across hosts (docs/scale-out.md): two front ends and workers on two other hosts,
over tcp:// with CURVE, in network namespaces made here (tests/netns.py).

Plain processes run in the namespaces (`ip netns exec`): what these tests check is the wire
between hosts, which a systemd per namespace would not change; the units for network workers
are checked in the systemd box (tests/test_systemd.py: their exposure, credentials, CURVE under
the unit's sandbox). `make test` runs them twice, as the rest of tests/: against the sanitized
build (seccomp off), and, with SQDIFF_TARGET=systemd, against the plain build, whose seccomp
filters then hold with CURVE.

    fe1 198.18.0.1   sqdiff-httpd :8080, jobs on :5601 (sum) and :5602 (square)
    fe2 198.18.0.2   the same, the same key pair (the front ends' identity)
    w1  198.18.0.11  a sum and a square worker, connected to both front ends
    w2  198.18.0.12  the same
    cl  198.18.0.20  clients, HAProxy, rogue peers
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import BUILDDIR
from expected import answer
from mdblocks import read_steps
from netns import Net
from suite import wait_for
from tlsca import TestCA

HERE = os.path.dirname(os.path.abspath(__file__))
FRONTENDS = ("fe1", "fe2")
WORKER_HOSTS = ("w1", "w2")


class Cluster:
    def __init__(self, builddir, tmp):
        self.builddir, self.tmp = builddir, tmp
        self.net = Net({"fe1": 1, "fe2": 2, "w1": 11, "w2": 12, "cl": 20})
        try:
            self._setup()
        except BaseException:
            self.net.close()
            raise

    def bin(self, name):
        return os.path.join(self.builddir, "src", name)

    def keygen(self, name):
        r = subprocess.run([self.bin("sqdiff-keygen"), os.path.join(self.tmp, name)], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return os.path.join(self.tmp, name)

    def _setup(self):
        self.allow = os.path.join(self.tmp, "workers.d")
        os.mkdir(self.allow)
        self.fe_key = self.keygen("frontend")
        for w in WORKER_HOSTS:
            shutil.copy(self.keygen(w) + ".pub", self.allow)
        self.rogue_key = self.keygen("rogue")  # not in the allow-list
        fe_conf = os.path.join(self.tmp, "frontend.conf")
        with open(fe_conf, "w") as f:
            f.write(f"[global]\njobs-sum-endpoint = tcp://*:5601\njobs-square-endpoint = tcp://*:5602\n"
                    f"curve-secret-key = {self.fe_key}.secret\n"
                    f"[httpd]\ncurve-allowed-keys = {self.allow}\n")
        self.fe_conf = fe_conf
        self.fe = {}
        for h in FRONTENDS:
            self.start_frontend(h)
        self.workers = {}
        for h in WORKER_HOSTS:
            conf = os.path.join(self.tmp, f"{h}.conf")
            sums = " ".join(f"tcp://{self.net[fe].address}:5601" for fe in FRONTENDS)
            squares = " ".join(f"tcp://{self.net[fe].address}:5602" for fe in FRONTENDS)
            with open(conf, "w") as f:
                f.write(f"[global]\njobs-sum-endpoint = {sums}\njobs-square-endpoint = {squares}\n"
                        f"curve-secret-key = {self.tmp}/{h}.secret\n"
                        f"curve-server-public-key = {self.fe_key}.pub\n")
            for kind in ("sum", "square"):
                self.start_worker(h, kind, conf)
        for h in WORKER_HOSTS:  # every worker connected to both front ends
            wait_for(lambda h=h: self.connections(h, (5601, 5602)) == 4, 20, f"{h}'s workers to connect")

    def log(self, name):
        return open(os.path.join(self.tmp, name + ".log"), "a")

    def start_frontend(self, h):
        self.fe[h] = self.net[h].popen([self.bin("sqdiff-httpd"), "--config", self.fe_conf, "--listen",
                                        f"{self.net[h].address}:8080", "--metrics-listen", "127.0.0.1:9848"],
                                       stdout=self.log(h))
        wait_for(lambda: self.connections("cl", None, probe=f"{self.net[h].address}:8080"), 20, f"{h} to listen")

    def start_worker(self, h, kind, conf=None):
        conf = conf or os.path.join(self.tmp, f"{h}.conf")
        self.workers[h, kind] = self.net[h].popen([self.bin("sqdiff-worker"), "--kind", kind, "--config", conf],
                                                  stdout=self.log(f"{h}-{kind}"))

    def stop_worker(self, h, kind):
        """Stops it and returns the jobs it did, from its last words."""
        p = self.workers.pop((h, kind))
        os.kill(p.pid, signal.SIGTERM)
        p.wait(10)
        with open(os.path.join(self.tmp, f"{h}-{kind}.log")) as f:
            return int(re.findall(r"worker: (\d+) jobs done", f.read())[-1])

    def jobs_done(self, h):
        """Restarts h's workers, and returns how many jobs they did."""
        done = 0
        for kind in ("sum", "square"):
            done += self.stop_worker(h, kind)
            self.start_worker(h, kind)
        wait_for(lambda: self.connections(h, (5601, 5602)) == 4, 20, f"{h}'s workers to connect again")
        return done

    def connections(self, h, ports, probe=None):
        """Established TCP connections from host h to the given remote ports; or with probe
        (ADDR:PORT), whether a connection to it succeeds from h."""
        if probe:
            addr, port = probe.rsplit(":", 1)
            r = self.net[h].run([sys.executable, "-c", f"import socket; socket.create_connection(('{addr}', {port}), 2)"],
                                timeout=10)
            return r.returncode == 0
        r = self.net[h].run(["ss", "-tnH", "state", "established"], timeout=10)
        return sum(1 for line in r.stdout.splitlines() if int(line.split()[-1].rsplit(":", 1)[1]) in ports)

    def requests(self, reqs, threads=8, host="cl"):
        """Sends [(url, numbers)] from host; returns [(status, body)]."""
        r = self.net[host].run([sys.executable, os.path.join(HERE, "netclient.py")], timeout=300,
                               input=json.dumps({"requests": reqs, "threads": threads}))
        assert r.returncode == 0, r.stderr
        return [tuple(x[:2]) for x in json.loads(r.stdout)]

    def load(self, reqs, threads=8, host="cl"):
        """Starts a load that goes round reqs until stopped: returns a Load."""
        return Load(self, reqs, threads, host)


    def url(self, h):
        return f"http://{self.net[h].address}:8080/"

    def close(self):
        self.net.close()


class Load:
    """A client going round its requests in the background: progress() counts the answers so
    far; stop() ends it and returns [(status, body, numbers)]."""

    def __init__(self, cluster, reqs, threads, host):
        self.until = os.path.join(cluster.tmp, f"load-{time.monotonic_ns()}")
        self.p = cluster.net[host].popen([sys.executable, os.path.join(HERE, "netclient.py")], stdout=subprocess.PIPE,
                                         stdin=json.dumps({"requests": reqs, "threads": threads, "until": self.until}))

    def progress(self):
        try:
            with open(self.until + ".count") as f:
                return int(f.read() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def wait(self, count, what):
        wait_for(lambda: self.progress() >= count, 60, what)

    def stop(self):
        open(self.until, "w").close()
        out, _ = self.p.communicate(timeout=120)
        return [tuple(x) for x in json.loads(out)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the multi-host tests make network namespaces: run them as root (make test does)")
    c = Cluster(BUILDDIR, str(tmp_path_factory.mktemp("scaleout")))
    try:
        yield c
    finally:
        c.close()


def lists(n, seed):
    return [[(seed * 7919 + i * 104729) % 2**40 - 2**39, i, -i * 3, seed] for i in range(n)]


def exact(results, nums):
    return [i for i, ((status, body), n) in enumerate(zip(results, nums)) if status != 200 or json.loads(body) != answer(n)]


def test_two_frontends_uneven_traffic_nothing_misrouted(cluster):
    """3:1 traffic over two front ends, workers on two hosts serving both: every answer exact.
    A reply sent to the wrong front end would leave its request to time out (504)."""
    for h in WORKER_HOSTS:
        cluster.jobs_done(h)  # counts from here
    hedged = sum(fe_counter(cluster, fe, "sqdiff_jobs_hedged_total", ("sum", "square")) for fe in ("fe1", "fe2"))
    a, b = lists(600, 1), lists(200, 2)
    reqs = [(cluster.url("fe1"), n) for n in a] + [(cluster.url("fe2"), n) for n in b]
    nums = a + b
    results = cluster.requests(reqs, threads=16)
    assert exact(results, nums) == []
    done = {h: cluster.jobs_done(h) for h in WORKER_HOSTS}
    hedged = sum(fe_counter(cluster, fe, "sqdiff_jobs_hedged_total", ("sum", "square")) for fe in ("fe1", "fe2")) - hedged
    print(f"normal load: {hedged} of {2 * len(nums)} jobs hedged ({100000 * hedged // (2 * len(nums))} per 100,000)")
    # one sum and one square job each, and a second copy of each job hedged: no more
    assert sum(done.values()) == 2 * len(nums) + hedged, (done, hedged)
    assert hedged <= 2 * (16 + 2 * len(nums) // 20), hedged  # the share: a burst, then one job in 20
    assert all(d > 0 for d in done.values()), f"both worker hosts used: {done}"


def test_metrics_name_the_workers_by_key_and_address(cluster):
    """A front end's /metrics names every worker admitted with CURVE: its kind, the key it was
    admitted with and its address, one sample per connection (each host runs a worker of each
    kind, connected to both front ends)."""
    def info():
        r = cluster.net["fe1"].run([sys.executable, "-c", "import urllib.request; print(urllib.request.urlopen("
                                    "'http://127.0.0.1:9848/metrics', timeout=10).read().decode())"], timeout=30)
        assert r.returncode == 0, r.stderr
        return sorted(re.findall(r'^sqdiff_worker_info\{kind="(\w+)",worker="\d+",key="([^"]+)",address="([^"]+)"\} 1$',
                                 r.stdout, re.M))

    keys = {h: open(os.path.join(cluster.tmp, h + ".pub")).read().strip() for h in WORKER_HOSTS}
    want = sorted((kind, keys[h], cluster.net[h].address) for h in WORKER_HOSTS for kind in ("sum", "square"))
    # Workers restarted by the test before may have connected (TCP) without their hello being
    # read yet: the page is what the front end registered, so wait for it to settle.
    wait_for(lambda: info() == want, 20, f"fe1's /metrics to name the four workers: {want}")


def test_a_stalled_worker_costs_at_most_its_credit(cluster):
    """Credit-based dispatch: w1's sum worker stopped, 200 requests to fe1 lose at most the 4 job
    messages it had asked for; with round robin (PUSH, before) half of them timed out."""
    os.kill(cluster.workers["w1", "sum"].pid, signal.SIGSTOP)
    try:
        nums = lists(200, 10)
        # One request at a time, so that every job message holds one job: credit bounds
        # messages, and with 8 clients a message could carry up to 8 (seen: 5 lost of 200).
        results = cluster.requests([(cluster.url("fe1"), n) for n in nums], threads=1)
    finally:
        os.kill(cluster.workers["w1", "sum"].pid, signal.SIGCONT)
    failed = exact(results, nums)
    assert all(results[i][0] == 504 for i in failed)
    assert len(failed) <= 4, f"{len(failed)} of 200 lost to a stalled worker"


ROGUE = r"""
import json, signal, sys, time, zmq
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))  # stop early, still print the count
endpoint, secret, server, curve = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "curve"
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.PROBE_ROUTER, 1)
if curve:
    sk = open(secret).read().strip().encode()
    s.curve_secretkey = sk
    s.curve_publickey = zmq.curve_public(sk)
    s.curve_serverkey = open(server).read().strip().encode()
s.connect(endpoint)
got, sent = 0, 0
deadline = time.monotonic() + float(sys.argv[5])
while time.monotonic() < deadline and not stop:
    try:  # ask for work, and answer whatever id might be pending with a wrong value
        s.send(b'{"ready":64}', zmq.NOBLOCK)
        s.send(json.dumps([{"id": i, "sum": 1} for i in range(sent, sent + 50)]).encode(), zmq.NOBLOCK)
        sent += 50
    except zmq.Again:
        pass
    if s.poll(50):
        s.recv()
        got += 1
print(got)
"""


def test_peers_without_an_allowed_key_get_nothing(cluster):
    """A worker whose key is not in the allow-list, and a client without CURVE, during traffic:
    each receives nothing (not even the hello), no answer is wrong, and fe1 logs each. One at a
    time, each until its line is in the log: fe1 logs at most 10 such lines in 10 s, and the
    CURVE peer comes back again and again, so with both at once it could use up the budget
    before the plain peer's one line."""
    fe1, cl = cluster.net["fe1"].address, cluster.net["cl"].address
    rogue_pub = open(cluster.rogue_key + ".pub").read().strip()
    lines = {
        "curve": re.compile(re.escape(f'Turned away a peer ("{cl}") with key {rogue_pub}: '
                                      "public key not in the allow-list")),
        # the plain peer fails before ZAP: named by the address its connection came from, or, when
        # ZeroMQ closed that connection before fe1 could ask whose it was, by the endpoint
        "plain": re.compile(rf'Turned away a peer \("({re.escape(cl)}:\d+|unknown address, on tcp://{re.escape(fe1)}:5601)"\): '
                            "handshake failed"),
    }

    def logged(mode):
        with open(os.path.join(cluster.tmp, "fe1.log")) as f:
            return lines[mode].search(f.read()) is not None

    for seed, mode in ((3, "curve"), (4, "plain")):
        rogue = cluster.net["cl"].popen([sys.executable, "-c", ROGUE, f"tcp://{fe1}:5601", cluster.rogue_key + ".secret",
                                         cluster.fe_key + ".pub", mode, "30"], stdout=subprocess.PIPE)
        try:
            nums = lists(150, seed)
            results = cluster.requests([(cluster.url("fe1"), n) for n in nums])
            # 12 s: past a window of the rate limit, whoever used it up
            wait_for(lambda: logged(mode), 12, f"fe1 to log the {mode} peer it turned away")
        finally:
            rogue.send_signal(signal.SIGTERM)
            out = rogue.communicate(timeout=30)[0]
        assert int(out) == 0, f"messages the {mode} peer received"
        assert exact(results, nums) == []


def rogue_with_key_file(cluster, name, requests, seed, arg):
    """The rogue's public key copied into the allow-list as `name`: the rogue (ROGUE, its last
    argument `arg`) connects to fe1 while `requests` requests go there; then the file goes.
    Returns how many messages the rogue received, and the requests' results."""
    fe1 = cluster.net["fe1"].address
    shutil.copy(cluster.rogue_key + ".pub", os.path.join(cluster.allow, name))
    try:
        p = cluster.net["cl"].popen([sys.executable, "-c", ROGUE, f"tcp://{fe1}:5601", cluster.rogue_key + ".secret",
                                     cluster.fe_key + ".pub", "curve", arg], stdout=subprocess.PIPE)
        results = cluster.requests([(cluster.url("fe1"), n) for n in lists(requests, seed)])
        return int(p.communicate(timeout=30)[0]), results
    finally:
        os.unlink(os.path.join(cluster.allow, name))


def test_a_key_added_to_the_allow_list_admits(cluster):
    """Adding a file admits a worker at its next connection: the same rogue now gets jobs."""
    got, _ = rogue_with_key_file(cluster, "rogue.pub", 100, 4, "4")
    assert got > 0  # the hello at least, and jobs (whose forged answers make some answers wrong)


# Connects to ADDR:PORT, sends what argv[3] says (a ZMTP greeting's first 10 bytes, or
# nothing) and reads until the other end closes: prints how long that took, or "open".
SILENT_PEER = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
if sys.argv[3] == "partial-greeting":
    s.sendall(b"\xff" + b"\0" * 8 + b"\x7f")
start = time.monotonic()
s.settimeout(1)
while time.monotonic() < start + 40:
    try:
        if s.recv(4096) == b"":
            print(round(time.monotonic() - start, 1))
            break
    except socket.timeout:
        pass
    except ConnectionResetError:
        print(round(time.monotonic() - start, 1))
        break
else:
    print("open")
"""


@pytest.mark.parametrize("sends", ["nothing", "partial-greeting"])
def test_a_peer_that_never_completes_the_handshake_is_dropped(cluster, sends):
    """A TCP connection to a jobs endpoint that never finishes the ZeroMQ handshake holds a
    descriptor and a session of the front end: it is dropped after TRANSPORT_HANDSHAKE_IVL_MS
    (2 s), not ZeroMQ's default 30 s."""
    fe1 = cluster.net["fe1"].address
    r = cluster.net["cl"].run([sys.executable, "-c", SILENT_PEER, fe1, "5601", sends], timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out != "open" and float(out) < 15, f"a silent peer ({sends}) was still connected after {out} s"


# Prints "start", opens argv[3] TCP connections to ADDR:PORT that send nothing, ten every
# 10 ms (within the listen backlog, so each is accepted at once), prints how many it has, and
# holds them for argv[4] s.
FLOOD = r"""
import socket, sys, time
socks = []
print("start", flush=True)
for i in range(int(sys.argv[3])):
    try:
        socks.append(socket.create_connection((sys.argv[1], int(sys.argv[2])), 2))
    except OSError:
        break
    if i % 10 == 9:
        time.sleep(0.01)
print(len(socks), flush=True)
time.sleep(float(sys.argv[4]))
"""


def test_a_flood_of_connections_to_a_jobs_port_is_capped(cluster):
    """600 TCP connections to a jobs endpoint that never start their handshake: the front end
    holds no more than FANOUT_HANDSHAKES_MAX (256) of them at once, shutting the oldest, so its
    descriptors never run out (libzmq would spin on accept) and its HTTP clients are answered
    meanwhile. Without the cap it held all 600 until their 2 s handshake limit."""
    pid = cluster.fe["fe1"].pid
    fds = lambda: len(os.listdir(f"/proc/{pid}/fd"))  # noqa: E731
    base = fds()
    p = cluster.net["cl"].popen([sys.executable, "-c", FLOOD, cluster.net["fe1"].address, "5601", "600", "3"],
                                stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"start"
        peak, deadline = 0, time.monotonic() + 1.8
        while time.monotonic() < deadline:  # within the 2 s the first of them may live
            peak = max(peak, fds() - base)
            time.sleep(0.02)
        assert int(p.stdout.readline()) == 600
        results = cluster.requests([(cluster.url("fe1"), n) for n in lists(20, 9)])
        assert exact(results, lists(20, 9)) == []
    finally:
        p.wait(30)
    print(f"600 silent connections to a jobs port: at most {peak} descriptors more")
    assert peak <= 256 + 16, f"the front end held {peak} more descriptors during the flood"


# A sum worker with a CURVE key, connected to one front end, answering correctly. It says
# "admitted" at its first handshake, "asked" when the front end asks it for credit, "jobs" at
# its first job, "cut" when its connection is closed, "admitted again", "asked again" and
# "jobs again" after a later handshake; ends when the file UNTIL exists, printing how many jobs
# it received while cut off (between "cut" and "admitted again").
KEYED_WORKER = r"""
import json, os, sys, time, zmq
from zmq.utils.monitor import recv_monitor_message
endpoint, secret, server, until = sys.argv[1:5]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.PROBE_ROUTER, 1)
sk = open(secret).read().strip().encode()
s.curve_secretkey = sk
s.curve_publickey = zmq.curve_public(sk)
s.curve_serverkey = open(server).read().strip().encode()
mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
s.connect(endpoint)
admitted, hellos, jobs, cut, while_cut, retry_at, jobs_again = 0, 0, 0, False, 0, None, False
deadline = time.monotonic() + 120
# As sqdiff-worker: a connection refused ends ZeroMQ's own attempts, so connect again, 100 ms later.
while not os.path.exists(until) and time.monotonic() < deadline:
    while mon.poll(0):
        event = recv_monitor_message(mon)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            admitted += 1
            cut = False
            print("admitted" if admitted == 1 else "admitted again", flush=True)
        elif event == zmq.EVENT_DISCONNECTED:
            s.disconnect(endpoint)
            retry_at = time.monotonic() + 0.1
            if not cut:
                cut = True
                print("cut", flush=True)
    if retry_at is not None and time.monotonic() >= retry_at:
        s.connect(endpoint)
        retry_at = None
    if not s.poll(50):
        continue
    raw = s.recv()
    if raw == b"":
        hellos += 1  # one per connection admitted: counted here, not by the monitor, which may lag
        cut = False
        print("asked" if hellos == 1 else "asked again", flush=True)
        s.send(b'{"ready":4}')
        continue
    msg = json.loads(raw)
    batch = msg if isinstance(msg, list) else [msg]
    while_cut += len(batch) if cut else 0
    if jobs == 0:
        print("jobs", flush=True)
    elif hellos > 1 and not jobs_again:
        jobs_again = True
        print("jobs again", flush=True)
    jobs += len(batch)
    replies = [{"id": j["id"], "sum": sum(n * n for n in j["numbers"])} for j in batch]
    s.send(json.dumps(replies if isinstance(msg, list) else replies[0]).encode())
    s.send(b'{"ready":1}')
print(while_cut, flush=True)
"""


@contextlib.contextmanager
def keyed_worker(cluster, name):
    """A KEYED_WORKER with a new key NAME, in the allow-list, connected to fe1's sum port from
    cl: yields (the list of what it says, as it says it; its public key). On leaving, it is
    stopped (its last word, the jobs it received while cut off, ends the list) and its key
    file removed."""
    key = cluster.keygen(name)
    shutil.copy(key + ".pub", cluster.allow)
    until = os.path.join(cluster.tmp, name + ".until")
    p = cluster.net["cl"].popen([sys.executable, "-c", KEYED_WORKER, f"tcp://{cluster.net['fe1'].address}:5601",
                                 key + ".secret", cluster.fe_key + ".pub", until], stdout=subprocess.PIPE)
    said = []
    reader = threading.Thread(target=lambda: said.extend(line.decode().strip() for line in p.stdout))
    reader.start()
    try:
        yield said, open(key + ".pub").read().strip()
    finally:
        open(until, "w").close()
        p.wait(30)
        reader.join(10)
        if os.path.exists(os.path.join(cluster.allow, name + ".pub")):
            os.unlink(os.path.join(cluster.allow, name + ".pub"))


def test_a_key_removed_from_the_allow_list_turns_a_connected_worker_away(cluster):
    """A worker admitted and serving is cut off once its key file is removed: it gets no job
    from then on, the other workers answer everything, and the front end says whom it turned
    away. Its key put back, it is admitted at its next connection."""
    with keyed_worker(cluster, "late") as (said, late_pub):
        wait_for(lambda: "admitted" in said, 20, "the keyed worker to be admitted")
        for seed in range(20, 40):  # until it has had jobs: dispatch prefers the idle worker
            nums = lists(50, seed)
            assert exact(cluster.requests([(cluster.url("fe1"), n) for n in nums]), nums) == []
            if "jobs" in said:
                break
        assert "jobs" in said, "the keyed worker got no job in 1000 requests"
        os.unlink(os.path.join(cluster.allow, "late.pub"))
        wait_for(lambda: "cut" in said, 10, "the keyed worker's connection to be closed")
        nums = lists(300, 41)
        assert exact(cluster.requests([(cluster.url("fe1"), n) for n in nums]), nums) == []
        shutil.copy(os.path.join(cluster.tmp, "late.pub"), cluster.allow)
        wait_for(lambda: "asked again" in said, 20, "the keyed worker to be admitted again and asked for credit")
        for seed in range(42, 62):  # its key back, it is sent jobs again
            nums = lists(50, seed)
            assert exact(cluster.requests([(cluster.url("fe1"), n) for n in nums]), nums) == []
            if "jobs again" in said:
                break
        assert "jobs again" in said, f"the keyed worker, admitted again, got no job in 1000 requests: {said}"
    assert said[-1] == "0", f"jobs the worker received after it was turned away: {said}"
    with open(os.path.join(cluster.tmp, "fe1.log")) as f:
        log = f.read()
    cl = cluster.net["cl"].address
    assert f"Turned away a connected sum worker (\"{cl}\") with key {late_pub}: its key left the allow-list" in log


def turned_away(cluster, fe):
    """fe's count of peers turned away at its jobs sockets, from its /metrics."""
    r = cluster.net[fe].run([sys.executable, "-c", "import urllib.request; "
                             "print(urllib.request.urlopen('http://127.0.0.1:9848/metrics', timeout=5).read().decode())"],
                            timeout=20)
    assert r.returncode == 0, r.stderr
    return int(re.search(r"^sqdiff_peers_turned_away_total (\d+)$", r.stdout, re.M).group(1))


@pytest.mark.parametrize("name", [".rogue.pub", "rogue.pub~", ".rogue.pub.swp", "rogue.pub.tmp", "rogue"])
def test_a_key_in_a_file_not_named_as_a_key_admits_nobody(cluster, name):
    """Only NAME.pub files are keys: a hidden file, an editor's backup, a file being written, a
    file without .pub hold a key in vain (docs/scale-out.md)."""
    got, results = rogue_with_key_file(cluster, name, 50, 9, "3")
    assert got == 0, f"the rogue, its key in {name!r}, received {got} messages"
    assert exact(results, lists(50, 9)) == []


def test_the_allow_list_gone_turns_every_worker_away(cluster):
    """The allow-list directory removed while workers are connected: every keyed worker is cut
    off (an allow-list that cannot be read admits nobody); put back, they are admitted again."""
    away = cluster.allow + ".away"
    with keyed_worker(cluster, "gone") as (said, gone_pub):
        try:
            wait_for(lambda: "asked" in said, 20, "the keyed worker to be admitted")
            os.rename(cluster.allow, away)
            wait_for(lambda: "cut" in said, 10, "the keyed worker's connection to be closed")
        finally:
            if os.path.exists(away):
                os.rename(away, cluster.allow)
        wait_for(lambda: "asked again" in said, 20, "the keyed worker to be admitted again")
    for h in WORKER_HOSTS:  # the real workers were turned away too, and are back
        wait_for(lambda h=h: cluster.connections(h, (5601, 5602)) == 4, 30, f"{h}'s workers to connect again")
    with open(os.path.join(cluster.tmp, "fe1.log")) as f:
        log = f.read()
    assert f"with key {gone_pub}: its key left the allow-list" in log


def test_a_turned_away_worker_tries_a_few_times_a_minute(cluster):
    """sqdiff-worker with a key not in the allow-list backs off: 100 ms doubling to 5 s between
    handshakes, so in 12 s a front end turns it away about 8 times, not hundreds."""
    fe1 = cluster.net["fe1"].address
    conf = os.path.join(cluster.tmp, "rogue.conf")
    with open(conf, "w") as f:
        f.write(f"[global]\njobs-sum-endpoint = tcp://{fe1}:5601\njobs-square-endpoint = tcp://{fe1}:5602\n"
                f"curve-secret-key = {cluster.rogue_key}.secret\ncurve-server-public-key = {cluster.fe_key}.pub\n")
    before = turned_away(cluster, "fe1")
    p = cluster.net["cl"].popen([cluster.bin("sqdiff-worker"), "--kind", "sum", "--config", conf],
                                stdout=cluster.log("rogue-worker"))
    try:
        wait_for(lambda: turned_away(cluster, "fe1") > before, 20, "the rogue worker to be turned away")
        time.sleep(12)
        tries = turned_away(cluster, "fe1") - before
    finally:
        p.terminate()
        p.wait(10)
    # 0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3, 11.3 s: 8 handshakes; at most 12 s at 5 s apart from here.
    print(f"a worker turned away: {tries} handshakes in 12 s")
    assert 3 <= tries <= 12, f"{tries} handshakes in 12 s"


def test_a_worker_killed_mid_load_loses_no_request(cluster):
    """kill -9 of one of the two sum workers under load from both front ends: the jobs it had are
    queued again for the other at once (ZeroMQ's disconnect event), so no request fails and
    every answer is exact. Started again, it serves again."""
    before = {fe: redispatched(cluster, fe) for fe in FRONTENDS}
    nums = lists(400, 11)
    load = cluster.load([(cluster.url("fe1" if i % 2 else "fe2"), n) for i, n in enumerate(nums)])
    load.wait(400, "the load to be under way")
    victim = cluster.workers.pop(("w1", "sum"))
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    at_kill = load.progress()
    load.wait(at_kill + 800, "the load to go on after the kill")
    results = load.stop()
    bad = [r for r in results if r[0] != 200 or json.loads(r[1]) != answer(r[2])]
    assert bad == [], f"{len(bad)} of {len(results)} requests failed or wrong, first {bad[:3]}"
    moved = {fe: redispatched(cluster, fe) - before[fe] for fe in FRONTENDS}
    print(f"sum worker killed mid-load: {len(results)} requests, all exact; jobs queued again: {moved}")
    cluster.start_worker("w1", "sum")
    wait_for(lambda: cluster.connections("w1", (5601, 5602)) == 4, 30, "w1's sum worker to reconnect")


def fe_counter(cluster, fe, name, kinds=("sum",)):
    """A counter of fe's /metrics, summed over the kinds named."""
    r = cluster.net[fe].run([sys.executable, "-c", "import urllib.request; "
                             "print(urllib.request.urlopen('http://127.0.0.1:9848/metrics', timeout=5).read().decode())"],
                            timeout=20)
    assert r.returncode == 0, r.stderr
    return sum(int(re.search(rf'^{name}\{{kind="{k}"\}} (\d+)$', r.stdout, re.M).group(1)) for k in kinds)


def redispatched(cluster, fe):
    """fe's count of sum jobs queued again after their worker went."""
    return fe_counter(cluster, fe, "sqdiff_jobs_redispatched_total")


def test_a_cut_link_costs_no_request(cluster):
    """w1's link cut mid-load (no FIN, no RST: its heartbeat runs out only after the requests'
    2 s): the jobs w1 held are hedged to w2 after the hedge delay, so every answer is exact and
    none is 504; w2 takes the load, also what w1's credit would still draw; when the link
    returns, w1 serves again (shown by stopping w2: then only w1 can answer)."""
    nums = lists(500, 5)
    load = cluster.load([(cluster.url("fe1" if i % 4 else "fe2"), n) for i, n in enumerate(nums)])
    load.wait(300, "the load to be under way")
    cluster.net["w1"].link(False)
    at_cut = load.progress()
    load.wait(at_cut + 600, "the load to go on after the cut")
    results = load.stop()
    failed = [r for r in results if not (r[0] == 200 and json.loads(r[1]) == answer(r[2]))]
    print(f"link cut mid-load: {len(failed)} of {len(results)} not answered exactly")
    assert failed == [], failed[:5]
    # w1 is cut off: each of its workers may still hold credit granted before the cut; the jobs
    # that draws are hedged to w2 too.
    for fe, seed in (("fe1", 6), ("fe2", 7)):
        nums = lists(100, seed)
        results = cluster.requests([(cluster.url(fe), n) for n in nums])
        assert exact(results, nums) == [], f"{fe}: requests lost to the cut host"
    # The link returns: w1 reconnects (its heartbeat dropped the old connections) and serves.
    cluster.net["w1"].link(True)
    wait_for(lambda: cluster.connections("w1", (5601, 5602)) == 4, 30, "w1 to reconnect to both front ends")
    for kind in ("sum", "square"):
        os.kill(cluster.workers["w2", kind].pid, signal.SIGSTOP)
    try:
        nums = lists(100, 8)
        results = cluster.requests([(cluster.url("fe1"), n) for n in nums], threads=4)
    finally:
        for kind in ("sum", "square"):
            os.kill(cluster.workers["w2", kind].pid, signal.SIGCONT)
    failed = exact(results, nums)
    assert all(results[i][0] == 504 for i in failed)
    assert len(failed) <= 2 * 4, f"{len(failed)} of 100 failed with w2 stopped: w1 does not serve again"


def haproxy_cfg(tmp):
    """docs/scale-out.md's HAProxy configuration, its addresses made the namespaces' ones and its
    certificate (chain, then key, in one file) one of a CA made in tmp."""
    page = os.path.join(os.path.dirname(HERE), "docs", "scale-out.md")
    step = next(s for s in read_steps(page) if s.kind == "file" and s.path == "/etc/haproxy/haproxy.cfg")
    cert, key = TestCA(os.path.join(tmp, "ca")).issue("haproxy", 7)
    pem = os.path.join(tmp, "haproxy.pem")
    with open(pem, "w") as out, open(cert) as c, open(key) as k:
        out.write(c.read() + k.read())
    return step.text.replace("198.51.100.", "198.18.0.").replace("/etc/haproxy/certs/sqdiff.pem", pem)


def test_haproxy_answers_everything_while_a_frontend_restarts(cluster):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    cfg = os.path.join(cluster.tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(haproxy_cfg(cluster.tmp))
    r = subprocess.run([haproxy, "-c", "-f", cfg], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    cluster.net["cl"].popen([haproxy, "-db", "-f", cfg], stdout=cluster.log("haproxy"))
    lb = f"{cluster.net['cl'].address}:80"
    wait_for(lambda: cluster.connections("cl", None, probe=lb), 20, "haproxy to listen")
    load = cluster.load([(f"http://{lb}/", n) for n in lists(300, 9)])
    load.wait(300, "the load to be under way")
    p = cluster.fe["fe1"]
    os.kill(p.pid, signal.SIGTERM)  # answers what is pending, then exits
    p.wait(20)
    load.wait(load.progress() + 300, "the load to go on while fe1 is away")
    cluster.start_frontend("fe1")
    load.wait(load.progress() + 300, "the load to go on after fe1 is back")
    results = load.stop()
    bad = [r for r in results if r[0] != 200 or json.loads(r[1]) != answer(r[2])]
    assert bad == [], bad[:5]
    print(f"haproxy: {len(results)} requests, all answered, while fe1 restarted")

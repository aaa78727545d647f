"""The docs are the tests: every procedure docs/scale-out.md and the README tell an operator to
follow is run here as written, read from the pages themselves (tests/mdblocks.py says how a
page marks its steps), on the installed .deb under a real systemd: a SystemdBox per host, each
in a network namespace of its own (tests/netns.py), so that hosts are hosts. 198.51.100.0/24,
the documentation's range, stands for the namespaces' 198.18.0.0/24.

Runs with SQDIFF_TARGET=systemd and SQDIFF_DEB (make test's last stage).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import TARGET
from expected import answer
from mdblocks import expectations, read_steps, unmarked_blocks
from netns import Net
from sdbox import SystemdBox
from suite import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "tests")
DEB = os.environ.get("SQDIFF_DEB")
SCALE_OUT = os.path.join(ROOT, "docs", "scale-out.md")
README = os.path.join(ROOT, "README.md")

needs_deb = pytest.mark.skipif(TARGET != "systemd" or not DEB,
                               reason="runs the docs on the installed .deb: SQDIFF_TARGET=systemd and SQDIFF_DEB")


def subst(text):
    return text.replace("198.51.100.", "198.18.0.")


class Hosts:
    """A box per host, on a Net of namespaces; the package installed on those that want it."""

    def __init__(self, hosts, with_package, keep=()):
        self.net = Net(hosts)
        self.boxes = {}
        try:
            for name in hosts:
                box = SystemdBox(keep=("sqdiff*",) + tuple(keep), expose=(os.path.dirname(os.path.abspath(DEB)),),
                                 netns=self.net[name].ns, hostname=name)
                self.boxes[name] = box
                if name in with_package:
                    box.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", os.path.abspath(DEB)],
                            env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        except BaseException:
            self.close()
            raise

    def close(self):
        for box in self.boxes.values():
            box.close()
        self.net.close()

    def journal_tail(self):
        return "\n".join(f"--- {n}:\n" + b.run(["journalctl", "--no-pager", "-q", "-n", "25", "-o", "short-monotonic"],
                                               check=False).stdout for n, b in self.boxes.items())


def run_scenario(pages, scenario, hosts, checks):
    """Runs the steps of scenario from pages, in order; returns how many were not run, by why."""
    skipped = []
    for page in pages:
        for step in read_steps(page, os.path.relpath(page, ROOT)):
            if step.scenario != scenario:
                continue
            try:
                if step.kind == "run":
                    for h in step.hosts:
                        r = hosts.boxes[h].run(["sh", "-ec", "cd /root\n" + subst(step.text)], check=False,
                                               timeout=180)
                        assert r.returncode == 0, f"on {h}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
                elif step.kind == "file":
                    for h in step.hosts:
                        hosts.boxes[h].write_file(step.path, subst(step.text))
                elif step.kind == "copy":
                    src = hosts.boxes[step.hosts[0]].path(step.path)
                    for h, d in step.targets:
                        dst = os.path.join(hosts.boxes[h].path(d), os.path.basename(step.path))
                        os.makedirs(os.path.dirname(dst), exist_ok=True)
                        shutil.copy2(src, dst)
                elif step.kind == "expect":
                    for cmd, out in expectations(subst(step.text)):
                        r = hosts.boxes[step.hosts[0]].run(["sh", "-c", cmd], check=False, timeout=60)
                        assert r.stdout.rstrip("\n") == out, f"$ {cmd}\nwanted {out!r}\ngot {r.stdout!r} {r.stderr}"
                elif step.kind == "check":
                    checks[step.name](hosts)
                elif step.kind == "not run":
                    skipped.append(f"{step.where()}: {step.name}")
            except Exception as e:
                e.add_note(f"at the step of {step.where()} ({step.kind}):\n{step.text}")
                e.add_note(hosts.journal_tail())
                raise
    return skipped


def test_every_block_of_the_scale_out_page_is_a_step():
    """No block of docs/scale-out.md is left out: each is run, or says why not."""
    assert unmarked_blocks(SCALE_OUT, read_steps(SCALE_OUT)) == []


# --- checks -------------------------------------------------------------------------------------

def requests(hosts, urls, count, seed):
    """count requests from the client host over urls; asserts every answer exact."""
    nums = [[(seed * 7919 + i * 104729) % 2**40 - 2**39, i, seed] for i in range(count)]
    reqs = [(urls[i % len(urls)], n) for i, n in enumerate(nums)]
    r = hosts.net["client"].run([sys.executable, os.path.join(HERE, "netclient.py")], timeout=300,
                                input=json.dumps({"requests": reqs, "threads": 8}))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    bad = [g for g in got if g[0] != 200 or json.loads(g[1]) != answer(g[2])]
    assert bad == [], bad[:3]


def jobs_done(box):
    """Jobs each worker of a box did, from its STATUS=: {kind: n}."""
    out = {}
    for kind in ("sum", "square"):
        status = box.show(f"sqdiff-worker@{kind}.service", "StatusText")["StatusText"]
        m = re.search(r"(\d+) jobs done", status)
        out[kind] = int(m.group(1)) if m else 0
    return out


FRONT_ENDS = ("fe1", "fe2")
URLS = [f"http://198.18.0.{i}:8080/" for i in (1, 2)]


def established(hosts, host, ports):
    r = hosts.net[host].run(["ss", "-tnH", "state", "established"], timeout=10)
    return sum(1 for line in r.stdout.splitlines() if int(line.split()[-2].rsplit(":", 1)[1]) in ports)


def workers_connected(hosts):
    for fe in FRONT_ENDS:  # two worker hosts, a worker of each kind: four connections each
        wait_for(lambda fe=fe: established(hosts, fe, (5601, 5602)) == 4, 30, f"the workers to connect to {fe}")


def did_jobs(hosts, h, before, what):
    """Waits for h's workers to show, in their STATUS= (renewed every second), jobs since before."""
    wait_for(lambda: all(n > before[k] for k, n in jobs_done(hosts.boxes[h]).items()), 10, what)


def both_worker_hosts_serve(hosts):
    before = {h: jobs_done(hosts.boxes[h]) for h in ("worker-a", "worker-b")}
    requests(hosts, URLS, 400, 1)
    for h, was in before.items():
        did_jobs(hosts, h, was, f"{h} to have done jobs of both kinds")


def worker_b_turned_away(hosts):
    start = time.monotonic()
    key = open(hosts.boxes["worker-b"].path("/etc/sqdiff/keys/worker-b.pub")).read().strip()
    for fe in FRONT_ENDS:
        for kind in ("sum", "square"):
            wait_for(lambda fe=fe, kind=kind: f"Turned away a connected {kind} worker (\"198.18.0.12\") with key {key}"
                     in hosts.boxes[fe].journal(units=("sqdiff-httpd.service",)), 10, f"{fe} to turn worker-b away")
    print(f"worker-b's key removed: turned away by both front ends, both kinds, within "
          f"{time.monotonic() - start:.2f} s of the step")
    time.sleep(1.5)  # a STATUS= of worker-b's from after it was cut
    b, a = jobs_done(hosts.boxes["worker-b"]), jobs_done(hosts.boxes["worker-a"])
    requests(hosts, URLS, 200, 2)
    did_jobs(hosts, "worker-a", a, "worker-a to do the jobs")
    time.sleep(1.5)  # and one of worker-b's from after them
    assert jobs_done(hosts.boxes["worker-b"]) == b, "worker-b got jobs after its key was removed"


def worker_b_back(hosts):
    start = time.monotonic()
    b = jobs_done(hosts.boxes["worker-b"])
    for seed in range(3, 23):  # admitted at its next try, within 5 s: then it takes its share
        requests(hosts, URLS, 100, seed)
        try:
            did_jobs(hosts, "worker-b", b, "worker-b's jobs")
            now = jobs_done(hosts.boxes["worker-b"])
            print(f"worker-b's key back: jobs of both kinds within {time.monotonic() - start:.2f} s of the step "
                  f"({sum(now.values()) - sum(b.values())} jobs in {(seed - 2) * 100} requests)")
            return
        except TimeoutError:
            continue
    raise AssertionError(f"worker-b, its key back, did no job of some kind in 2,000 requests: {b}")


def haproxy_serves_while_a_front_end_restarts(hosts):
    client = hosts.net["client"]
    until = hosts.boxes["client"].path("/root/load.until")
    nums = [[i, -i, 3 * i] for i in range(300)]
    p = client.popen([sys.executable, os.path.join(HERE, "netclient.py")], stdout=subprocess.PIPE,
                     stdin=json.dumps({"requests": [("http://198.18.0.20:80/", n) for n in nums], "threads": 8,
                                       "until": until}))

    def progress():
        try:
            return int(open(until + ".count").read() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    wait_for(lambda: progress() >= 300, 60, "the load through haproxy to be under way")
    hosts.boxes["fe1"].systemctl("restart", "sqdiff-httpd.service")
    at = progress()
    wait_for(lambda: progress() >= at + 300, 60, "the load to go on after fe1's restart")
    open(until, "w").close()
    out, _ = p.communicate(timeout=120)
    results = json.loads(out)
    bad = [r for r in results if r[0] != 200 or json.loads(r[1]) != answer(r[2])]
    assert bad == [], bad[:5]
    print(f"haproxy: {len(results)} requests, all answered exactly, while fe1 restarted")


def haproxy_certificate(hosts):
    """The client host's certificate for HAProxy, from a CA it trusts: chain then key, one file."""
    box = hosts.boxes["client"]
    issue_certificate(box, 7)
    box.run(["sh", "-ec", f"mkdir -p /etc/haproxy/certs && cat {LIVE}/fullchain.pem {LIVE}/privkey.pem > "
                          "/etc/haproxy/certs/sqdiff.pem && chmod 0600 /etc/haproxy/certs/sqdiff.pem"])


def haproxy_serves_https(hosts):
    box = hosts.boxes["client"]
    for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
        r = box.run(["curl", "-s", flag, "-w", "\\n%{http_version}", "https://sqdiff.example.org/?n=1&n=2&n=3"],
                    check=False, timeout=30)
        body, got = r.stdout.rsplit("\n", 1) if "\n" in r.stdout else (r.stdout, "")
        assert json.loads(body or "null") == answer([1, 2, 3]) and got == version, (flag, r.stdout, r.stderr)


def both_front_ends(hosts):
    box = hosts.boxes["solo"]
    for port in (8080, 8081):
        r = box.run(["curl", "-s", f"http://127.0.0.1:{port}/?n=1&n=2&n=3"], check=False, timeout=30)
        assert r.stdout and json.loads(r.stdout) == answer([1, 2, 3]), (port, r.stdout, r.stderr)
    assert box.systemctl("is-active", "sqdiff-httpd.service", "sqdiff-httpd-fe2.service").split() == ["active"] * 2


def suite_on_one_cpu(hosts):
    """The README's "One CPU for the whole suite": every thread of the three daemons (ZeroMQ's
    too) on CPU 0, a batch task as the units say, and the suite still answers (on the port the
    README moved it to)."""
    box = hosts.boxes["solo"]
    r = box.run(["curl", "-s", "http://127.0.0.1:8081/?n=1&n=2&n=3"], check=False, timeout=30)
    assert r.stdout and json.loads(r.stdout) == answer([1, 2, 3]), (r.stdout, r.stderr)
    for unit in ("sqdiff-httpd.service", "sqdiff-worker@sum.service", "sqdiff-worker@square.service"):
        pid = box.host_pid(int(box.show(unit, "MainPID")["MainPID"]))
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        assert len(tids) >= 2, f"{unit}: ZeroMQ's I/O thread missing"
        for tid in tids:
            assert os.sched_getaffinity(tid) == {0}, (unit, tid, os.sched_getaffinity(tid))
            assert os.sched_getscheduler(tid) == os.SCHED_BATCH, (unit, tid)


# The README's HTTPS: a certificate where certbot leaves it, from a CA of the test's own that the
# box trusts, for a name that is the box's loopback.
LIVE = "/etc/letsencrypt/live/sqdiff.example.org"
HTTPS_LOAD = """
import json, socket, ssl, subprocess, sys, threading, time
ctx = ssl.create_default_context()
ctx.set_alpn_protocols(["http/1.1"])
stop, failures, serials, done = threading.Event(), [], set(), [0]
def serial(s):
    der = s.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True).stdout.decode()
    return out.strip().split("=", 1)[1]
def load():
    while not stop.is_set():
        try:
            with ctx.wrap_socket(socket.create_connection(("sqdiff.example.org", 8443), timeout=10),
                                 server_hostname="sqdiff.example.org") as s:
                serials.add(serial(s))
                s.sendall(b"GET /?n=1&n=2&n=3 HTTP/1.1\\r\\nHost: sqdiff.example.org\\r\\nConnection: close\\r\\n\\r\\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                assert data.endswith(b'{"sum":14,"square":36,"diff":22}'), data
                done[0] += 1
        except Exception as e:
            failures.append(repr(e))
threads = [threading.Thread(target=load) for _ in range(2)]
for t in threads:
    t.start()
print("started", flush=True)
sys.stdin.readline()
stop.set()
for t in threads:
    t.join()
print(json.dumps({"failures": failures, "serials": sorted(serials), "done": done[0]}), flush=True)
"""


def issue_certificate(box, serial):
    """As certbot would leave it: the chain world-readable, the key root's alone (0600)."""
    script = f"""
        set -e
        mkdir -p /root/ca {LIVE}
        cd /root/ca
        [ -f ca.key ] || {{
            openssl ecparam -name prime256v1 -genkey -noout -out ca.key
            openssl req -x509 -new -key ca.key -subj '/CN=sqdiff docs test CA' -days 30 -out ca.pem
            cp ca.pem /usr/local/share/ca-certificates/sqdiff-docs-test.crt
            update-ca-certificates >/dev/null
            echo '127.0.0.1 sqdiff.example.org' >> /etc/hosts
        }}
        printf 'subjectAltName=DNS:sqdiff.example.org\nextendedKeyUsage=serverAuth\n' > ext.cnf
        openssl ecparam -name prime256v1 -genkey -noout -out key.pem
        openssl req -new -key key.pem -subj /CN=sqdiff.example.org -out req.csr
        openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -set_serial {serial} -days 30 \
            -extfile ext.cnf -out cert.pem 2>/dev/null
        install -m 0644 cert.pem {LIVE}/fullchain.pem
        install -m 0600 key.pem {LIVE}/privkey.pem
    """
    box.run(["sh", "-ec", script])


def certificate_from_a_ca(hosts):
    issue_certificate(hosts.boxes["solo"], 0x1001)


def renewed_by_certbot(hosts):
    """The load of new connections starts (it runs through the reload), then certbot renews."""
    box = hosts.boxes["solo"]
    hosts.load = box.popen(["python3", "-c", HTTPS_LOAD])
    assert hosts.load.stdout.readline().strip() == "started"
    time.sleep(1)
    issue_certificate(box, 0x2002)


def new_connections_get_the_renewed_certificate(hosts):
    """New connections see the renewed serial, no request failed across the reload, and the key
    is not readable by the front end's user where certbot left it."""
    box = hosts.boxes["solo"]
    time.sleep(2)
    out, _ = hosts.load.communicate("stop\n", timeout=60)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["failures"] == [] and result["done"] > 0, result
    assert result["serials"] == ["1001", "2002"], result
    r = box.run(["setpriv", "--reuid=sqdiff-httpd", "--regid=sqdiff", "--clear-groups", "cat", f"{LIVE}/privkey.pem"],
                check=False)
    assert r.returncode != 0, "the front end's user reads the key outside its credentials"
    assert box.show("sqdiff-httpd.service", "LimitCORE")["LimitCORE"] == "0"


# --- the scenarios --------------------------------------------------------------------------------

@needs_deb
def test_scale_out_as_documented():
    """docs/scale-out.md's "Adding a worker host", its key procedures and HAProxy: two front ends,
    two worker hosts and a client, each step run as written."""
    hosts = Hosts({"fe1": 1, "fe2": 2, "worker-a": 11, "worker-b": 12, "client": 20},
                  with_package=("fe1", "fe2", "worker-a", "worker-b"), keep=("haproxy*",))
    try:
        run_scenario([SCALE_OUT], "scale-out", hosts, {
            "workers-connected": workers_connected,
            "both-worker-hosts-serve": both_worker_hosts_serve,
            "worker-b-turned-away": worker_b_turned_away,
            "worker-b-back": worker_b_back,
            "haproxy-serves-while-a-front-end-restarts": haproxy_serves_while_a_front_end_restarts,
            "haproxy-certificate": haproxy_certificate,
            "haproxy-serves-https": haproxy_serves_https,
        })
    finally:
        hosts.close()


@needs_deb
def test_several_front_ends_on_one_host_as_documented():
    """docs/scale-out.md's third shape: a second front end on the same host, each binding only its
    own endpoints (RUNDIR in configured endpoints), the workers serving both."""
    hosts = Hosts({"solo": 30}, with_package=("solo",))
    try:
        run_scenario([SCALE_OUT], "one-host", hosts, {"both-front-ends": both_front_ends})
    finally:
        hosts.close()


@needs_deb
def test_readme_procedures_as_documented():
    """The README's port move and metrics socket, on a running suite."""
    hosts = Hosts({"solo": 30}, with_package=("solo",))
    try:
        box = hosts.boxes["solo"]
        assert box.run(["curl", "-s", "http://127.0.0.1:8080/?n=2"]).stdout == json.dumps(
            answer([2]), separators=(",", ":")), "the suite serves before the procedures"
        skipped = run_scenario([README], "readme", hosts, {"suite-on-one-cpu": suite_on_one_cpu})
        print("not run:", *skipped, sep="\n  ")
    finally:
        hosts.close()


@needs_deb
def test_readme_https_as_documented():
    """The README's HTTPS: the certificate as credentials, the socket, HTTP/1.1 and HTTP/2 over
    TLS, and a renewal reloaded under load with no request lost."""
    hosts = Hosts({"solo": 31}, with_package=("solo",))
    try:
        skipped = run_scenario([README], "https", hosts, {
            "certificate-from-a-ca": certificate_from_a_ca,
            "renewed-by-certbot": renewed_by_certbot,
            "new-connections-get-the-renewed-certificate": new_connections_get_the_renewed_certificate,
        })
        print("not run:", *skipped, sep="\n  ")
    finally:
        load = getattr(hosts, "load", None)
        if load and load.poll() is None:
            load.kill()
        hosts.close()


# --- the README's first command --------------------------------------------------------------------

needs_systemd = pytest.mark.skipif(TARGET != "systemd", reason="boots a systemd box: SQDIFF_TARGET=systemd")


def sqdiff_box(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "sqdiff-box"), *args], capture_output=True,
                          text=True, timeout=timeout)


@needs_systemd
def test_make_run_then_make_stop():
    """`make run` as the README says (on a free port: PORT=), then `make stop`."""
    from suite import free_port
    port = free_port()
    r = subprocess.run(["make", "-C", ROOT, "run", f"PORT={port}"], capture_output=True, text=True, timeout=600)
    try:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        out = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/?n=1&n=2&n=3"], capture_output=True,
                             text=True, timeout=30).stdout
        assert json.loads(out) == answer([1, 2, 3])
        active = sqdiff_box("exec", "systemctl", "is-active", "sqdiff-httpd.socket", "sqdiff-worker@sum",
                            "sqdiff-worker@square")
        assert active.stdout.split() == ["active"] * 3, active.stdout + active.stderr
    finally:
        stop = subprocess.run(["make", "-C", ROOT, "stop"], capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0 and "removed" in stop.stdout, stop.stdout + stop.stderr
    assert not os.path.exists("/run/sqdiff-box.json")


@needs_systemd
def test_sqdiff_box_says_when_the_port_is_taken():
    """A port in use is named, with the way out, before anything boots: no traceback."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = sqdiff_box("up", "--port", str(port), timeout=60)
    assert r.returncode != 0 and f"port {port} is taken" in r.stderr and "PORT=" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@needs_deb
def test_sqdiff_box_tries_the_deb():
    """tools/sqdiff-box up --deb: the package installed with apt in the box, as users get it."""
    from suite import free_port
    port = free_port()
    r = sqdiff_box("up", "--deb", DEB, "--port", str(port))
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert '{"sum":14,"square":36,"diff":22}' in r.stdout
        status = sqdiff_box("exec", "dpkg-query", "-W", "-f", "${Status}", "sqdiff").stdout
        assert status == "install ok installed", status
    finally:
        down = sqdiff_box("down")
    assert down.returncode == 0, down.stderr

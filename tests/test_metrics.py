"""Prometheus metrics on the front end's metrics listener: exact counters, a format promtool
accepts, and a real Prometheus server that scrapes them."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import TARGET, make_suite
from expected import answer, query
from suite import free_port, open_requests, read_responses, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


@pytest.fixture(autouse=True)
def _metrics_served(suite):
    """A live installation (SQDIFF_TARGET=host) serves metrics only where enabled: say where."""
    if suite.metrics_url is None:
        pytest.skip("no metrics listener known (SQDIFF_METRICS_URL)")


def scrape(suite):
    with urllib.request.urlopen(suite.metrics_url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def samples(text):
    """{(name, labels-string): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def requests_by_code(text):
    got = {}
    for (name, labels), value in samples(text).items():
        if name == "sqdiff_http_requests_total":
            code = re.search(r'code="(\d+)"', labels).group(1)
            proto = re.search(r'protocol="([^"]+)"', labels).group(1)
            got[(code, proto)] = value
    return got


def http2_get(port, path):
    """One request over HTTP/2 with prior knowledge, by curl (a real HTTP/2 client)."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                          "--http2-prior-knowledge", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()


def test_counters_match_the_requests_sent_by_code_and_protocol(suite):
    before = requests_by_code(scrape(suite))
    sent = {("200", "http/1.1"): 3, ("400", "http/1.1"): 2, ("404", "http/1.1"): 1, ("405", "http/1.1"): 1,
            ("200", "http/2"): 2, ("400", "http/2"): 1}
    for n in range(3):
        assert suite.get(f"/?n={n}").status == 200
    assert suite.get("/?n=x").status == 400
    assert suite.request("/", method="POST", body=b"{").status == 400
    assert suite.get("/nothing").status == 404
    assert suite.request("/", method="PUT", body=b"").status == 405
    assert http2_get(suite.port, "/?n=1") == ["200", "2"]
    assert http2_get(suite.port, "/?n=2&n=3") == ["200", "2"]
    assert http2_get(suite.port, "/?n=") == ["400", "2"]
    after = requests_by_code(scrape(suite))
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    assert {k: v for k, v in delta.items() if v} == sent


def test_the_histogram_and_gauges_are_consistent(suite):
    suite.get("/?n=1")
    s = samples(scrape(suite))
    buckets = sorted(((float(re.search(r'le="([^"]+)"', labels).group(1)), v) for (name, labels), v in s.items()
                      if name == "sqdiff_http_request_duration_seconds_bucket"))
    assert buckets[0][0] == pytest.approx(50e-6) and buckets[-1][0] == float("inf")
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets are cumulative"
    assert buckets[-1][1] == s[("sqdiff_http_request_duration_seconds_count", "")]
    assert s[("sqdiff_http_request_duration_seconds_count", "")] >= 1
    assert [v for (name, _), v in s.items() if name == "sqdiff_build_info"] == [1]
    assert s[("process_resident_memory_bytes", "")] > 1 << 20
    assert 3 < s[("process_open_fds", "")] < s[("process_max_fds", "")]
    assert s[("process_start_time_seconds", "")] == pytest.approx(time.time(), abs=24 * 3600)
    assert s[("sqdiff_requests_pending", "")] == 0


def test_promtool_accepts_the_exposition(suite):
    suite.get("/?n=1")
    result = subprocess.run(["promtool", "check", "metrics"], input=scrape(suite), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_metrics_listener_serves_only_metrics_and_the_public_port_none(suite):
    base = suite.metrics_url.rsplit("/", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/", timeout=10)
    assert e.value.code == 404
    resp = suite.get("/metrics")
    assert resp.status == 404 and "sqdiff_" not in resp.body.decode()


class Prometheus:
    """A real Prometheus server scraping the front end every second: on this machine, or, for
    the systemd target, inside the box as a transient unit (the box shares the network)."""

    def __init__(self, suite):
        self.suite = suite
        self.port = free_port()
        target = urllib.parse.urlparse(suite.metrics_url).netloc
        config = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                  f"scrape_configs:\n  - job_name: sqdiff\n    static_configs:\n      - targets: ['{target}']\n")
        args = ["--web.listen-address=127.0.0.1:%d" % self.port, "--storage.tsdb.retention.time=1h"]
        if TARGET == "systemd":
            box = suite.box
            box.write_file("/etc/sqdiff-test-prometheus.yml", config)
            box.run(["systemd-run", "-G", "--unit=sqdiff-test-prometheus", "--property=StateDirectory=sqdiff-test-prometheus",
                     "/usr/bin/prometheus", "--config.file=/etc/sqdiff-test-prometheus.yml",
                     "--storage.tsdb.path=/var/lib/sqdiff-test-prometheus", *args])
            self.proc = None
        else:
            self.dir = tempfile.mkdtemp(prefix="sqdiff-prometheus-")
            with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
                f.write(config)
            self.log = open(os.path.join(self.dir, "log"), "w")
            self.proc = subprocess.Popen(["/usr/bin/prometheus", f"--config.file={self.dir}/prometheus.yml",
                                          f"--storage.tsdb.path={self.dir}/data", *args],
                                         stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                data = json.load(r)
        except (OSError, ValueError):
            return None
        result = data.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else None

    def close(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            self.suite.box.systemctl("stop", "sqdiff-test-prometheus.service", check=False)


def test_a_real_prometheus_scrapes_the_front_end(suite):
    prom = Prometheus(suite)
    try:
        wait_for(lambda: prom.query('up{job="sqdiff"}') == 1, 60, "Prometheus to report the target up")
        query = 'sum(sqdiff_http_requests_total{job="sqdiff",code="200"})'
        wait_for(lambda: prom.query(query) is not None, 30, "a first scrape with requests")
        start = prom.query(query)
        for n in range(10):
            assert suite.get(f"/?n={n}").status == 200
        wait_for(lambda: (prom.query(query) or 0) >= start + 10, 30, "Prometheus to see the 10 requests")
    finally:
        prom.close()


def test_scrapes_are_not_counted_as_requests(suite):
    first = requests_by_code(scrape(suite))
    second = requests_by_code(scrape(suite))
    assert first == second


def test_connection_budget_events_are_counted(suite):
    before = samples(scrape(suite))
    with socket.create_connection(("127.0.0.1", suite.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
        sock.settimeout(10)
        answer = b""
        while chunk := sock.recv(4096):  # the server closes after its 400
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400")
    after = samples(scrape(suite))
    key = ("sqdiff_http_connections_closed_total", '{reason="bad-framing"}')
    assert after[key] == before[key] + 1


# --- the workers' figures, from the counters their grants report (docs/protocol.md, "Counters") ---

WORKER_FAMILIES = ("sqdiff_worker_jobs_done_total", "sqdiff_worker_job_messages_rejected_total",
                   "sqdiff_worker_replies_unsent_total")


def workers(text):
    """{(family, kind, worker): value} of the per-worker families, and {kind: workers connected}."""
    figures, connected = {}, {}
    for (name, labels), value in samples(text).items():
        kind = re.search(r'kind="([^"]+)"', labels).group(1) if "kind=" in labels else None
        if name in WORKER_FAMILIES:
            figures[(name, kind, re.search(r'worker="([^"]+)"', labels).group(1))] = value
        elif name == "sqdiff_workers_connected":
            connected[kind] = value
    return figures, connected


def grown(before, after, family, kind):
    """How much family grew for kind, summed over the workers connected now (one that came since
    counts from its first report, which the page shows as 0)."""
    return sum(v - before.get(key, 0) for key, v in after.items() if key[0] == family and key[1] == kind)


def quiet_workers(suite):
    """The workers' figures once their reports have caught up: unchanged for longer than the
    second (and a bit) within which a worker reports a change."""
    last = [workers(scrape(suite))[0]]

    def unchanged():
        time.sleep(1.5)
        now = workers(scrape(suite))[0]
        same, last[0] = now == last[0], now
        return same
    wait_for(unchanged, 20, "the workers' reports to catch up")
    return last[0]


@pytest.fixture(scope="module")
def patient_requests_suite():
    """Requests wait a minute for their workers: jobs queued behind a stopped worker must not
    race the default 2 s on a loaded machine."""
    s = make_suite(extra_config="request-timeout = 1min\n")
    yield s
    s.close()


def test_the_workers_report_every_job_they_did(patient_requests_suite):
    """Each request is one job per kind: the jobs done that the workers report, summed per kind,
    grow by exactly the jobs sent, however the jobs were batched (a batch of N jobs counts N)."""
    suite = patient_requests_suite
    before_workers = quiet_workers(suite)
    before = samples(scrape(suite))
    lists = [[i, -3, i * i] for i in range(40)]
    # The sum worker stopped while the requests come: their jobs wait in the front end and go
    # out in batches once it takes them again.
    suite.signal_workers("sum", signal.SIGSTOP)
    socks = []
    try:
        socks = open_requests(suite.port, [query(numbers) for numbers in lists])
        suite.wait_pending(len(lists))
    finally:
        suite.signal_workers("sum", signal.SIGCONT)
    try:
        assert [read_responses(s, 1)[0] for s in socks] == [answer(numbers) for numbers in lists]
    finally:
        for s in socks:
            s.close()
    for i in range(5):  # and some alone
        assert suite.get(query([i])).status == 200
    sent = len(lists) + 5

    def settled():
        after_workers, _ = workers(scrape(suite))
        return all(grown(before_workers, after_workers, "sqdiff_worker_jobs_done_total", kind) == sent
                   for kind in ("sum", "square"))
    wait_for(settled, 15, f"the workers to report {sent} jobs done of each kind")
    text = scrape(suite)
    after, (after_workers, connected) = samples(text), workers(text)
    for kind in ("sum", "square"):
        jobs = f'{{kind="{kind}"}}'
        assert after[("sqdiff_jobs_sent_total", jobs)] - before[("sqdiff_jobs_sent_total", jobs)] == sent
        assert grown(before_workers, after_workers, "sqdiff_worker_job_messages_rejected_total", kind) == 0
        assert grown(before_workers, after_workers, "sqdiff_worker_replies_unsent_total", kind) == 0
        assert connected[kind] >= 1
    batches = after[("sqdiff_batches_sent_total", '{kind="sum"}')] - before[("sqdiff_batches_sent_total", '{kind="sum"}')]
    assert batches < sent, "the sum jobs went out batched"


# A peer of the square socket, speaking the protocol, that sends the grants the test writes on
# its stdin, one a line, and says "sent" after each; it takes no job (the test sends no request
# while it is connected) and leaves on "quit".
GRANTING_PEER = r"""
import os, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.PROBE_ROUTER, 1)
s.setsockopt(zmq.IMMEDIATE, 1)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.connect("ipc://" + os.environ["SQDIFF_RUNTIME_DIR"] + "/jobs-square.sock")
assert s.recv() == b""  # the front end's hello
print("up", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    s.send(line.strip().encode())
    print("sent", flush=True)
s.close(linger=1000)
ctx.term()
"""


def test_junk_counters_are_refused_and_the_page_stays_valid(suite):
    """A worker's counters are checked like everything a peer sends: negative, fractional, huge,
    repeated, incomplete or backwards ones are refused and counted, the credit still counts,
    and the page shows the worker as before, as valid exposition. A worker that reports nothing
    is connected with no figures; one that leaves is no longer on the page."""
    first_figures, first_connected = workers(scrape(suite))
    refused_key = ("sqdiff_worker_reports_refused_total", '{kind="square"}')
    refused = samples(scrape(suite))[refused_key]
    peer = suite.start_python(GRANTING_PEER)

    def send(*grants):
        for g in grants:
            peer.stdin.write(g + "\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "sent"

    def mine():
        figures, connected = workers(scrape(suite))
        new = {key[2] for key in figures if key[1] == "square"} - {key[2] for key in first_figures if key[1] == "square"}
        return figures, connected, new

    try:
        assert peer.stdout.readline().strip() == "up"
        send('{"ready":1}')
        wait_for(lambda: mine()[1]["square"] == first_connected["square"] + 1, 10, "the peer to be registered")
        assert not mine()[2], "a worker that reports nothing has no figures"

        send('{"ready":1,"done":5,"rejected":1,"unsent":0}', '{"ready":1,"unsent":2,"rejected":1,"done":7}')
        wait_for(lambda: len(mine()[2]) == 1, 10, "the peer's figures on the page")
        worker = mine()[2].pop()

        def figure(family):
            return workers(scrape(suite))[0].get((family, "square", worker))
        wait_for(lambda: figure("sqdiff_worker_jobs_done_total") == 2, 10, "the peer's second report")

        junk = ['{"ready":1,"done":-8,"rejected":1,"unsent":2}',
                '{"ready":1,"done":8.5,"rejected":1,"unsent":2}',
                '{"ready":1,"done":"8","rejected":1,"unsent":2}',
                '{"ready":1,"done":null,"rejected":1,"unsent":2}',
                '{"ready":1,"done":[8],"rejected":1,"unsent":2}',
                '{"ready":1,"done":9223372036854775808,"rejected":1,"unsent":2}',
                '{"ready":1,"done":' + "9" * 40 + ',"rejected":1,"unsent":2}',
                '{"ready":1,"done":8,"done":9,"rejected":1,"unsent":2}',
                '{"ready":1,"done":8,"unsent":2}',
                '{"ready":1,"done":6,"rejected":1,"unsent":2}',  # backwards
                '{"ready":1,"done":8,"rejected":0,"unsent":2}',  # backwards
                '{"ready":1,"done":8,"rejected":1,"unsent":2,"x":"\\"} 1\\n"}']  # taken: other members are ignored
        send(*junk)
        wait_for(lambda: figure("sqdiff_worker_jobs_done_total") == 3, 10, "the peer's last report")
        text = scrape(suite)
        assert samples(text)[refused_key] - refused == len(junk) - 1
        assert figure("sqdiff_worker_job_messages_rejected_total") == 0
        assert figure("sqdiff_worker_replies_unsent_total") == 2
        result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr
        peer.stdin.write("quit\n")
        peer.stdin.flush()
        assert peer.wait(timeout=30) == 0
        wait_for(lambda: not mine()[2] and mine()[1]["square"] == first_connected["square"], 10,
                 "the peer to leave the page")
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""sqdiff side by side with nginx: the same URL, the same answer, the same load.

Builds an optimised sqdiff, starts sqdiff in local mode, sqdiff in workers mode and Debian's
nginx answering a fixed copy of the same JSON body, verifies each answer, then loads each
with wrk on loopback, interleaved round by round (A B C A B C …). Prints a markdown table and
writes bench/results/latest.md and latest.json. See bench/README.md.
"""

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import threading

sys.dont_write_bytecode = True   # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import LOAD_CPU, ON_LOAD_CPU, SERVER_CPUS, fmt_cpus, fmt_ratio, fmt_time_us, log  # noqa: E402

SERVERS = ("local", "metrics", "logged", "workers", "onecpu", "curve", "proxy", "mongrel2", "nginx")
LABELS = {"local": "sqdiff local", "metrics": "sqdiff local, scraped", "logged": "sqdiff local, access log",
          "workers": "sqdiff workers", "onecpu": "sqdiff workers, one CPU",
          "curve": "sqdiff tcp+CURVE", "proxy": "nginx → sqdiff local", "mongrel2": "Mongrel2 + C handler",
          "nginx": "nginx"}
H2_SERVERS = ("local", "workers", "onecpu")  # also measured over HTTP/2 (h2load), against local mode
H2_STREAMS = 10  # h2load -m: streams at once per connection
H2_CONNECTIONS = 50
ONE_CPU = "0"  # the README's drop-in, "One CPU for the whole suite": CPUAffinity=0
SCRAPE_EVERY = 1.0  # seconds: Prometheus's default is 15 s; this is fifteen times as often
NUMBERS = list(range(1, 11))
PATH = "/?" + "&".join(f"n={n}" for n in NUMBERS)
# per run figures compared to nginx's in the same round; req/s is the only "higher is better"
METRICS = ("rps", "p50_us", "p99_us", "cpu_us_per_req", "rss_kib")
# sqdiff's servers whose CPU is also split by thread (split_by_thread()): the front end's main
# thread against local mode's is what distribution adds there; the rest is the hand-overs'.
SPLIT_SERVERS = ("local", "workers", "onecpu", "curve")
ROLES = ("front end", "its ZeroMQ threads", "workers", "their ZeroMQ threads")


def expected_body(numbers):
    """sqdiff's answer, byte for byte: sum of squares, square of the sum, their difference."""
    sum_sq, sq_sum = sum(n * n for n in numbers), sum(numbers) ** 2
    return json.dumps({"sum": sum_sq, "square": sq_sum, "diff": sq_sum - sum_sq},
                      separators=(",", ":")).encode()


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    ap.add_argument("--connections", default="1,50",
                    help="comma-separated connection counts (default 1,50)")
    ap.add_argument("--threads", type=int, default=1,
                    help="wrk threads, at most one per connection, all on the load generator's CPU "
                         "(default 1)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="seconds of unrecorded load per server before round 1 (default 1; 0: none)")
    ap.add_argument("--only", default=",".join(s for s in SERVERS if s != "onecpu" or len(SERVER_CPUS) > 1),
                    help="comma-separated subset of local,metrics,logged,workers,onecpu,curve,proxy,mongrel2,nginx "
                         "(mongrel2: Mongrel2 with bench/m2-handler.c over ipc; logged: local "
                         "mode with log-requests = yes; metrics: local "
                         "mode with its /metrics listener scraped every second during the load; curve: "
                         "workers mode with the workers over tcp:// on loopback with CURVE; onecpu: workers "
                         "mode with the whole suite on CPU 0, by default only when the servers get more than one CPU, "
                         "else it is the workers row again; proxy: nginx proxying to sqdiff's local mode)")
    ap.add_argument("--no-h2", dest="h2", action="store_false",
                    help="skip the HTTP/2 runs (h2load) of local,workers,onecpu")
    ap.add_argument("--nginx-workers", type=int, default=len(SERVER_CPUS),
                    help="nginx worker_processes (default: the number of CPUs the servers get)")
    ap.add_argument("--build-dir", default=common.DEFAULT_BUILD_DIR,
                    help="where the optimised sqdiff is built (default build-bench/)")
    ap.add_argument("--no-build", action="store_true", help="use --build-dir as it is")
    ap.add_argument("--halt-poll-ns", type=int, metavar="NS",
                    help="under cpuidle-haltpoll (a KVM guest), let idle CPUs poll NS ns before they halt "
                         "for this run, then put the machine's setting back (200000 is the driver's "
                         "default; see bench/README.md, \"Idle CPUs\")")
    ap.add_argument("--results", default="latest", metavar="NAME",
                    help="write bench/results/NAME.md and NAME.json (default latest, which plot.py draws)")
    ap.add_argument("--progress", action="store_true",
                    help="a progress line on stderr even when it is not a terminal")
    args = ap.parse_args()
    if args.halt_poll_ns is not None and args.halt_poll_ns < 0:
        ap.error("--halt-poll-ns must be >= 0")
    args.connections = [int(c) for c in args.connections.split(",")]
    only = args.only.split(",")
    unknown = set(only) - set(SERVERS)
    if unknown or args.rounds < 1 or args.duration < 1 or min(args.connections) < 1:
        ap.error(f"bad arguments (unknown servers: {sorted(unknown)})" if unknown
                 else "--rounds, --duration and --connections must be >= 1")
    args.servers = [s for s in SERVERS if s in only]
    return args


# ---------------------------------------------------------------- servers

def start_server(name, args, expected):
    if name == "nginx":
        return common.start_with_retry(common.start_nginx, LABELS[name], PATH, expected,
                                       args.nginx_workers)
    if name == "metrics":
        return common.start_with_retry(common.start_sqdiff_metrics, LABELS[name], args.build_dir, PATH, expected)
    if name == "onecpu":  # the whole suite on one CPU, as the README's drop-in puts it
        return common.start_with_retry(functools.partial(common.start_sqdiff, cpus=ONE_CPU),
                                       LABELS[name], args.build_dir, "workers", PATH, expected)
    if name == "proxy":
        return common.start_with_retry(common.start_nginx_proxy, LABELS[name], args.build_dir, PATH, expected,
                                       args.nginx_workers)
    if name == "mongrel2":
        return common.start_with_retry(common.start_mongrel2, LABELS[name], args.build_dir, PATH, expected)
    if name == "curve":
        return common.start_with_retry(common.start_sqdiff_curve, LABELS[name], args.build_dir, PATH, expected)
    if name == "logged":  # log-requests = yes: an access-log line per request, to stderr here (a file)
        return common.start_with_retry(functools.partial(common.start_sqdiff, httpd_options=("--log-requests=yes",)),
                                       LABELS[name], args.build_dir, "local", PATH, expected)
    return common.start_with_retry(common.start_sqdiff, LABELS[name], args.build_dir, name,
                                   PATH, expected)


# ---------------------------------------------------------------- wrk

TIME_UNITS_US = {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_time_us(text):
    """wrk's '68.00us', '1.23ms', '2.00s', '1.00m' in microseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unknown wrk time {text!r}")
    return float(m.group(1)) * TIME_UNITS_US[m.group(2)]


def parse_wrk(out):
    """Requests, duration, req/s, latency percentiles, errors from `wrk --latency` output."""
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", out, re.M)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if not m or not rps:
        raise ValueError(f"cannot read wrk's output:\n{out}")
    pct = {int(p): parse_time_us(v)
           for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", out, re.M)}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = dict(zip(("connect", "read", "write", "timeout"),
                      map(int, sock.groups()) if sock else (0, 0, 0, 0)))
    return {
        "requests": int(m.group(1)),
        "duration_s": parse_time_us(m.group(2)) / 1e6,
        "rps": float(rps.group(1)),
        "p50_us": pct.get(50), "p75_us": pct.get(75), "p90_us": pct.get(90), "p99_us": pct.get(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors,
    }


def run_wrk(port, conns, threads, duration, scheme="http", headers=()):
    argv = [*ON_LOAD_CPU, "wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{duration}s", "--latency",
            *(a for h in headers for a in ("-H", h)), f"{scheme}://127.0.0.1:{port}{PATH}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def run_h2load(port, duration, scheme="http"):
    """h2load over HTTP/2 (cleartext: prior knowledge; https: ALPN): H2_CONNECTIONS connections,
    H2_STREAMS streams each, for duration s. Its figures: req/s, requests done, failed, non-2xx."""
    argv = [*ON_LOAD_CPU, "h2load", "-t1", f"-c{H2_CONNECTIONS}", f"-m{H2_STREAMS}", "-D", str(duration),
            f"{scheme}://127.0.0.1:{port}{PATH}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", r.stdout)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", r.stdout)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
    if r.returncode != 0 or not rps or not done or not codes:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return {"rps": float(rps.group(1)), "requests": int(done.group(1)), "failed": int(done.group(3)),
            "non2xx": sum(int(codes.group(i)) for i in (2, 3, 4))}


def cpu_reading(servers, name):
    """What measure() and measure_h2() read before and after a run: the CPU ticks of server `name`
    and of all the others, from one reading of /proc, and, for SPLIT_SERVERS, its threads' times."""
    table = common.process_table()
    ticks = common.cpu_ticks([p.pid for p in servers[name].procs], table)
    idle = common.cpu_ticks([p.pid for other, s in servers.items() if other != name for p in s.procs], table)
    return ticks, idle, common.thread_times(ticks) if name in SPLIT_SERVERS else None


def cpu_figures(server, before, after, requests):
    """A run's CPU figures from the cpu_reading()s before and after it: the server's CPU seconds
    and per request, the idle servers' CPU seconds, and, where read, split_by_thread()."""
    (ticks0, idle0, threads0), (ticks1, idle1, threads1) = before, after
    rec = {"cpu_s": common.cpu_seconds_between(ticks0, ticks1), "idle_cpu_s": common.cpu_seconds_between(idle0, idle1)}
    rec["cpu_us_per_req"] = rec["cpu_s"] * 1e6 / requests if requests else None
    if threads0 is not None and requests:
        rec["threads"] = split_by_thread(server, threads0, threads1, requests)
    return rec


def split_by_thread(server, before, after, requests):
    """sqdiff's CPU per request (µs) and voluntary context switches per request, by ROLES: the front
    end's main thread (where HTTP is served and jobs are made and settled) and its other threads
    (ZeroMQ's), the workers' main threads and theirs. From two common.thread_times() readings."""
    front = server.procs[0].pid  # the front end is the first process started
    split = {role: {"cpu_us": 0.0, "switches": 0.0} for role in ROLES}
    for (pid, tid), (ns, switches) in after.items():
        ns0, switches0 = before.get((pid, tid), (0, 0))
        role = ROLES[(0 if pid == front else 2) + (0 if tid == pid else 1)]
        split[role]["cpu_us"] += (ns - ns0) / 1e3 / requests
        split[role]["switches"] += (switches - switches0) / requests
    return split


def measure_h2(name, servers, args, expected):
    """One h2load run against one server, its CPU per request and the idle servers' CPU as
    measure()'s; then its answer is checked."""
    server = servers[name]
    before = cpu_reading(servers, name)
    rec = {"server": name, **run_h2load(server.port, args.duration)}
    rec.update(cpu_figures(server, before, cpu_reading(servers, name), rec["requests"]))
    server.check_alive()
    server.verify(PATH, expected)
    return rec


class Scraper:
    """Fetches /metrics every SCRAPE_EVERY seconds while a run lasts, as Prometheus would; each
    page must be a 200 that counts requests."""

    def __init__(self, port):
        self.port, self.pages, self.problem = port, 0, None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stopped.wait(SCRAPE_EVERY):
            try:
                status, _, body = common.http_request(self.port, "GET", "/metrics")
                if status != 200 or b"sqdiff_http_requests_total" not in body:
                    self.problem = f"/metrics answered {status}: {body[:200]!r}"
                self.pages += 1
            except OSError as e:
                self.problem = f"/metrics: {e}"

    def stop(self):
        self.stopped.set()
        self.thread.join()
        if self.problem:
            raise RuntimeError(self.problem)
        return self.pages


def measure(name, servers, conns, args, expected):
    """One wrk run against one server: wrk's figures, the server's CPU time (all its
    processes, /proc deltas) per request, its RSS after the run, and the CPU time the other
    servers took meanwhile, idle as they should be; then its answer is checked. A server with a
    metrics listener is scraped meanwhile."""
    server = servers[name]
    scraper = Scraper(server.metrics_port) if getattr(server, "metrics_port", None) else None
    before = cpu_reading(servers, name)
    try:
        out = run_wrk(server.port, conns, args.threads, args.duration)
    finally:
        scrapes = scraper.stop() if scraper else None
    after = cpu_reading(servers, name)
    server.check_alive()
    rec = {"server": name, "conns": conns, **parse_wrk(out)}
    rec.update(cpu_figures(server, before, after, rec["requests"]))
    rec["rss_kib"] = common.status_kib(list(after[0]), "VmRSS")
    if name != "nginx":  # the front end is the first process started
        rec["frontend_rss_kib"] = common.status_kib([server.procs[0].pid], "VmRSS")
    rec["processes"] = len(after[0])
    if scrapes is not None:
        rec["scrapes"] = scrapes
    rec["wrk_output"] = out
    server.verify(PATH, expected)
    return rec


# ---------------------------------------------------------------- figures

def add_ratios(runs):
    """Each run's figures divided by nginx's in the same round and connection count."""
    ref = {(r["round"], r["conns"]): r for r in runs if r["server"] == "nginx"}
    for r in runs:
        base = ref.get((r["round"], r["conns"]))
        r["vs_nginx"] = {m: (r[m] / base[m] if base and base[m] and r[m] is not None else None)
                         for m in METRICS}


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs, servers, connections):
    summary = {}
    for name in servers:
        for conns in connections:
            rs = [r for r in runs if r["server"] == name and r["conns"] == conns]
            s = {m: stats(r[m] for r in rs) for m in METRICS}
            s["vs_nginx"] = {m: stats(r["vs_nginx"][m] for r in rs) for m in METRICS}
            s["frontend_rss_kib"] = stats(r.get("frontend_rss_kib") for r in rs)
            s["requests"] = sum(r["requests"] for r in rs)
            s["non2xx"] = sum(r["non2xx"] for r in rs)
            s["socket_errors"] = sum(sum(r["socket_errors"].values()) for r in rs)
            if name in SPLIT_SERVERS:
                s["threads"] = thread_medians(rs)
            summary.setdefault(name, {})[str(conns)] = s
    return summary


def thread_medians(runs):
    """The medians over runs of split_by_thread()'s figures."""
    runs = [r["threads"] for r in runs if "threads" in r]
    return {role: {k: statistics.median(t[role][k] for t in runs) for k in ("cpu_us", "switches")}
            for role in ROLES} if runs else None


def med(s, key=None):
    part = s if key is None else s.get(key)
    return part["median"] if part else None


def markdown(meta, summary, args):
    lines = [
        "# sqdiff side by side with nginx",
        "",
        f"{meta['date']} · git {meta['git']} · {meta['cores']} cores ({meta['cpu']}) · "
        f"Linux {meta['kernel']} · load average {meta['loadavg_start'][0]:.2f} at start, "
        f"{meta['loadavg_end'][0]:.2f} at end",
        "",
        f"`GET {PATH}` → `{meta['expected_body']}`. {args.rounds} round(s) × {args.duration} s "
        f"per server and connection count, interleaved ({', '.join(LABELS[s] for s in args.servers)}); "
        f"`wrk -t{args.threads} --latency` (never more threads than connections); "
        f"{meta['versions']['nginx']} with {args.nginx_workers} worker processes; "
        f"{meta['versions']['wrk']}; {meta['versions']['sqdiff']}. The load generators run on CPU "
        f"{meta['cpus']['load']}, every server on CPU {fmt_cpus(meta['cpus']['servers'])} "
        f"(bench/README.md, \"CPUs\"); {common.fmt_idle(meta['idle'])} (\"Idle CPUs\" there).",
        "",
        "Figures are medians over the rounds. ×nginx is the median over the rounds of the ratio "
        "to nginx in the same round: above 1 is better for req/s, below 1 is better for the rest. "
        "CPU/req is the user+sys time of all the server's processes divided by the requests "
        "answered; RSS is the sum over its processes after the run.",
    ]
    for conns in args.connections:
        lines += ["", f"## {conns} connection{'s' if conns != 1 else ''}", "",
                  "| server | req/s | min–max | ×nginx | p50 | ×nginx | p99 | ×nginx "
                  "| CPU/req | ×nginx | RSS | ×nginx | non-2xx | socket errors |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for name in args.servers:
            s = summary[name][str(conns)]
            v = s["vs_nginx"]
            rps = s["rps"]
            cpu, rss = med(s, "cpu_us_per_req"), med(s, "rss_kib")
            lines.append(
                f"| {LABELS[name]} | {rps['median']:,.0f} | {rps['min']:,.0f}–{rps['max']:,.0f} "
                f"| {fmt_ratio(med(v, 'rps'))} "
                f"| {fmt_time_us(med(s, 'p50_us'))} | {fmt_ratio(med(v, 'p50_us'))} "
                f"| {fmt_time_us(med(s, 'p99_us'))} | {fmt_ratio(med(v, 'p99_us'))} "
                f"| {'—' if cpu is None else f'{cpu:.1f} µs'} | {fmt_ratio(med(v, 'cpu_us_per_req'))} "
                f"| {'—' if rss is None else f'{rss / 1024:.1f} MiB'} | {fmt_ratio(med(v, 'rss_kib'))} "
                f"| {s['non2xx']} | {s['socket_errors']} |")
    lines += h2_markdown(summary.get("h2", {}))
    lines += threads_markdown(summary, args)
    rt = summary.get("zmq-pingpong")
    if rt and rt["p50_us"]:
        lines += ["", f"One libzmq ipc round trip alone (`zmq-pingpong`, ROUTER and DEALER in two processes, "
                      f"once per round): p50 {fmt_time_us(med(rt, 'p50_us'))}, p99 {fmt_time_us(med(rt, 'p99_us'))}, "
                      f"CPU {med(rt, 'cpu_us_per_round_trip'):.1f} µs per round trip."]
    wake = meta["wake_probe"]
    lines += ["", f"One thread waking another and back (`wake-probe`, two eventfds, once): on one CPU p50 "
                  f"{fmt_time_us(wake['same_cpu']['p50_us'])} and {wake['same_cpu']['cpu_us_per_round_trip']:.1f} µs "
                  f"of CPU per round trip; across CPUs {meta['cpus']['servers'][0]} and {meta['cpus']['load']} p50 "
                  f"{fmt_time_us(wake['two_cpus']['p50_us'])} and {wake['two_cpus']['cpu_us_per_round_trip']:.1f} µs."]
    idle = summary.get("idle_cpu_s")
    if idle:
        lines += ["", f"The servers not under load took at most {idle['max']:.2f} s of CPU together during one "
                      f"{args.duration} s run (while {LABELS[idle['during']]} was measured): they share the servers' "
                      "CPUs, so a server busy when idle would slow every row measured beside it."]
    lines += targets(summary)
    if meta["stop_problems"]:
        lines += ["", "Stopping the servers:", ""] + [f"- {p}" for p in meta["stop_problems"]]
    return "\n".join(lines) + "\n"


def threads_markdown(summary, args):
    """split_by_thread()'s medians: where sqdiff's CPU per request goes, by thread."""
    rows = []
    for conns in args.connections:
        for name in SPLIT_SERVERS:
            t = summary.get(name, {}).get(str(conns), {}).get("threads")
            if t:
                rows.append((LABELS[name], f"{conns}", t))
    for name in SPLIT_SERVERS:
        t = summary.get("h2", {}).get(name, {}).get("threads")
        if t:
            rows.append((LABELS[name], f"HTTP/2, {H2_CONNECTIONS} × {H2_STREAMS}", t))
    if not rows:
        return []
    lines = ["", "## Where sqdiff's CPU goes", "",
             "Per request, by thread (medians over the rounds; from /proc/PID/task/TID/schedstat, so they may "
             "differ a little from CPU/req above, which is sampled by ticks): the front end's main thread "
             "serves HTTP and makes and settles the jobs; the ZeroMQ threads (one I/O thread per process) "
             "carry the messages. Switches: the times a thread went to sleep, all threads together.", "",
             "| server | connections | " + " | ".join(ROLES) + " | total | switches |",
             "|---|---|" + "--:|" * (len(ROLES) + 2)]
    for label, conns, t in rows:
        total = sum(t[role]["cpu_us"] for role in ROLES)
        cells = " | ".join(f"{t[role]['cpu_us']:.2f} µs" if t[role]["cpu_us"] else "—" for role in ROLES)
        switches = sum(t[role]["switches"] for role in ROLES)
        lines.append(f"| {label} | {conns} | {cells} | {total:.2f} µs | {switches:.3f} |")
    return lines


def h2_markdown(h2):
    """The HTTP/2 runs: a table, each server against local mode (ratios of the medians)."""
    if not h2:
        return []
    local = h2.get("local")
    lines = ["", f"## HTTP/2: {H2_CONNECTIONS} connections × {H2_STREAMS} streams", "",
             f"`h2load -t1 -c{H2_CONNECTIONS} -m{H2_STREAMS}` over cleartext HTTP/2 (prior knowledge), the same URL, "
             "in each round after the HTTP/1.1 runs; ×local is the ratio of the medians.", "",
             "| server | req/s | min–max | ×local | CPU/req | ×local | failed or non-2xx |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for name, h in h2.items():
        rps, cpu = h["rps"], med(h, "cpu_us_per_req")
        r_rps = rps["median"] / local["rps"]["median"] if local and local["rps"] else None
        lcpu = med(local, "cpu_us_per_req") if local else None
        r_cpu = cpu / lcpu if cpu is not None and lcpu else None
        lines.append(f"| {LABELS[name]} | {rps['median']:,.0f} | {rps['min']:,.0f}–{rps['max']:,.0f} "
                     f"| {'—' if r_rps is None else f'×{r_rps:.2f}'} | {'—' if cpu is None else f'{cpu:.1f} µs'} "
                     f"| {'—' if r_cpu is None else f'×{r_cpu:.2f}'} | {h['errors']} |")
    return lines


# The speed sqdiff is held to: (server, connections, metric, bound, description).
TARGETS = (
    ("local", 50, "rps", (">=", 0.95), "local mode: requests/s at 50 connections ≥ 0.95× nginx"),
    ("local", 50, "cpu_us_per_req", ("<=", 1.1), "local mode: CPU per request ≤ 1.1× nginx"),
    ("local", 1, "p99_us", ("<=", 1.2), "local mode: p99 at 1 connection ≤ 1.2× nginx"),
    ("workers", 50, "rps", (">=", 0.6), "workers mode: requests/s at 50 connections ≥ 0.6× nginx"),
    ("workers", 50, "cpu_us_per_req", ("<=", 2.0),
     "workers mode: CPU per request (front end + workers) ≤ 2× nginx"),
)
FRONTEND_RSS_MAX_KIB = 20 * 1024


def verdict(ratio, op, bound):
    """A target's word: whether ratio is op (">=" or "<=") bound."""
    return "met" if (ratio >= bound if op == ">=" else ratio <= bound) else "NOT met"


def targets(summary):
    """The targets this run measured, each with the median ratio and whether it is met."""
    rows = []
    for server, conns, metric, (op, bound), text in TARGETS:
        s = summary.get(server, {}).get(str(conns))
        ratio = med(s["vs_nginx"], metric) if s else None
        if ratio is not None:
            rows.append(f"| {text} | {fmt_ratio(ratio)} | {verdict(ratio, op, bound)} |")
    for server in ("local", "workers"):
        s = summary.get(server, {}).get("50")
        rss = med(s, "frontend_rss_kib") if s else None
        if rss is not None:
            rows.append(f"| {server} mode: front end RSS under 50-connection load ≤ 20 MiB "
                        f"| {rss / 1024:.1f} MiB | {'met' if rss <= FRONTEND_RSS_MAX_KIB else 'NOT met'} |")
    rows += metrics_target(summary)
    rows += distribution_targets(summary)
    if not rows:
        return []
    return ["", "## Targets", "", "| target | measured (median) | |", "|---|--:|---|"] + rows


def metrics_target(summary):
    """Metrics on costs nothing measurable: with /metrics scraped, local mode's median req/s at
    50 connections is within the spread of its rounds without."""
    on, off = summary.get("metrics", {}).get("50"), summary.get("local", {}).get("50")
    if not on or not off:
        return []
    ratio = on["rps"]["median"] / off["rps"]["median"]
    met = on["rps"]["median"] >= off["rps"]["min"]
    return [f"| local mode with /metrics scraped every {SCRAPE_EVERY:g} s: requests/s at 50 connections within the "
            f"spread of the rounds without ({off['rps']['min']:,.0f}–{off['rps']['max']:,.0f}) "
            f"| {on['rps']['median']:,.0f} (×{ratio:.3f}) | {'met' if met else 'NOT met'} |"]


# Distribution nearly free (issue 21): workers mode against local mode in the same run, as
# ratios of the medians: (connections, metric, bound, description).
DISTRIBUTION = (
    (50, "cpu_us_per_req", ("<=", 1.5), "CPU per request at 50 connections ≤ 1.5× local mode's"),
    (50, "rps", (">=", 0.75), "requests/s at 50 connections ≥ 0.75× local mode's"),
    (1, "cpu_us_per_req", ("<=", 4.0), "CPU per request at 1 connection ≤ 4× local mode's"),
)
ROUND_TRIP_SLACK_US = 20


def distribution_targets(summary):
    """Workers mode (and the whole suite on one CPU) against local mode: DISTRIBUTION, the p50 at
    1 connection against local mode's plus one libzmq round trip, tcp+CURVE against ipc."""
    rows, local = [], summary.get("local", {})
    rt = med(summary["zmq-pingpong"], "p50_us") if summary.get("zmq-pingpong") else None
    for server in ("workers", "onecpu"):
        mine = summary.get(server)
        if not mine or not local:
            continue
        for conns, metric, (op, bound), text in DISTRIBUTION:
            a, b = med(mine.get(str(conns), {}), metric), med(local.get(str(conns), {}), metric)
            if a is not None and b:
                rows.append(f"| {LABELS[server]}: {text} | ×{a / b:.2f} | {verdict(a / b, op, bound)} |")
        a, b = med(mine.get("1", {}), "p50_us"), med(local.get("1", {}), "p50_us")
        if a is not None and b is not None and rt is not None:
            bound = b + rt + ROUND_TRIP_SLACK_US
            rows.append(f"| {LABELS[server]}: p50 at 1 connection ≤ local mode's + one libzmq round trip + "
                        f"{ROUND_TRIP_SLACK_US} µs ({b:.0f} + {rt:.0f} + {ROUND_TRIP_SLACK_US} = {bound:.0f} µs) "
                        f"| {fmt_time_us(a)} | {'met' if a <= bound else 'NOT met'} |")
    h2 = summary.get("h2", {})
    for server in ("workers", "onecpu"):
        if server in h2 and "local" in h2:
            r = h2[server]["rps"]["median"] / h2["local"]["rps"]["median"]
            rows.append(f"| {LABELS[server]}: HTTP/2 requests/s ({H2_CONNECTIONS} × {H2_STREAMS} streams) ≥ 0.8× "
                        f"local mode's | ×{r:.2f} | {'met' if r >= 0.8 else 'NOT met'} |")
    curve, ipc = summary.get("curve", {}).get("50"), summary.get("workers", {}).get("50")
    if curve and ipc:
        r = med(curve, "rps") / med(ipc, "rps")
        rows.append(f"| tcp+CURVE: requests/s at 50 connections within 10 % of ipc's | ×{r:.2f} "
                    f"| {'met' if r >= 0.9 else 'NOT met'} |")
    return rows


# ---------------------------------------------------------------- main

def zmq_round_trip(build_dir):
    """One run of bench/zmq-pingpong: libzmq's ipc round trip between two processes, alone."""
    out = subprocess.run([os.path.join(build_dir, "zmq-pingpong")], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return json.loads(out)


def wake_costs(build_dir):
    """One run of bench/wake-probe: a thread woken on the servers' CPU and across to the load
    generator's, what every hand-over costs on this machine."""
    out = subprocess.run([os.path.join(build_dir, "wake-probe"), str(SERVER_CPUS[0]), str(LOAD_CPU)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return json.loads(out)


def h2_servers(args):
    return [n for n in args.servers if n in H2_SERVERS] if args.h2 else []


def run_rounds(servers, args, expected):
    if args.warmup:
        for name in args.servers:
            log(f"warm-up: {LABELS[name]}, {max(args.connections)} connections, {args.warmup} s")
            run_wrk(servers[name].port, max(args.connections), args.threads, args.warmup)
    runs, probes, h2runs = [], [], []
    steps_per_round = len(args.connections) * len(args.servers) + len(h2_servers(args))
    progress = common.Progress(args.rounds * steps_per_round, args.progress)
    for rnd in range(1, args.rounds + 1):
        probe = zmq_round_trip(args.build_dir)
        probes.append({"round": rnd, **probe})
        log(f"round {rnd}/{args.rounds}, libzmq ipc round trip: p50 {probe['p50_us']:.1f} µs, "
            f"cpu {probe['cpu_us_per_round_trip']:.1f} µs")
        for conns in args.connections:
            for name in args.servers:
                progress.step(len(runs) + len(h2runs), f"round {rnd}/{args.rounds}, {conns} conn, {LABELS[name]}")
                rec = measure(name, servers, conns, args, expected)
                rec["round"] = rnd
                runs.append(rec)
                log(f"round {rnd}/{args.rounds}, {conns:>3} conn, {LABELS[name]:<14} "
                    f"{rec['rps']:>10,.0f} req/s  p99 {fmt_time_us(rec['p99_us']):>9}  "
                    f"cpu/req {rec['cpu_us_per_req'] or 0:6.1f} µs  errors "
                    f"{rec['non2xx'] + sum(rec['socket_errors'].values())}")
        for name in h2_servers(args):
            progress.step(len(runs) + len(h2runs), f"round {rnd}/{args.rounds}, HTTP/2, {LABELS[name]}")
            rec = measure_h2(name, servers, args, expected)
            rec["round"] = rnd
            h2runs.append(rec)
            log(f"round {rnd}/{args.rounds}, HTTP/2, {LABELS[name]:<14} {rec['rps']:>10,.0f} req/s  "
                f"cpu/req {rec['cpu_us_per_req'] or 0:6.1f} µs  errors {rec['failed'] + rec['non2xx']}")
    progress.done()
    return runs, probes, h2runs


def main():
    common.exit_on_sigterm()
    args = parse_args()
    common.ensure_packages(["wrk"] + (["nginx-light"] if {"nginx", "proxy"} & set(args.servers) else [])
                           + (["mongrel2-core"] if "mongrel2" in args.servers else [])
                           + (["nghttp2-client"] if h2_servers(args) else []))
    if not args.no_build:
        common.build_sqdiff(args.build_dir)
    expected = expected_body(NUMBERS)
    meta = common.machine_info()
    meta.update(expected_body=expected.decode(), path=PATH, settings={
        k: getattr(args, k) for k in ("rounds", "duration", "connections", "threads", "warmup",
                                      "servers", "nginx_workers", "build_dir")})
    meta["versions"] = {
        "nginx": (common.command_version(["/usr/sbin/nginx", "-v"]) or "nginx").split(": ")[-1],
        "wrk": (common.command_version(["wrk", "-v"]) or "wrk").split(" Copyright")[0],
        "sqdiff": common.command_version([common.sqdiff_binary(args.build_dir, "sqdiff-httpd"),
                                          "--version"]),
    }
    meta["cpus"] = common.on_server_cpus()
    with common.halt_poll(args.halt_poll_ns):  # the machine's own setting unless asked
        meta["idle"] = common.idle_policy()
        meta["wake_probe"] = wake_costs(args.build_dir)
        log(f"wake-up probe: {meta['wake_probe']}")
        servers = {}
        try:
            for name in args.servers:
                servers[name] = start_server(name, args, expected)
                log(f"{LABELS[name]}: port {servers[name].port}, pids {sorted(servers[name].pids())}, "
                    "answer verified")
            runs, probes, h2runs = run_rounds(servers, args, expected)
        finally:
            meta["stop_problems"] = common.stop_servers(list(servers.values()))
    meta["loadavg_end"] = os.getloadavg()
    add_ratios(runs)
    summary = summarize(runs, args.servers, args.connections)
    summary["zmq-pingpong"] = {m: stats(p[m] for p in probes) for m in ("p50_us", "p99_us", "cpu_us_per_round_trip")}
    summary["h2"] = {name: {"rps": stats(r["rps"] for r in h2runs if r["server"] == name),
                            "cpu_us_per_req": stats(r["cpu_us_per_req"] for r in h2runs if r["server"] == name),
                            "errors": sum(r["failed"] + r["non2xx"] for r in h2runs if r["server"] == name),
                            "threads": thread_medians([r for r in h2runs if r["server"] == name])}
                     for name in h2_servers(args)}
    worst = max(runs + h2runs, key=lambda r: r["idle_cpu_s"], default=None)
    summary["idle_cpu_s"] = {"max": worst["idle_cpu_s"], "during": worst["server"]} if worst else None
    md = markdown(meta, summary, args)
    print(md, end="")
    common.write_results(args.results, md, {"meta": meta, "summary": summary, "runs": runs, "probes": probes,
                                                "h2runs": h2runs})
    bad = sum(s["non2xx"] + s["socket_errors"] for name in args.servers for s in summary[name].values())
    bad += sum(h["errors"] for h in summary["h2"].values())
    if bad:
        log(f"error: {bad} non-2xx responses or socket errors: the figures are not valid")
        return 1
    return 0


if __name__ == "__main__":
    common.run_main(main)

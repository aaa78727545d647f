#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Soak: workers mode under well-behaved and hostile clients at once, for --duration seconds.

Runs the suite's binaries from a meson build dir as plain processes (tests/suite.py's
ProcessSuite: the front end behind systemd-socket-activate, one worker of each kind). Meanwhile
  - --good well-behaved clients ask random questions (GET and POST, keep-alive) and check every
    answer exactly against Python's integers;
  - --hostile attackers cycle through the attacks of issue 10 (the clients of tests/attackers.py
    that tests/test_attacks.py plays, and a few of soak's own): pipelining
    without reading, pipelining then half-close, HTTP/2 header amplification behind window 0,
    unfinished HTTP/2 bodies, PING-only HTTP/2 connections, the empty CONTINUATION flood, a burst
    of idle connections, ambiguous HTTP/1.1 framing, garbage request lines, and big jobs while
    the sum worker is stopped.
A progress line goes to stderr every --every seconds; at the end stdout gets the tables: the
daemons' RSS over time (sampled every --sample seconds), their CPU, the requests answered and
the wrong answers (which must be 0: the exit status is 1 otherwise), and what each attack met.

Not part of `make test`; it takes a core or two: run it on an otherwise idle machine.
    bench/soak.py --build-dir build --duration 600
"""

import argparse
import collections
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
import h2frames as h2  # noqa: E402
from attackers import (FRAMINGS, amplifying_connection, pipeline_then_half_close, pipeline_without_reading,  # noqa: E402
                       read_until_closed, unfinished_bodies)
from expected import answer, query  # noqa: E402
from suite import ProcessSuite, proc_cpu_seconds, proc_rss_kib  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"), help="meson build dir (default build/)")
    ap.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    ap.add_argument("--good", type=int, default=4, help="well-behaved clients (default 4)")
    ap.add_argument("--hostile", type=int, default=2, help="attackers (default 2)")
    ap.add_argument("--sample", type=float, default=10, help="RSS/CPU sample period, s (default 10)")
    ap.add_argument("--every", type=float, default=10, help="progress line period, s (default 10)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an [httpd] setting for the front end (repeatable); default: the defaults")
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0  # exact 200s
        self.wrong = []  # (what was asked, what came): a wrong 200 or an unexpected status
        self.busy = collections.Counter()  # 503/504: allowed while a worker is stopped or queues are full
        self.errors = collections.Counter()  # connection-level failures, by exception name
        self.attacks = collections.defaultdict(collections.Counter)  # attack -> outcome -> count

    def add(self, field, key=None, value=1):
        with self.lock:
            if field == "answered":
                self.answered += value
            elif field == "wrong":
                self.wrong.append(key)
            else:
                getattr(self, field)[key] += value


# --- well-behaved clients -----------------------------------------------------------------------

def good_client(port, stats, stop, seed):
    rng = random.Random(seed)
    conn = None
    while not stop.is_set():
        bits = rng.choice([3, 16, 32, 63, 64])
        numbers = [rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)) for _ in range(rng.randrange(1, 50))]
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            if rng.random() < 0.5:
                conn.request("GET", query(numbers))
            else:
                conn.request("POST", "/", body=json.dumps({"numbers": numbers}),
                             headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            stats.add("errors", type(e).__name__)
            if conn is not None:
                conn.close()
            conn = None
            stop.wait(0.05)
            continue
        if r.status == 200 and json.loads(body) == answer(numbers):
            stats.add("answered")
        elif r.status in (503, 504) and json.loads(body).get("success") is False:
            stats.add("busy", r.status)
        else:
            stats.add("wrong", (numbers, r.status, body[:200]))
    if conn is not None:
        conn.close()


# --- attacks: each returns a short outcome; none lasts more than about 20 s -----------------

def attack_pipeline_no_read(port, ctx):
    sock, _, closed = pipeline_without_reading(port, 5)
    with sock:
        if closed:
            return "closed while sending"
        # Still reading nothing: reading would drain the answers, which is progress. Once the
        # kernel's buffers are full the answers stop draining; idle-timeout later it must be gone.
        time.sleep(ctx.idle + 3)
        return "closed" if read_until_closed(sock, time.monotonic() + 5)[0] else "still open"


def attack_half_close(port, ctx):
    n = 5_000
    answers, closed = pipeline_then_half_close(port, n, 15)
    if not closed:
        return "still answering"
    return "all answered, then closed" if answers == n else f"{answers} of {n} answered"


def h2_outcome(c, seconds):
    return "closed" if c.wait_gone(time.monotonic() + seconds, ping_every=0.5) else "still open"


def attack_h2_amplification(port, ctx):
    c = amplifying_connection(port)
    try:
        return h2_outcome(c, ctx.idle + 5)
    finally:
        c.close()


def attack_h2_zero_window(port, ctx):
    c = h2.H2Conn(port, INITIAL_WINDOW_SIZE=0, ENABLE_PUSH=0)
    try:
        for i in range(10):
            c.send(h2.headers(2 * i + 1, h2.request_block(path=query([i, 2]))))
        return h2_outcome(c, ctx.idle + 5)
    finally:
        c.close()


def attack_h2_bodies(port, ctx):
    c, _, _ = unfinished_bodies(port, 10, 900 * 1024, ctx.idle + 5)
    try:
        return h2_outcome(c, ctx.idle + 5)
    finally:
        c.close()


def attack_h2_pings(port, ctx):
    c = h2.H2Conn(port)
    try:
        return h2_outcome(c, ctx.idle + 5)
    finally:
        c.close()


def attack_continuation_flood(port, ctx):
    c = h2.H2Conn(port, sndbuf=65536)
    try:
        c.send(h2.headers(1, h2.request_block(), end_stream=True, end_headers=False))
        batch, frames, end = h2.continuation(1) * 500, 0, time.monotonic() + 3
        while not c.gone() and time.monotonic() < end:
            if c.send(batch, timeout=1):
                frames += 500
            c.poll(0)
        return f"closed after <{(frames // 100_000 + 1) * 100}k frames" if c.gone() else "still open after 3 s"
    finally:
        c.close()


def attack_idle_burst(port, ctx):
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(3)
        return "held 200 for 3 s"
    except OSError as e:
        return f"connect failed: {type(e).__name__}"
    finally:
        for s in socks:
            s.close()


def attack_framing(port, ctx):
    statuses = []
    for p in [payload for _, payload in FRAMINGS] + [b"GARBAGE\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(p)
            try:
                head = s.recv(65536)
            except OSError:
                head = b""
            statuses.append(head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "-")
    return "statuses " + ",".join(statuses)


def attack_stalled_worker(port, ctx):
    """Big jobs while the sum worker is stopped (3 s, under its watchdog's 3 s as systemd would
    have it); the good clients get 504s meanwhile, not wrong answers."""
    body = ctx.big_body()
    ctx.suite.signal_workers("sum", signal.SIGSTOP)
    statuses = []
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                c.request("POST", "/", body=body)
                statuses.append(c.getresponse().status)
            except (OSError, http.client.HTTPException):
                statuses.append(0)
            finally:
                c.close()
    finally:
        ctx.suite.signal_workers("sum", signal.SIGCONT)
    return "statuses " + ",".join(sorted(set(map(str, statuses))))


ATTACKS = [attack_pipeline_no_read, attack_half_close, attack_h2_amplification, attack_h2_zero_window,
           attack_h2_bodies, attack_h2_pings, attack_continuation_flood, attack_idle_burst,
           attack_framing, attack_stalled_worker]


class Context:
    def __init__(self, suite, idle):
        self.suite, self.idle = suite, idle
        self._big = None
        self.stall_lock = threading.Lock()

    def big_body(self):
        if self._big is None:
            self._big = json.dumps({"numbers": [4611686018427387904 + i for i in range(1_000_000)]}).encode()
        return self._big


def attacker(port, ctx, stats, stop, index):
    i = index
    while not stop.is_set():
        attack = ATTACKS[i % len(ATTACKS)]
        i += 1
        name = attack.__name__[len("attack_"):]
        if attack is attack_stalled_worker and not ctx.stall_lock.acquire(blocking=False):
            continue  # one attacker at a time stops the worker
        try:
            outcome = attack(port, ctx)
        except Exception as e:  # an attack's own failure is an outcome too, not the soak's end
            outcome = f"raised {type(e).__name__}"
        finally:
            if attack is attack_stalled_worker:
                ctx.stall_lock.release()
        with stats.lock:
            stats.attacks[name][outcome] += 1
        stop.wait(0.5)


# --- the run ---------------------------------------------------------------------------------

def main():
    args = parse_args()
    def on_sigterm(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_sigterm)
    settings = dict(kv.split("=", 1) for kv in args.set)
    idle = 10.0
    if "idle-timeout" in settings:
        v = settings["idle-timeout"].strip()
        idle = float(v[:-2]) / 1000 if v.endswith("ms") else float(v.rstrip("s"))
    extra = "".join(f"{k.strip()} = {v.strip()}\n" for k, v in settings.items())
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    suite = ProcessSuite(os.path.abspath(args.build_dir), mode="workers", extra_config=extra)
    stats, stop = Stats(), threading.Event()
    samples, cpu0 = [], {}
    rc = 0
    try:
        suite.get("/?n=1")
        pids = {"httpd": suite.frontend_pid(), "sum": suite.worker_pids("sum")[0],
                "square": suite.worker_pids("square")[0]}
        cpu0 = {k: proc_cpu_seconds(p) for k, p in pids.items()}
        ctx = Context(suite, idle)
        threads = [threading.Thread(target=good_client, args=(suite.port, stats, stop, args.seed + i), daemon=True)
                   for i in range(args.good)]
        threads += [threading.Thread(target=attacker, args=(suite.port, ctx, stats, stop, i * 3), daemon=True)
                    for i in range(args.hostile)]
        start = time.monotonic()
        for t in threads:
            t.start()
        next_sample = next_line = start
        last_cpu, last_t = dict(cpu0), start
        while True:
            now = time.monotonic()
            if now >= next_sample:
                rss = {k: proc_rss_kib(p) / 1024 for k, p in pids.items() if os.path.exists(f"/proc/{p}")}
                cpu = {k: proc_cpu_seconds(p) for k, p in pids.items() if os.path.exists(f"/proc/{p}")}
                pct = {k: 100 * (cpu[k] - last_cpu.get(k, cpu[k])) / max(now - last_t, 1e-9) for k in cpu}
                last_cpu, last_t = cpu, now
                samples.append((now - start, rss, pct, stats.answered))
                next_sample += args.sample
            if now >= next_line:
                rss = samples[-1][1]
                log(f"[{now - start:6.0f} s] httpd RSS {rss.get('httpd', 0):6.1f} MiB, sum {rss.get('sum', 0):5.1f}, "
                    f"square {rss.get('square', 0):5.1f}; answered {stats.answered}, wrong {len(stats.wrong)}, "
                    f"busy {sum(stats.busy.values())}, errors {sum(stats.errors.values())}, "
                    f"attacks {sum(sum(c.values()) for c in list(stats.attacks.values()))}")
                next_line += args.every
            if now - start >= args.duration:
                break
            time.sleep(max(0.0, min(next_sample, next_line, start + args.duration) - time.monotonic()))
        elapsed = time.monotonic() - start
        stop.set()
        for t in threads:
            t.join(30)
        cpu_end = {k: proc_cpu_seconds(p) for k, p in pids.items() if os.path.exists(f"/proc/{p}")}
        report(args, samples, cpu0, cpu_end, elapsed, stats)
        if stats.wrong:
            rc = 1
    except KeyboardInterrupt:
        rc = 130
    finally:
        stop.set()
        suite.signal_workers("sum", signal.SIGCONT)
        try:
            suite.close()
        except AssertionError as e:
            log(f"the suite did not stop cleanly: {str(e)[:2000]}")
            rc = rc or 1
    return rc


def report(args, samples, cpu0, cpu_end, elapsed, stats):
    print(f"# soak: {elapsed:.0f} s, workers mode, {args.good} well-behaved clients, {args.hostile} attackers"
          + (f", settings {' '.join(args.set)}" if args.set else ""))
    print()
    print("| t (s) | httpd RSS (MiB) | sum RSS (MiB) | square RSS (MiB) | httpd CPU % | sum CPU % | square CPU % | answered |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t, rss, pct, answered in samples:
        print(f"| {t:.0f} | {rss.get('httpd', 0):.1f} | {rss.get('sum', 0):.1f} | {rss.get('square', 0):.1f} | "
              f"{pct.get('httpd', 0):.0f} | {pct.get('sum', 0):.0f} | {pct.get('square', 0):.0f} | {answered} |")
    print()
    print("| daemon | CPU s | % of a core |")
    print("| --- | ---: | ---: |")
    for k in ("httpd", "sum", "square"):
        if k in cpu_end:
            used = cpu_end[k] - cpu0[k]
            print(f"| {k} | {used:.1f} | {100 * used / elapsed:.0f} |")
    print()
    print(f"requests answered exactly: {stats.answered} ({stats.answered / elapsed:.0f}/s)")
    print(f"wrong answers: {len(stats.wrong)}" + (f"; first: {stats.wrong[:3]}" if stats.wrong else ""))
    print(f"503/504 (a worker stopped on purpose, or queues full): {dict(stats.busy)}")
    print(f"connection errors of well-behaved clients: {dict(stats.errors)}")
    print()
    print("| attack | runs | outcomes |")
    print("| --- | ---: | --- |")
    for name in sorted(stats.attacks):
        outcomes = stats.attacks[name]
        print(f"| {name} | {sum(outcomes.values())} | " + ", ".join(f"{o}: {n}" for o, n in outcomes.most_common()) + " |")


if __name__ == "__main__":
    sys.exit(main())

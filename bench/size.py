#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""sqdiff's cost against the size of one request: 1 to 1,000,000 numbers, local and workers mode.

Random int64 numbers (fixed seed), GET up to --get-max numbers, POST {"numbers":[…]} beyond,
on one persistent HTTP/1.1 connection; each answer checked against Python's exact integers.
Prints a markdown table and writes bench/results/size.md and size.json. See bench/README.md.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import fmt_cpus, fmt_time_us, log  # noqa: E402

MODES = ("local", "workers")
DEFAULT_SIZES = "1,10,1000,100000,1000000"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES,
                    help=f"comma-separated numbers per request (default {DEFAULT_SIZES})")
    ap.add_argument("--modes", default=",".join(MODES), help="local,workers or one of them")
    ap.add_argument("--get-max", type=int, default=1000,
                    help="GET up to this many numbers, POST beyond (default 1000)")
    ap.add_argument("--budget", type=float, default=1.5,
                    help="seconds of timed requests per size and mode (default 1.5)")
    ap.add_argument("--min-reps", type=int, default=3, help="at least this many (default 3)")
    ap.add_argument("--max-reps", type=int, default=2000, help="at most this many (default 2000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--build-dir", default=common.DEFAULT_BUILD_DIR,
                    help="where the optimised sqdiff is built (default build-bench/)")
    ap.add_argument("--no-build", action="store_true", help="use --build-dir as it is")
    ap.add_argument("--progress", action="store_true",
                    help="a progress line on stderr even when it is not a terminal")
    args = ap.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    args.modes = [m for m in MODES if m in args.modes.split(",")]
    if not args.modes or min(args.sizes) < 1 or args.min_reps < 1:
        ap.error("need a mode of local,workers, sizes >= 1 and --min-reps >= 1")
    return args


# ---------------------------------------------------------------- requests

def random_numbers(size, seed):
    rng = random.Random(seed * 1_000_003 + size)
    return [rng.getrandbits(64) - 2**63 for _ in range(size)]


def expected_answer(numbers):
    sum_sq, sq_sum = sum(n * n for n in numbers), sum(numbers) ** 2
    return {"sum": sum_sq, "square": sq_sum, "diff": sq_sum - sum_sq}


def build_request(numbers, get_max):
    """(method, path, body, headers): GET with n=… when it fits, else a JSON POST."""
    if len(numbers) <= get_max:
        return "GET", "/?" + "&".join(f"n={n}" for n in numbers), None, {}
    body = ('{"numbers":[' + ",".join(map(str, numbers)) + "]}").encode()
    return "POST", "/", body, {"Content-Type": "application/json"}


def request_bytes(method, path, body):
    return len(path) if method == "GET" else len(body)


def send(conn, request):
    """One request on the persistent connection: (seconds, status, content type, body)."""
    method, path, body, headers = request
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    elapsed = time.perf_counter() - t0
    return elapsed, r.status, r.getheader("Content-Type", ""), data


# ---------------------------------------------------------------- measuring

def check_answer(status, ctype, body, expected):
    if status != 200 or ctype.split(";")[0].strip() != "application/json":
        raise AssertionError(f"status {status}, content type {ctype!r}: {body[:200]!r}")
    if json.loads(body) != expected:
        raise AssertionError(f"wrong answer {body[:200]!r}, expected {expected}")


def measure(server, request, expected, args):
    """timed_requests() on a new persistent connection; a server dying meanwhile says so."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    try:
        return timed_requests(conn, server, request, expected, args)
    except (OSError, http.client.HTTPException) as e:
        server.check_alive(grace=1)   # raises with the exit status and the server's log
        raise common.StartError(f"{server.name}: {e!r}") from None
    finally:
        conn.close()


def timed_requests(conn, server, request, expected, args):
    """A verified untimed request, then timed ones until --budget s (within --min/--max-reps),
    each answer byte-equal to the verified one. Also the server's CPU per request and memory."""
    _, status, ctype, first = send(conn, request)
    check_answer(status, ctype, first, expected)
    roots = [p.pid for p in server.procs]
    before = common.cpu_ticks(roots)
    times, spent = [], 0.0
    while len(times) < args.max_reps and (len(times) < args.min_reps or spent < args.budget):
        elapsed, status, ctype, body = send(conn, request)
        if status != 200 or body != first:
            raise AssertionError(f"{server.name}: answer changed: {status} {body[:200]!r}")
        times.append(elapsed)
        spent += elapsed
    after = common.cpu_ticks(roots)
    server.check_alive()
    return {
        "reps": len(times),
        "best_s": min(times),
        "median_s": statistics.median(times),
        "cpu_s_per_req": common.cpu_seconds_between(before, after) / len(times),
        "rss_kib": common.status_kib(list(after), "VmRSS"),
        "peak_rss_kib": common.status_kib(list(after), "VmHWM"),
    }


def run_sizes(servers, args):
    results = []
    progress = common.Progress(len(args.sizes) * len(args.modes), args.progress)
    for size in args.sizes:
        numbers = random_numbers(size, args.seed)
        expected = expected_answer(numbers)
        request = build_request(numbers, args.get_max)
        del numbers
        for mode in args.modes:
            progress.step(len(results), f"{mode}, {size:,} numbers")
            rec = {"mode": mode, "numbers": size, "method": request[0],
                   "request_bytes": request_bytes(*request[:3]),
                   **measure(servers[mode], request, expected, args)}
            rec["numbers_per_s"] = size / rec["median_s"]
            results.append(rec)
            log(f"{mode:<8} {size:>9,} numbers ({rec['method']}): median "
                f"{fmt_time_us(rec['median_s'] * 1e6)}, best {fmt_time_us(rec['best_s'] * 1e6)}, "
                f"{rec['numbers_per_s']:,.0f} numbers/s, {rec['reps']} reps")
    progress.done()
    return results


# ---------------------------------------------------------------- output

def fmt_bytes(n):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def markdown(meta, results):
    lines = [
        "# sqdiff: cost against request size",
        "",
        f"{meta['date']} · git {meta['git']} · {meta['cores']} cores ({meta['cpu']}) · "
        f"Linux {meta['kernel']} · load average {meta['loadavg_start'][0]:.2f} at start, "
        f"{meta['loadavg_end'][0]:.2f} at end · {meta['sqdiff']}",
        "",
        "One request at a time on one persistent HTTP/1.1 connection (Python http.client), random "
        "int64 numbers, each answer checked against Python's exact integers. Time: client-side "
        "round trip, building the request excluded; numbers/s from the median. CPU/req: user+sys "
        "of all the server's processes per request. RSS after the requests, peak RSS (VmHWM) so far; "
        "summed over the server's processes. The client runs on CPU "
        f"{meta['cpus']['load']}, the servers on CPU {fmt_cpus(meta['cpus']['servers'])} "
        f"(bench/README.md, \"CPUs\"); {common.fmt_idle(meta['idle'])} (\"Idle CPUs\" there).",
        "",
        "| mode | numbers | request | reps | median | best | numbers/s | CPU/req | RSS | peak RSS |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        lines.append(
            f"| {r['mode']} | {r['numbers']:,} | {r['method']} {fmt_bytes(r['request_bytes'])} "
            f"| {r['reps']} | {fmt_time_us(r['median_s'] * 1e6)} | {fmt_time_us(r['best_s'] * 1e6)} "
            f"| {r['numbers_per_s']:,.0f} | {fmt_time_us(r['cpu_s_per_req'] * 1e6)} "
            f"| {r['rss_kib'] / 1024:.1f} MiB | {r['peak_rss_kib'] / 1024:.1f} MiB |")
    if meta["stop_problems"]:
        lines += ["", "Stopping the servers:", ""] + [f"- {p}" for p in meta["stop_problems"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def server_options(args):
    """Limits high enough for the largest request, and time enough to answer it."""
    most = max(args.sizes)
    body = 32 * most + 64   # an int64 is at most 20 characters, and a comma
    return [f"--max-numbers={max(most, 1_000_000)}",
            f"--max-body-size={max(body, 64 << 20)}", "--request-timeout=60s"]


def main():
    common.exit_on_sigterm()
    args = parse_args()
    if not args.no_build:
        common.build_sqdiff(args.build_dir)
    probe = "/?n=1&n=2&n=3"
    probe_answer = b'{"sum":14,"square":36,"diff":22}'
    meta = common.machine_info()
    meta["sqdiff"] = common.command_version(
        [common.sqdiff_binary(args.build_dir, "sqdiff-httpd"), "--version"])
    meta["settings"] = {k: getattr(args, k) for k in (
        "sizes", "modes", "get_max", "budget", "min_reps", "max_reps", "seed", "build_dir")}
    meta["server_options"] = server_options(args)
    servers = {}
    try:
        meta["cpus"] = common.on_server_cpus()
        for mode in args.modes:
            servers[mode] = common.start_with_retry(
                common.start_sqdiff, f"sqdiff {mode}", args.build_dir, mode, probe,
                probe_answer, meta["server_options"])
            log(f"sqdiff {mode}: port {servers[mode].port}, answer verified")
        os.sched_setaffinity(0, {common.LOAD_CPU})  # this process is the client
        results = run_sizes(servers, args)
    finally:
        meta["stop_problems"] = common.stop_servers(list(servers.values()))
    meta["loadavg_end"] = os.getloadavg()
    md = markdown(meta, results)
    print(md, end="")
    common.write_results("size", md, {"meta": meta, "results": results})
    return 0


if __name__ == "__main__":
    common.run_main(main)

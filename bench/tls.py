#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""HTTPS side by side: sqdiff's TLS listener, nginx (listen ... ssl http2) and h2o standalone.

One certificate for all (ECDSA P-256, from a CA made here), the same URL and the same answer
(nginx and h2o serve a fixed copy of it), each server's CPU counted. Interleaved round by round,
four loads: keep-alive requests at 50 connections (wrk); one request per connection, each a new
TLS connection (wrk, "Connection: close": it resumes the session the connection before got, a
TLS 1.3 resumption each); full handshakes one at a time, each a new session (openssl s_time
-new); and HTTP/2 over TLS (h2load, ALPN). Prints a markdown table and writes
bench/results/tls.md and tls.json. See bench/README.md.
"""

import argparse
import functools
import http.client
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import bench  # noqa: E402
import common  # noqa: E402
from common import fmt_cpus, log  # noqa: E402
from tlsca import TestCA  # noqa: E402

SERVERS = ("local", "workers", "nginx", "h2o")
LABELS = {"local": "sqdiff local, HTTPS", "workers": "sqdiff workers, HTTPS", "nginx": "nginx, HTTPS",
          "h2o": "h2o, HTTPS"}
CONNECTIONS = 50
LOADS = ("keepalive", "handshakes", "full", "h2")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    ap.add_argument("--workers", type=int, default=len(common.SERVER_CPUS),
                    help="nginx worker processes and h2o threads (default: one per CPU the servers get)")
    ap.add_argument("--build-dir", default=common.DEFAULT_BUILD_DIR)
    ap.add_argument("--no-build", action="store_true", help="use the build dir as it is")
    return ap.parse_args()


def check_https(server, ca, expected):
    """Raises unless the server answers PATH over HTTPS with expected."""
    conn = http.client.HTTPSConnection("localhost", server.tls_port, timeout=10,
                                       context=ssl.create_default_context(cafile=ca.cert))
    try:
        conn.request("GET", bench.PATH)
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    if r.status != 200 or body != expected:
        raise common.StartError(f"{server.name} answers {r.status} {body[:200]!r} over HTTPS")


def start_sqdiff(workdir, name, args, mode, cert, key, expected):
    port = common.free_port()
    server = common.start_sqdiff(workdir, name, args.build_dir, mode, bench.PATH, expected, httpd_options=[
        f"--listen-tls=127.0.0.1:{port}", f"--tls-certificate={cert}", f"--tls-key={key}"])
    server.tls_port = port
    return server


def start_nginx(workdir, name, args, cert, key, expected):
    """nginx as its Mozilla "intermediate" configuration says, answering with the fixed body."""
    server = common.Server(name, workdir)
    server.tls_port = common.free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(common.nginx_config(workdir, server.tls_port, expected, args.workers, tls=(cert, key)))
    server.spawn(["/usr/sbin/nginx", "-p", workdir + "/", "-e", f"{workdir}/error.log", "-c", conf])
    return server


def start_h2o(workdir, name, args, cert, key, expected):
    """h2o standalone, the same library sqdiff embeds, serving the fixed body as a file."""
    server = common.Server(name, workdir)
    server.tls_port = common.free_port()
    docs = os.path.join(workdir, "docs")
    os.mkdir(docs)
    for d in (os.path.dirname(workdir), workdir):  # h2o serves as nobody: a way through, nothing to list
        os.chmod(d, 0o711)
    os.chmod(docs, 0o755)
    with open(os.path.join(docs, "index.html"), "wb") as f:
        f.write(expected)
    os.chmod(os.path.join(docs, "index.html"), 0o644)
    conf = os.path.join(workdir, "h2o.conf")
    with open(conf, "w") as f:
        f.write(f"""listen:
  host: 127.0.0.1
  port: {server.tls_port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    minimum-version: TLSv1.2
    ocsp-update-interval: 0
num-threads: {args.workers}
error-log: {workdir}/error.log
hosts:
  default:
    paths:
      /:
        file.dir: {docs}
""")
    server.spawn(["/usr/bin/h2o", "-c", conf])
    return server


def run_s_time(port, duration):
    """Full handshakes, one at a time, each a new session (openssl s_time -new): connections/s."""
    argv = [*common.ON_LOAD_CPU, "openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(duration)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"^(\d+) connections in (\d+) real seconds", r.stdout, re.M)
    if r.returncode != 0 or not m or int(m.group(2)) == 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return {"requests": int(m.group(1)), "rps": int(m.group(1)) / int(m.group(2))}


def run(load, server, args):
    before = common.cpu_ticks([p.pid for p in server.procs])
    if load == "full":
        rec = run_s_time(server.tls_port, args.duration)
    elif load == "h2":
        rec = bench.run_h2load(server.tls_port, args.duration, scheme="https")
    else:
        headers = ("Connection: close",) if load == "handshakes" else ()
        rec = bench.parse_wrk(bench.run_wrk(server.tls_port, CONNECTIONS, 1, args.duration, scheme="https",
                                            headers=headers))
    after = common.cpu_ticks([p.pid for p in server.procs])
    server.check_alive()
    done = rec.get("requests") or 0
    rec["cpu_us_per_req"] = common.cpu_seconds_between(before, after) * 1e6 / done if done else None
    return rec


def table(results):
    med = {(s, load): statistics.median(r["rps"] for r in rs) for (s, load), rs in results.items()}
    cpu = {(s, load): statistics.median(r["cpu_us_per_req"] for r in rs) for (s, load), rs in results.items()}
    lines = ["| server | keep-alive req/s | CPU µs/req | new connections/s | CPU µs/conn | full handshakes/s, "
             "one at a time | CPU µs/handshake | HTTP/2 req/s | CPU µs/req |",
             "| --- | --: | --: | --: | --: | --: | --: | --: | --: |"]
    for s in SERVERS:
        lines.append(f"| {LABELS[s]} | " + " | ".join(
            f"{med[s, load]:,.0f} | {cpu[s, load]:.1f}" for load in LOADS) + " |")
    goals = [("keep-alive req/s ≥ nginx's", med["local", "keepalive"] / med["nginx", "keepalive"], 1.0),
             ("new connections/s ≥ 0.9 × nginx's", med["local", "handshakes"] / med["nginx", "handshakes"], 0.9),
             ("full handshakes/s ≥ 0.9 × nginx's", med["local", "full"] / med["nginx", "full"], 0.9),
             ("HTTP/2 over TLS req/s ≥ h2o's", med["local", "h2"] / med["h2o", "h2"], 1.0)]
    lines += ["", "| target (sqdiff local) | ratio | |", "| --- | --: | --- |"]
    lines += [f"| {what} | ×{ratio:.2f} | {'met' if ratio >= bound else 'NOT met'} |" for what, ratio, bound in goals]
    return "\n".join(lines)


def main():
    args = parse_args()
    common.exit_on_sigterm()
    common.ensure_packages(["wrk", "nginx-light", "h2o", "nghttp2-client"])
    if not args.no_build:
        common.build_sqdiff(args.build_dir)
    expected = bench.expected_body(bench.NUMBERS)
    cpus = common.on_server_cpus()
    top = tempfile.mkdtemp(prefix="sqdiff-bench-tls-")
    ca = TestCA(os.path.join(top, "ca"))
    cert, key = ca.issue("server", 0x5D1F)
    servers = {}
    try:
        for name in SERVERS:
            workdir = os.path.join(top, name)
            os.mkdir(workdir)
            if name in ("local", "workers"):
                servers[name] = start_sqdiff(workdir, LABELS[name], args, name, cert, key, expected)
            else:
                start = start_nginx if name == "nginx" else start_h2o
                servers[name] = start(workdir, LABELS[name], args, cert, key, expected)
            servers[name].wait_until(functools.partial(check_https, servers[name], ca, expected))
        results = {}
        for r in range(args.rounds):
            for load in LOADS:
                # Each round starts a load with another server, so that none is always the first
                # after a change of load: sqdiff local, always first, did 939-971 full handshakes/s
                # in the three rounds of 78acf9b's run and 1,049-1,078/s when not first.
                for name in SERVERS[r % len(SERVERS):] + SERVERS[:r % len(SERVERS)]:
                    rec = run(load, servers[name], args)
                    results.setdefault((name, load), []).append(rec)
                    log(f"round {r + 1}: {name} {load}: {rec['rps']:,.0f}/s, {rec['cpu_us_per_req']:.1f} µs CPU")
            for name in SERVERS:
                check_https(servers[name], ca, expected)
        text = table(results)
        print(text)
        meta = {"machine": common.machine_info(), "revision": common.git_revision(), "rounds": args.rounds,
                "duration": args.duration, "workers": args.workers,
                "cpus": cpus}
        with open(os.path.join(common.RESULTS_DIR, "tls.md"), "w") as f:
            f.write(f"# HTTPS side by side\n\n{args.rounds} rounds of {args.duration} s, medians; "
                    f"{CONNECTIONS} connections; nginx {args.workers} workers, h2o {args.workers} threads; "
                    f"the load generators on CPU {cpus['load']}, the servers on CPU {fmt_cpus(cpus['servers'])}; "
                    f"{common.fmt_idle(meta['machine']['idle'])}; "
                    f"sqdiff {meta['revision']}.\n\n{text}\n")
        with open(os.path.join(common.RESULTS_DIR, "tls.json"), "w") as f:
            json.dump({"meta": meta, "runs": {f"{s}/{load}": rs for (s, load), rs in results.items()}}, f, indent=1)
    finally:
        for s in servers.values():
            for problem in s.stop():
                log(problem)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()

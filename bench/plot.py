#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Draws the benchmarks' results: bench/results/*.json in, PNG and SVG beside them.

Reads what bench.py and size.py wrote (latest.json, size.json) and draws, with Debian's
python3-matplotlib, without running anything:
  bench-throughput  requests/s and CPU per request of each server at each connection count:
                    the median of the rounds, the bar from the fastest to the slowest round;
  bench-latency     the latency percentiles (p50, p75, p90, p99) of each server at each
                    connection count, median of the rounds, bar from min to max;
  size              round-trip time and numbers/s against the numbers per request, log-log,
                    per mode: the median, and the best as a thinner line.
A file that is missing is skipped with a note; none at all is an error. See bench/README.md.

    bench/plot.py [--results bench/results] [--out DIR]
"""

import argparse
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the work tree

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "bench", "results")
LABELS = {"local": "sqdiff local", "metrics": "sqdiff local, scraped", "logged": "sqdiff local, access log",
          "workers": "sqdiff workers", "onecpu": "sqdiff workers, one CPU",
          "curve": "sqdiff tcp+CURVE", "proxy": "nginx → sqdiff local", "mongrel2": "Mongrel2 + C handler",
          "nginx": "nginx"}
# The same colour for a server in every picture; nginx is the grey reference.
COLOURS = {"local": "#1f77b4", "metrics": "#17becf", "logged": "#9467bd", "workers": "#d62728", "onecpu": "#8c564b", "curve": "#ff7f0e", "proxy": "#bcbd22", "mongrel2": "#e377c2", "nginx": "#7f7f7f"}
PERCENTILES = ("p50_us", "p75_us", "p90_us", "p99_us")
FORMATS = ("png", "svg")
ticker = None   # matplotlib.ticker, once imported


def plain_log_axis(axis):
    """A log axis labelled 1, 2, 5, 10, 20, 50 … in plain numbers, not powers of ten."""
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_minor_locator(ticker.LogLocator(base=10, subs=range(1, 10)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.10g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def thousands(axis):
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit("bench/plot.py: matplotlib is missing: apt-get install python3-matplotlib")
    matplotlib.use("Agg")   # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    global ticker
    ticker = matplotlib.ticker
    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3,
                         "svg.hashsalt": "sqdiff", "figure.dpi": 100,
                         "figure.constrained_layout.use": True})
    return plt


def save(plt, fig, out, stem):
    paths = []
    for fmt in FORMATS:
        path = os.path.join(out, f"{stem}.{fmt}")
        # No date in the files: the same results draw byte-identical pictures.
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, bbox_inches="tight", dpi=110, metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def subtitle(meta):
    load = meta.get("loadavg_start", [0])[0]
    return (f"{meta.get('date', '?')[:16].replace('T', ' ')} · git {meta.get('git', '?')} · "
            f"{meta.get('cores', '?')} cores ({meta.get('cpu', '?')}) · load {load:.2f} at start")


def spread(values):
    """(median, median - min, max - median): a point and its error bar."""
    m = statistics.median(values)
    return m, m - min(values), max(values) - m


def runs_of(data, server, conns, key):
    return [r[key] for r in data["runs"]
            if r["server"] == server and r["conns"] == conns and r.get(key) is not None]


def grouped_bars(ax, data, servers, conns_list, key, scale=1.0):
    """One group of bars per connection count, one bar per server, with the rounds' spread."""
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        xs, ys, lo, hi = [], [], [], []
        for j, conns in enumerate(conns_list):
            values = [v * scale for v in runs_of(data, server, conns, key)]
            if not values:
                continue
            m, dlo, dhi = spread(values)
            xs.append(j + (i - (len(servers) - 1) / 2) * width)
            ys.append(m)
            lo.append(dlo)
            hi.append(dhi)
        bars = ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=3, label=LABELS.get(server, server),
                      color=COLOURS.get(server), error_kw={"elinewidth": 1, "ecolor": "black"})
        for bar, y, top in zip(bars, ys, hi):
            # Above the whisker, so that the figure stays readable.
            ax.annotate(f"{y:,.0f}" if y >= 100 else f"{y:.1f}",
                        (bar.get_x() + bar.get_width() / 2, y + top), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(conns_list)))
    ax.set_xticklabels([f"{c} connection{'s' if c != 1 else ''}" for c in conns_list])
    ax.grid(axis="x", visible=False)


def plot_bench(plt, data, out):
    servers = [s for s in data["meta"]["settings"]["servers"]]
    conns_list = data["meta"]["settings"]["connections"]
    rounds = data["meta"]["settings"]["rounds"]
    paths = []

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    grouped_bars(ax1, data, servers, conns_list, "rps")
    thousands(ax1.yaxis)
    ax1.set_ylabel("requests/s (higher is better)")
    ax1.set_title("Throughput")
    ax1.legend(loc="upper left")
    grouped_bars(ax2, data, servers, conns_list, "cpu_us_per_req")
    ax2.set_ylabel("server CPU per request, µs (lower is better)")
    ax2.set_title("CPU per request (all the server's processes)")
    fig.suptitle(f"sqdiff against nginx under wrk: median of {rounds} rounds, "
                 f"bars from min to max\n{subtitle(data['meta'])}", fontsize=10)
    paths += save(plt, fig, out, "bench-throughput")

    fig, axes = plt.subplots(1, len(conns_list), figsize=(5.5 * len(conns_list), 4.2), squeeze=False)
    xs = range(len(PERCENTILES))
    for ax, conns in zip(axes[0], conns_list):
        for server in servers:
            pts = [spread(runs_of(data, server, conns, p)) if runs_of(data, server, conns, p) else None
                   for p in PERCENTILES]
            keep = [(x, p) for x, p in zip(xs, pts) if p is not None]
            if not keep:
                continue
            ax.errorbar([x for x, _ in keep], [p[0] for _, p in keep],
                        yerr=[[p[1] for _, p in keep], [p[2] for _, p in keep]],
                        marker="o", capsize=3, label=LABELS.get(server, server),
                        color=COLOURS.get(server))
        ax.set_xticks(list(xs))
        ax.set_xticklabels([p.split("_")[0] for p in PERCENTILES])
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
        ax.set_ylabel("latency, µs (log)")
        ax.set_title(f"{conns} connection{'s' if conns != 1 else ''}")
        ax.legend(loc="upper left")
    fig.suptitle(f"Latency percentiles (wrk): median of {rounds} rounds, bars from min to max\n"
                 f"{subtitle(data['meta'])}", fontsize=10)
    paths += save(plt, fig, out, "bench-latency")
    return paths


def plot_size(plt, data, out):
    results = data["results"]
    modes = [m for m in data["meta"]["settings"]["modes"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode in modes:
        rows = sorted((r for r in results if r["mode"] == mode), key=lambda r: r["numbers"])
        if not rows:
            continue
        n = [r["numbers"] for r in rows]
        colour = COLOURS.get(mode)
        ax1.plot(n, [r["median_s"] * 1e3 for r in rows], marker="o", color=colour,
                 label=f"{LABELS[mode]}, median")
        ax1.plot(n, [r["best_s"] * 1e3 for r in rows], linestyle=":", color=colour,
                 label=f"{LABELS[mode]}, best")
        ax2.plot(n, [r["numbers_per_s"] for r in rows], marker="o", color=colour,
                 label=LABELS[mode])
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("numbers per request (log)")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(loc="upper left")
    plain_log_axis(ax1.yaxis)
    ax1.set_ylabel("round-trip time per request, ms (log)")
    ax1.set_title("Time against request size")
    ax2.set_ylabel("numbers/s (log; median time)")
    ax2.set_title("Throughput against request size")
    fig.suptitle(f"sqdiff: cost against request size, one request at a time\n"
                 f"{subtitle(data['meta'])}", fontsize=10)
    return save(plt, fig, out, "size")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=RESULTS_DIR,
                    help="where latest.json and size.json are (default bench/results)")
    ap.add_argument("--out", help="where the pictures go (default: the --results directory)")
    args = ap.parse_args()
    out = args.out or args.results
    os.makedirs(out, exist_ok=True)
    bench = load(os.path.join(args.results, "latest.json"))
    size = load(os.path.join(args.results, "size.json"))
    if bench is None and size is None:
        sys.exit(f"bench/plot.py: neither latest.json nor size.json in {args.results}")
    plt = pyplot()
    paths = []
    for name, data, draw in (("latest.json", bench, plot_bench), ("size.json", size, plot_size)):
        if data is None:
            log(f"plot: no {name} in {args.results}, skipped")
        else:
            paths += draw(plt, data, out)
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())

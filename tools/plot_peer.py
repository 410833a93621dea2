#!/usr/bin/env python3
"""plot_peer.py — protostar against llama.cpp, from make bench-peer's CSV (no plotting library).

    python3 tools/plot_peer.py build/bench-peer/bench-peer.csv build/bench-peer/bench-peer.svg [BUILD]

Two panels, decode and prefill: for each format, one bar per thread count, the height protostar's
tokens per second divided by llama.cpp's (BUILD: which llama.cpp build; default the one without
AMX when there is one, else the first). The line at 1.0 is parity: above it protostar is faster.
With several depths (DEPTH=0,4096) the first is drawn; with several rounds (ROUNDS=3), each
bar is the median of the rounds' ratios.
"""
import csv
import statistics
import sys

from atomic_write import replacing

W, H, PAD, TOP = 900, 380, 50, 40
SHADES = ["#9ecae1", "#4292c6", "#08519c", "#08306b"]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    rows = list(csv.DictReader(open(sys.argv[1])))
    builds = list(dict.fromkeys(r["build"] for r in rows if r["engine"] == "llama.cpp"))
    if not builds:
        sys.exit("plot_peer: no llama.cpp rows in " + sys.argv[1])
    build = sys.argv[3] if len(sys.argv) == 4 else ("noamx" if "noamx" in builds else builds[0])
    depth = min(r.get("depth", "0") for r in rows)
    rows = [r for r in rows if r.get("depth", "0") == depth]
    key = lambda r: (r["format"], int(r["threads"]), r["test"], r.get("round", "1"))
    ps = {key(r): float(r["tokens_per_s"]) for r in rows if r["engine"] == "protostar"}
    ll = {key(r): float(r["tokens_per_s"]) for r in rows if r["engine"] == "llama.cpp" and r["build"] == build}
    formats = list(dict.fromkeys(k[0] for k in ps))
    threads = sorted(set(k[1] for k in ps))
    tests = sorted(set(k[2] for k in ps), key=lambda t: (t[:2] != "tg", t))   # decode first
    by_cell = {}   # a cell's ratio in each round; drawn: their median
    for k in ps:
        if k in ll and ll[k] > 0:
            by_cell.setdefault(k[:3], []).append(ps[k] / ll[k])
    ratios = {k: statistics.median(v) for k, v in by_cell.items()}
    top = max([1.2] + [v * 1.1 for v in ratios.values()])
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>']
    panel_w = (W - PAD) / len(tests)
    for p, test in enumerate(tests):
        x0, y0, h = PAD + p * panel_w, TOP, H - TOP - PAD
        label = ("decode" if test.startswith("tg") else "prefill") + " (%s)" % test
        out.append('<text x="%.0f" y="%d" text-anchor="middle" font-weight="bold">%s, protostar / llama.cpp %s</text>'
                   % (x0 + panel_w / 2, TOP - 15, label, build))
        y = lambda v: y0 + h - v / top * h
        out.append('<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#d62728" stroke-dasharray="4"/>'
                   % (x0, y(1.0), x0 + panel_w - 20, y(1.0)))
        if p == 0:
            out.append('<text x="%.0f" y="%.1f" text-anchor="end" fill="#d62728">1.0</text>' % (x0 - 4, y(1.0) + 4))
        group = (panel_w - 20) / max(1, len(formats))
        bar = group * 0.8 / max(1, len(threads))
        for f_i, f in enumerate(formats):
            gx = x0 + f_i * group + group * 0.1
            for t_i, t in enumerate(threads):
                v = ratios.get((f, t, test))
                if v is None:
                    continue
                bx = gx + t_i * bar
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %d threads: %.2fx</title></rect>'
                           % (bx, y(v), bar - 2, y0 + h - y(v), SHADES[t_i % len(SHADES)], f, t, v))
                out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>' % (bx + bar / 2 - 1, y(v) - 3, v))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (gx + group * 0.4, y0 + h + 15, f))
    for t_i, t in enumerate(threads):   # legend
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%d thread%s</text>'
                   % (PAD + t_i * 110, H - 20, SHADES[t_i % len(SHADES)], PAD + t_i * 110 + 16, H - 10, t, "" if t == 1 else "s"))
    out.append("</svg>")
    with replacing(sys.argv[2], "w") as f:   # the figure appears whole or not at all
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""plot_kvcache.py — the chapter's plot from bench_kvcache's table (no plotting library needed).

    build/tools/bench_kvcache --csv build/bench/kvcache.csv
    python3 tools/plot_kvcache.py build/bench/kvcache.csv book/img/m4-kvcache.svg

Left panel: positions 0..31, uncached (grows linearly) against cached (flat). Right panel: the
cached step up to position 4095 (log scale), where attention over the cache starts to show.
"""
import csv
import math
import sys

from atomic_write import replacing

W, H, PAD = 900, 420, 60
COLORS = {"uncached_1": "#d62728", "uncached_2": "#ff9896", "cached_1": "#1f77b4", "cached_2": "#aec7e8"}
LABELS = {"uncached_1": "no cache, 1 thread", "uncached_2": "no cache, 2 threads",
          "cached_1": "KV cache, 1 thread", "cached_2": "KV cache, 2 threads"}


def read(path):
    rows = list(csv.DictReader(open(path)))
    series = {k: [] for k in COLORS}
    for r in rows:
        for k in COLORS:
            if r[k] not in ("-", ""):
                series[k].append((int(r["position"]), float(r[k])))
    return series


def panel(out, x0, width, series, keys, xmax, xlog, title):
    y0, height = 50, 260
    top = max(v for k in keys for p, v in series[k] if p <= xmax)
    step = 10 ** math.floor(math.log10(top))
    ymax = next(m * step for m in (1, 2, 5, 10) if m * step >= top)  # a round top for the axis

    def sx(p):
        if xlog:
            return x0 + width * math.log2(p + 1) / math.log2(xmax + 1)
        return x0 + width * p / xmax

    def sy(v):
        return y0 + height - height * v / ymax

    out.append(f'<text x="{x0 + width / 2}" y="{y0 - 15}" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="none" stroke="#888"/>')
    for i in range(6):  # y grid
        v = ymax * i / 5
        out.append(f'<line x1="{x0}" y1="{sy(v):.1f}" x2="{x0 + width}" y2="{sy(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>')
    ticks = [0, 1, 3, 7, 15, 31, 255, 1023, 4095] if xlog else [0, 8, 16, 24, 32]
    for p in ticks:
        if p <= xmax:
            out.append(f'<text x="{sx(p):.1f}" y="{y0 + height + 16}" text-anchor="middle" font-size="11">{p}</text>')
    out.append(f'<text x="{x0 + width / 2}" y="{y0 + height + 36}" text-anchor="middle" font-size="12">'
               f'position of the new token{" (log scale)" if xlog else ""}</text>')
    out.append(f'<text x="{x0 - 45}" y="{y0 + height / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {x0 - 45} {y0 + height / 2})">ms per token</text>')
    for k in keys:
        pts = [(sx(p), sy(v)) for p, v in series[k] if p <= xmax]
        if not pts:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[k]}" stroke-width="2.5"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[k]}"/>')


def main():
    src, dst = sys.argv[1], sys.argv[2]
    series = read(src)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    half = (W - 3 * PAD) / 2
    panel(out, PAD, half, series, list(COLORS), 32, False, "Decode step, positions 0-31")
    panel(out, 2 * PAD + half + 20, half - 20, series, ["cached_1", "cached_2"], 4095, True,
          "With the cache, up to 4095")
    for i, k in enumerate(COLORS):  # legend
        x, y = PAD + 10 + (i % 2) * 190, H - 36 + (i // 2) * 16
        out.append(f'<rect x="{x}" y="{y - 9}" width="14" height="10" fill="{COLORS[k]}"/>')
        out.append(f'<text x="{x + 20}" y="{y}" font-size="12">{LABELS[k]}</text>')
    out.append("</svg>")
    with replacing(dst, "w") as f:   # the figure appears whole or not at all
        f.write("\n".join(out) + "\n")
    print("wrote", dst)


if __name__ == "__main__":
    main()

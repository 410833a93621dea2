#!/usr/bin/env python3
"""plot_samplers.py — the M3 chapter's picture of what each sampler leaves of a distribution.

    python3 tools/plot_samplers.py golden/m3/samplers.psg book/img/m3-samplers.svg

Reads the golden logits x0 (64 tokens) and Hugging Face's filtered versions of them from the
golden file (so the picture shows HF's behaviour, not ours), and draws the probabilities, tokens
sorted by their original logit, one panel per sampler. Plain Python, no libraries.
"""
import math
import struct
import sys

SIZES = {"f32": 4, "f16": 2, "i32": 4, "u8": 1}


def read_psg(path):
    data = open(path, "rb").read()
    tensors, pos = {}, 0
    header = []
    while True:
        end = data.index(b"\n", pos)
        line = data[pos:end].decode()
        pos = end + 1
        if line == "end":
            break
        header.append(line)
    for line in header:
        if not line.startswith("tensor "):
            continue
        _, name, dtype, ndim, *dims = line.split()
        count = math.prod(int(d) for d in dims) if int(ndim) else 1
        raw = data[pos:pos + count * SIZES[dtype]]
        pos += count * SIZES[dtype]
        fmt = {"f32": "f", "i32": "i", "u8": "B"}[dtype]
        tensors[name] = list(struct.unpack(f"<{count}{fmt}", raw))
    return tensors


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) if x != -math.inf else 0.0 for x in xs]
    s = sum(e)
    return [v / s for v in e]


def find_case(t, kind, param_index, value, inp=0):
    for c in range(t["ncases"][0]):
        if (t[f"case{c}.kind"][0] == kind and t[f"case{c}.input"][0] == inp
                and abs(t[f"case{c}.params"][param_index] - value) < 1e-6):
            return t[f"case{c}.out"]
    raise KeyError((kind, value))


def main():
    t = read_psg(sys.argv[1])
    x = t["x0"]
    order = sorted(range(len(x)), key=lambda i: -x[i])
    panels = [("softmax(logits): T = 1, no filter", x),
              ("temperature 0.5 (sharper)", find_case(t, 1, 0, 0.5)),
              ("temperature 1.5 (flatter)", find_case(t, 1, 0, 1.5)),
              ("top-k 10", find_case(t, 2, 1, 10)),
              ("top-p 0.75", find_case(t, 3, 2, 0.75)),
              ("min-p 0.125", find_case(t, 4, 3, 0.125))]
    W, H, cols = 960, 520, 3
    pw, ph = 280, 170
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    ymax = 1.0
    for k, (title, logits) in enumerate(panels):
        p = softmax(logits)
        x0, y0 = 40 + (k % cols) * (pw + 40), 40 + (k // cols) * (ph + 70)
        kept = sum(1 for v in logits if v != -math.inf)
        out.append(f'<text x="{x0 + pw / 2}" y="{y0 - 10}" text-anchor="middle" font-size="13" '
                   f'font-weight="bold">{title}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        bw = pw / len(order)
        for j, i in enumerate(order):
            h = ph * min(p[i], ymax) / ymax
            color = "#1f77b4" if logits[i] != -math.inf else "#ccc"
            out.append(f'<rect x="{x0 + j * bw:.1f}" y="{y0 + ph - h:.1f}" width="{bw * 0.8:.1f}" '
                       f'height="{max(h, 0.5):.1f}" fill="{color}"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 16}" text-anchor="middle" font-size="11">'
                   f'{kept} of {len(order)} tokens kept; top prob {max(p):.2f}</text>')
        for v in (0, 0.5, 1):
            out.append(f'<text x="{x0 - 4}" y="{y0 + ph - ph * v / ymax + 4:.1f}" text-anchor="end" '
                       f'font-size="10">{v:g}</text>')
    out.append(f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">tokens sorted by '
               f'their original logit (golden x0, 64 tokens); bars: probability after the sampler, as '
               f'Hugging Face computes it</text>')
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()

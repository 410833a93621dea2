#!/usr/bin/env python3
"""plot_samplers.py — the M3 chapter's picture of what each sampler leaves of a distribution.

    python3 tools/plot_samplers.py golden/m3/samplers.psg book/img/m3-samplers.svg

Reads the golden logits x0 (64 tokens) and Hugging Face's filtered versions of them from the
golden file (so the picture shows HF's behaviour, not ours), and draws the probabilities of the top
15 tokens, sorted by their original logit, one panel per sampler; a token a filter removed is drawn
hatched at the probability it had before. Plain Python, no libraries; tools/figures/draw_figures.py
calls draw() too (make figures), and make test checks that the committed SVG is what it draws.
"""
import math
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"))
from atomic_write import replacing  # noqa: E402 (beside this script)

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


PANELS_SHOWN = 15   # the top tokens drawn in each panel (of the 64 in the golden)


def draw(t):
    """The figure as SVG text: six panels, the top PANELS_SHOWN tokens each, square-root y scale."""
    from svgkit import BLUE, GREY, MUTED, Svg, num   # tools/figures/svgkit.py
    x = t["x0"]
    order = sorted(range(len(x)), key=lambda i: -x[i])[:PANELS_SHOWN]
    panels = [("no sampler: softmax(logits)", x),
              ("temperature 0.5 (sharper)", find_case(t, 1, 0, 0.5)),
              ("temperature 1.5 (flatter)", find_case(t, 1, 0, 1.5)),
              ("top-k 10", find_case(t, 2, 1, 10)),
              ("top-p 0.75", find_case(t, 3, 2, 0.75)),
              ("min-p 0.125", find_case(t, 4, 3, 0.125))]
    before = softmax(x)   # every filter panel filters x0 at temperature 1
    pw, ph, top = 226, 150, 104
    s = Svg(600, top + 3 * (ph + 92) + 22, "What each sampler leaves of one distribution")
    s.text(300, 28, "What each sampler leaves of one distribution", 18, "middle", "bold")
    s.rect(120, 44, 16, 14, BLUE, rx=0)
    s.text(142, 56, "kept: its probability after the sampler", 13)
    s.add(f'<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
          f'patternTransform="rotate(45)"><rect width="5" height="5" fill="#f4f4f4"/>'
          f'<line x1="0" y1="0" x2="0" y2="5" stroke="#9a9a9a" stroke-width="1.6"/></pattern></defs>')
    s.rect(120, 66, 16, 14, GREY, rx=0, dash="3 2", fill="url(#hatch)")
    s.text(142, 78, "removed: the probability it had before the filter", 13)
    ticks = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1]

    def sy(y0, v):   # square-root scale: small probabilities stay visible next to a 0.6 one
        return y0 + ph - ph * math.sqrt(max(v, 0.0))

    for k, (title, logits) in enumerate(panels):
        p = softmax(logits)
        x0, y0 = 62 + (k % 2) * (pw + 78), top + 24 + (k // 2) * (ph + 92)
        kept = sum(1 for v in logits if v != -math.inf)
        s.text(x0 + pw / 2, y0 - 10, title, 14, "middle", "bold")
        for v in ticks:
            s.line(x0, sy(y0, v), x0 + pw, sy(y0, v), "#e4e4e4", 1)
            s.text(x0 - 5, sy(y0, v) + 4, f"{v:g}", 12, "end", color=MUTED)
        s.line(x0, y0 + ph, x0 + pw, y0 + ph, "#888888", 1)
        bw = pw / PANELS_SHOWN
        for j, i in enumerate(order):
            bx = x0 + j * bw + 1.5
            if logits[i] != -math.inf:
                s.rect(bx, sy(y0, p[i]), bw - 3, y0 + ph - sy(y0, p[i]), BLUE, rx=0, stroke_width=0.8)
            else:
                s.rect(bx, sy(y0, before[i]), bw - 3, y0 + ph - sy(y0, before[i]), GREY, rx=0,
                       dash="3 2", stroke_width=0.8, fill="url(#hatch)")
        for j in (0, 4, 9, 14):
            s.text(x0 + (j + 0.5) * bw, y0 + ph + 14, str(j + 1), 11, "middle", color=MUTED)
        s.text(x0 + pw / 2, y0 + ph + 32, f"kept {kept} of {len(x)} tokens · top probability {max(p):.2f}",
               12, "middle")
        s.add(f'<text x="{num(x0 - 34)}" y="{num(y0 + ph / 2)}" font-size="12" fill="{MUTED}" '
              f'text-anchor="middle" transform="rotate(-90 {num(x0 - 34)} {num(y0 + ph / 2)})">'
              f'probability</text>')
    s.text(300, s.h - 34, f"x: the top {PANELS_SHOWN} of {len(x)} tokens by their original logit (golden x0); "
           "y: square-root scale.", 12, "middle", color=MUTED)
    s.text(300, s.h - 16, "The probabilities are Hugging Face's: its logits processors made the golden file.",
           12, "middle", color=MUTED)
    return s.render()


def main():
    t = read_psg(sys.argv[1])
    with replacing(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
        f.write(draw(t))
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()

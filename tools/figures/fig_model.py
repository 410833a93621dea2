"""fig_model.py — the forward pass (M2): the Qwen3 block, GQA head sharing, the RoPE pair rotation.

Shapes are Qwen3-0.6B's (tools/synth.c's qwen3-0.6b-shape preset, solutions/m1-weights/config.h):
hidden 1024, 16 query heads, 8 KV heads, head_dim 128, intermediate 3072, 28 layers.
"""
import math

from svgkit import BLUE, GREEN, GREY, INK, MUTED, ORANGE, PURPLE, TEAL, Svg

DIM, N_HEADS, N_KV, HEAD_DIM, FFN, VOCAB, LAYERS, THETA = 1024, 16, 8, 128, 3072, 151936, 28, 1e6


def block_figure():
    s = Svg(600, 930, "The Qwen3 transformer block with Qwen3-0.6B's tensor shapes")
    s.text(300, 30, "One Qwen3 block (Qwen3-0.6B, n tokens)", 18, "middle", "bold")
    spine = 60

    def shape(x, y, t):
        s.text(x, y, t, 12, color=MUTED)

    def down(x, y1, y2, label=None):
        s.arrow(x, y1, x, y2)
        if label:
            shape(x + 6, (y1 + y2) / 2 + 4, label)

    def plus(y):
        s.circle(spine, y, 11, GREY, 1.4)
        s.text(spine, y + 6, "+", 18, "middle", "bold")

    def add_back(x, y, plus_y, half):
        """A half's output, from (x, y) on its last box's left edge, added into the stream at plus_y."""
        s.line(x, y, spine + 20, y)
        s.path(f"M {spine + 20} {y} Q {spine} {y} {spine} {plus_y - 14}", MUTED, 1.4, arrow=True)
        shape(110, y - 6, "[n × 1024]")
        plus(plus_y)
        s.text(spine + 18, plus_y + 5, f"x = x + {half}", 12, color=MUTED)

    # the residual stream
    s.text(spine - 8, 62, "x  [n × 1024]", 13, weight="bold")
    s.text(spine - 8, 78, "the residual stream", 12, color=MUTED)
    s.line(spine, 86, spine, 498, INK, 2.5)
    s.line(spine, 520, spine, 884, INK, 2.5)
    s.arrow(spine, 880, spine, 892, INK, 1.4)
    s.text(spine + 10, 900, "x  [n × 1024] → next block", 13, weight="bold")

    # attention half
    s.line(spine, 108, 150, 108)
    s.arrow(150, 108, 150, 112)
    s.box(110, 110, 330, 40, "RMSNorm", PURPLE, 14, sub="input_layernorm [1024]", sub_size=11)
    cols = {"q": 170, "k": 300, "v": 430}
    for name, cx in cols.items():
        s.line(275, 148, cx, 166)
        s.arrow(cx, 166, cx, 172)
        w = "2048 × 1024" if name == "q" else "1024 × 1024"
        s.box(cx - 58, 172, 116, 40, f"{name}_proj", BLUE, 14, sub=w)
    shape(cols["q"] - 56, 226, "[n × 16 × 128]")
    shape(cols["k"] - 52, 226, "[n × 8 × 128]")
    for name in ("q", "k"):
        cx = cols[name]
        s.arrow(cx, 230, cx, 240)
        s.box(cx - 58, 240, 116, 36, "QK-norm", PURPLE, 13, sub=f"{name}_norm [128]", sub_size=11)
        s.arrow(cx, 276, cx, 290)
        s.box(cx - 58, 290, 116, 32, "RoPE (pos)", ORANGE, 13)
        s.arrow(cx, 322, cx, 346)
    s.arrow(cols["v"], 212, cols["v"], 346)
    shape(cols["v"] + 6, 290, "[n × 8 × 128]")
    s.box(110, 346, 380, 46, "causal attention", TEAL, 15, sub="16 query heads share 8 KV heads (GQA)")
    down(300, 392, 414, "[n × 16 × 128]")
    s.box(240, 414, 120, 40, "o_proj", BLUE, 14, sub="1024 × 2048")
    add_back(240, 434, 509, "attention")

    # MLP half
    s.line(spine, 556, 150, 556)
    s.arrow(150, 556, 150, 560)
    s.box(110, 558, 330, 40, "RMSNorm", PURPLE, 14, sub="post_attention_layernorm [1024]", sub_size=11)
    for name, cx in (("gate_proj", 190), ("up_proj", 370)):
        s.line(275, 596, cx, 614)
        s.arrow(cx, 614, cx, 620)
        s.box(cx - 66, 620, 132, 40, name, GREEN, 14, sub="3072 × 1024")
        s.line(cx, 660, cx, 680)
        shape(cx + 6, 676, "[n × 3072]")
        s.arrow(cx, 680, 280 + (cx - 280) * 0.3, 700)
    s.box(150, 700, 260, 40, "SiLU(gate) ⊙ up", GREEN, 15, sub="element by element")
    down(280, 740, 770, "[n × 3072]")
    s.box(214, 770, 132, 40, "down_proj", GREEN, 14, sub="1024 × 3072")
    add_back(214, 790, 843, "MLP")

    s.text(590, 882, f"× {LAYERS} blocks, then RMSNorm (model.norm)", 13, "end")
    s.text(590, 900, f"and lm_head: logits [n × {VOCAB:,}]", 13, "end")
    return s


def gqa_figure():
    s = Svg(600, 450, "Grouped-query attention: 16 query heads read 8 KV heads")
    s.text(300, 30, "GQA: 16 query heads, 8 key/value heads", 18, "middle", "bold")
    s.text(300, 52, "query head i reads KV head ⌊i / 2⌋ (16 / 8 = 2 query heads per KV head)",
           13, "middle", color=MUTED)
    palette = [BLUE, ORANGE, GREEN, PURPLE, TEAL, GREY, BLUE, ORANGE]
    qw, gap, x0 = 32, 4, 12
    s.text(x0, 82, f"q: [{N_HEADS} × {HEAD_DIM}] per token", 13, weight="bold")
    for i in range(N_HEADS):
        x = x0 + 8 + i * (qw + gap)
        s.box(x, 92, qw, 36, f"{i}", palette[i // 2], 13)
    kw = 2 * qw + gap
    s.text(x0, 282, f"k, v: [{N_KV} × {HEAD_DIM}] per token and position", 13, weight="bold")
    for j in range(N_KV):
        x = x0 + 8 + j * 2 * (qw + gap)
        s.box(x, 216, kw, 44, f"kv {j}", palette[j], 13, sub="K, V")
        for i in (2 * j, 2 * j + 1):
            qx = x0 + 8 + i * (qw + gap) + qw / 2
            s.arrow(qx, 128, x + kw / 2, 214, palette[j][0], 1.3)
    # one head's computation, spelled out
    y = 306
    s.line(12, y - 8, 588, y - 8, "#cccccc")
    s.text(16, y + 14, "For query head 5 (so KV head 2), at position t:", 14, weight="bold")
    rows = [("score[j] = q5 · k2[j] / √128", "for every position j ≤ t"),
            ("p = softmax(score)", "causal: j > t is never seen"),
            ("out5 = Σ p[j] · v2[j]", "128 values; 16 heads → 2048")]
    for i, (formula, note) in enumerate(rows):
        s.text(28, y + 42 + i * 24, formula, 14, mono=True)
        s.text(330, y + 42 + i * 24, note, 13, color=MUTED)
    s.text(300, y + 126, "With 8 KV heads instead of 16, K and V, and all that stores them, are half as large.", 13,
           "middle", color=MUTED)
    return s


def rope_figure():
    s = Svg(600, 520, "RoPE rotates the pair (x_i, x_{i+64}) of a head by pos times theta_i")
    s.text(300, 30, "RoPE: rotate each pair (xᵢ, xᵢ₊₆₄) by pos · θᵢ", 18, "middle", "bold")
    s.text(300, 52, "one head of 128 values; Qwen3 pairs i with i + 64 (\"rotate half\")", 13, "middle",
           color=MUTED)
    # the head as two halves, the pair joined by an arc
    x0, y0, cw = 40, 104, 520 / 16
    for c in range(16):
        colors = ORANGE if c in (3, 11) else (BLUE if c < 8 else GREEN)
        s.rect(x0 + c * cw, y0, cw, 28, colors, rx=0)
    s.text(x0 + 3.5 * cw, y0 + 19, "xᵢ", 13, "middle", "bold")
    s.text(x0 + 11.5 * cw, y0 + 19, "xᵢ₊₆₄", 12, "middle", "bold")
    s.text(x0, y0 + 46, "0", 12, color=MUTED)
    s.text(x0 + 8 * cw, y0 + 46, "64", 12, "middle", color=MUTED)
    s.text(x0 + 16 * cw, y0 + 46, "127", 12, "end", color=MUTED)
    s.text(x0 + 4 * cw, y0 + 46, "first half: a", 12, "middle", color=BLUE[0])
    s.text(x0 + 12 * cw, y0 + 46, "second half: b", 12, "middle", color=GREEN[0])
    ax, bx = x0 + 3.5 * cw, x0 + 11.5 * cw
    s.path(f"M {ax} {y0} C {ax} {y0 - 26}, {bx} {y0 - 26}, {bx} {y0}", ORANGE[0], 1.6)
    s.text((ax + bx) / 2, y0 - 26, "one pair, i = 0 … 63", 12, "middle", color=ORANGE[0])
    # the rotation in the plane of the pair
    cx, cy, r = 150, 330, 110
    s.line(cx - r - 20, cy, cx + r + 20, cy, "#999999")
    s.line(cx, cy + r + 20, cx, cy - r - 20, "#999999")
    s.text(cx + r + 22, cy + 16, "a = xᵢ", 13, "end", color=BLUE[0])
    s.text(cx - 6, cy - r - 8, "b = xᵢ₊₆₄", 13, "end", color=GREEN[0])
    s.path(f"M {cx + r} {cy} A {r} {r} 0 0 0 {cx - r} {cy} A {r} {r} 0 0 0 {cx + r} {cy}", "#dddddd", 1)
    a0, turn = math.radians(15), math.radians(50)
    px, py = cx + r * math.cos(a0), cy - r * math.sin(a0)
    qx, qy = cx + r * math.cos(a0 + turn), cy - r * math.sin(a0 + turn)
    s.arrow(cx, cy, px, py, BLUE[0], 2.2)
    s.arrow(cx, cy, qx, qy, ORANGE[0], 2.2)
    ar = 46
    s.path(f"M {cx + ar * math.cos(a0):.1f} {cy - ar * math.sin(a0):.1f} "
           f"A {ar} {ar} 0 0 0 {cx + ar * math.cos(a0 + turn):.1f} {cy - ar * math.sin(a0 + turn):.1f}",
           ORANGE[0], 1.4, arrow=True)
    mid = a0 + turn / 2
    s.text(cx + 62 * math.cos(mid), cy - 62 * math.sin(mid) + 4, "pos·θᵢ", 13, weight="bold",
           color=ORANGE[0])
    s.text(px + 6, py + 14, "(a, b)", 13, color=BLUE[0])
    s.text(qx + 8, qy - 4, "(a′, b′)", 13, color=ORANGE[0])
    # the formulas and how fast each pair turns
    fx = 300
    s.text(fx, 200, "θᵢ = 1,000,000^(−2i / 128)", 14, mono=True)
    s.text(fx, 228, "a′ = a·cos(pθᵢ) − b·sin(pθᵢ)", 14, mono=True)
    s.text(fx, 252, "b′ = b·cos(pθᵢ) + a·sin(pθᵢ)", 14, mono=True)
    s.text(fx, 276, "p = the token's position", 13, color=MUTED)
    s.text(fx, 312, "radians per position:", 13, weight="bold")
    for k, i in enumerate((0, 16, 32, 48, 63)):
        theta = THETA ** (-2 * i / HEAD_DIM)
        s.text(fx + 10, 336 + k * 22, f"i = {i}", 13, mono=True)
        s.text(fx + 90, 336 + k * 22, f"θ = {theta:.3g}", 13, mono=True)
    s.text(fx, 460, "low i turn fast (fine position),", 13, color=MUTED)
    s.text(fx, 478, "high i slowly (coarse position)", 13, color=MUTED)
    s.text(300, 508, "q·k then depends on the distance between two positions, not where they are.", 13,
           "middle", color=MUTED)
    return s


def figures():
    return {"m2-block.svg": block_figure(), "m2-gqa.svg": gqa_figure(), "m2-rope.svg": rope_figure()}

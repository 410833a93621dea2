"""fig_engine.py — the engine's figures: the KV cache (M4), the block formats (M5), Metal's thread
hierarchy (M6) and the GPU engine's command buffer (M7)."""
from svgkit import BLUE, GREEN, GREY, INK, MUTED, ORANGE, PURPLE, RED, TEAL, Svg

# Qwen3-0.6B (solutions/m1-weights/config.h); the cache is f32 (solutions/m4-kv-cache/kvcache.h).
LAYERS, N_KV, HEAD_DIM, DIM, FFN, VOCAB, N_HEADS = 28, 8, 128, 1024, 3072, 151936, 16
EMPTY = ("#999999", "#ffffff")


def kv_cache_figure():
    s = Svg(600, 548, "The KV cache growing: prefill fills positions 0 to 3, each decode step appends one row")
    s.text(300, 30, "The KV cache: prefill fills it, each decode step adds a row", 17, "middle", "bold")
    tokens = ["The", " cat", " sat", " on", " the", " mat"]
    ctx, rh, cw = 8, 26, 54
    panels = [("prefill", "4 prompt tokens at once", 0, 4), ("decode step 1", "one token, position 4", 4, 5),
              ("decode step 2", "one token, position 5", 5, 6)]
    for k, (title, sub, new_from, filled) in enumerate(panels):
        x0 = 14 + k * 194
        s.text(x0 + 94, 66, title, 15, "middle", "bold")
        s.text(x0 + 94, 84, sub, 12, "middle", color=MUTED)
        kx, vx, y0 = x0 + 60, x0 + 60 + cw + 6, 112
        s.text(kx + cw / 2, y0 - 8, "K", 13, "middle", "bold")
        s.text(vx + cw / 2, y0 - 8, "V", 13, "middle", "bold")
        for p in range(ctx):
            y = y0 + p * rh
            label = f"{p}  {tokens[p].strip()}" if p < filled else f"{p}"
            s.text(x0 + 54, y + 17, label, 12, "end", color=INK if p < filled else MUTED)
            if p < filled:
                colors = ORANGE if p >= new_from else BLUE
                s.rect(kx, y + 1, cw, rh - 2, colors, rx=2)
                s.rect(vx, y + 1, cw, rh - 2, colors, rx=2)
            else:
                s.rect(kx, y + 1, cw, rh - 2, EMPTY, rx=2, dash="3 3", stroke_width=0.8)
                s.rect(vx, y + 1, cw, rh - 2, EMPTY, rx=2, dash="3 3", stroke_width=0.8)
        s.text(x0 + 94, y0 + ctx * rh + 20, f"attention reads rows 0–{filled - 1}", 12, "middle", color=MUTED)
    y = 380
    s.rect(14, y - 14, 16, 14, ORANGE, rx=2)
    s.text(36, y - 2, "written by this pass", 12)
    s.rect(180, y - 14, 16, 14, BLUE, rx=2)
    s.text(202, y - 2, "kept from before", 12)
    s.rect(330, y - 14, 16, 14, EMPTY, rx=2, dash="3 3", stroke_width=0.8)
    s.text(352, y - 2, "reserved, not yet filled (ctx rows)", 12)
    s.line(14, y + 14, 586, y + 14, "#cccccc")
    kv_dim = N_KV * HEAD_DIM
    per_token = 2 * LAYERS * kv_dim * 4
    lines = [(f"One row = {N_KV} KV heads × {HEAD_DIM} = {kv_dim} floats; each of the {LAYERS} layers has",
              None),
             (f"its own K and V, [ctx × {kv_dim}]: layer l, position p at (l·ctx + p)·{kv_dim}.", None),
             ("Per token, f32:", "bold"),
             (f"2 (K, V) × {LAYERS} layers × {N_KV} heads × {HEAD_DIM} × 4 bytes = {per_token:,} bytes = "
              f"{per_token // 1024} KiB", None),
             (f"4,096 positions: {per_token * 4096 / 2 ** 20:.0f} MiB · 40,960 (the model's maximum): "
              f"{per_token * 40960 / 2 ** 30:.2f} GiB", None)]
    for i, (t, weight) in enumerate(lines):
        s.text(20, y + 40 + i * 22, t, 13, weight=weight)
    s.text(20, y + 40 + 5 * 22 + 6, "Each new token costs one row per layer, never a recomputation of the old ones.",
           13, color=MUTED)
    return s


def blocks_figure():
    s = Svg(600, 640, "The quantized block formats drawn to scale: Q8_0, Q4_0, Q4A and f32")
    s.text(300, 30, "The block formats, to scale: one cell = one byte", 17, "middle", "bold")
    cw, ch, x0 = 14, 24, 30

    def bar(y, fields):
        """fields: (bytes, label, colors, nibbles); draws them left to right, returns the end x."""
        x = x0
        for n, label, colors, nibbles in fields:
            s.rect(x, y, n * cw, ch, colors, rx=0, stroke_width=1.4)
            for b in range(1, n):
                s.line(x + b * cw, y, x + b * cw, y + ch, colors[0], 0.5)
            if nibbles:
                for b in range(n):
                    s.line(x + b * cw + cw / 2, y + 4, x + b * cw + cw / 2, y + ch - 4, colors[0], 0.4, "2 2")
            if label:
                s.text(x + n * cw / 2, y + ch + 15, label, 12, "middle", color=colors[0])
            x += n * cw
        return x

    def nibble_zoom(x, y, hi, lo):
        s.text(x, y - 6, "byte j, zoomed:", 12, color=MUTED)
        s.rect(x, y, 176, 32, BLUE, rx=0, stroke_width=1.4)
        s.line(x + 88, y, x + 88, y + 32, BLUE[0], 1)
        for k, (bits, who) in enumerate((("high 4 bits", hi), ("low 4 bits", lo))):
            s.text(x + 44 + 88 * k, y + 13, bits, 11, "middle", color=MUTED)
            s.text(x + 44 + 88 * k, y + 27, who, 12, "middle", mono=True)

    y = 66
    s.text(x0, y, "Q8_0: 32 weights in 34 bytes (8.5 bits per weight)", 14, weight="bold")
    bar(y + 12, [(2, "d", ORANGE, False), (32, "32 × int8 q", BLUE, False)])
    s.text(x0, y + 72, "x_j = d · q_j,  q_j ∈ [−127, 127];  d: f16 scale", 13, mono=True)

    y = 176
    s.text(x0, y, "Q4_0: 32 weights in 18 bytes (4.5 bits per weight)", 14, weight="bold")
    end = bar(y + 12, [(2, "d", ORANGE, False), (16, "16 bytes, 2 weights each", BLUE, True)])
    nibble_zoom(400, y + 38, "weight j+16", "weight j")
    s.text(x0, y + 72, "x_j = d · (q_j − 8),  q_j ∈ [0, 15]", 13, mono=True)

    y = 286
    s.text(x0, y, "Q4A: 64 weights in 36 bytes (4.5 bits per weight)", 14, weight="bold")
    bar(y + 12, [(2, "s", ORANGE, False), (2, "b", PURPLE, False), (32, "32 bytes, 2 weights each", BLUE, True)])
    s.text(x0, y + 72, "x_j = s · q_j + b,  q_j ∈ [0, 15];  s, b: f16", 13, mono=True)
    nibble_zoom(400, y + 88, "weight 2j+1", "weight 2j")
    s.text(x0, y + 96, "(nibble order as MLX's;", 12, color=MUTED)
    s.text(x0, y + 112, " Q4_0's is llama.cpp's)", 12, color=MUTED)

    y = 442
    s.text(x0, y, "f32: the same 32 weights in 128 bytes (32 bits per weight)", 14, weight="bold")
    for r in range(4):
        bar(y + 12 + r * (ch + 2), [(32, None, GREY, False)])
    s.text(x0, y + 12 + 4 * (ch + 2) + 18, "shown as 4 rows of 32 bytes; one Q8_0 block is 34 cells, one Q4_0 block 18",
           12, color=MUTED)
    s.text(x0, y + 12 + 4 * (ch + 2) + 40, "A row of 1024 weights: 32 Q8_0 blocks = 1,088 bytes; 32 Q4_0 = 576; "
           "16 Q4A = 576; f32 4,096.", 12)
    s.text(x0, y + 12 + 4 * (ch + 2) + 58, "Blocks follow each other with no padding; multi-byte fields are "
           "little-endian.", 12, color=MUTED)
    return s


def threads_figure():
    s = Svg(600, 624, "Metal's grid, threadgroups, SIMD-groups and threads, for one matvec dispatch")
    s.text(300, 30, "A dispatch: grid → threadgroups → SIMD-groups → threads", 17, "middle", "bold")
    s.text(300, 52, "the q_proj matvec (2048 rows × 1024): each SIMD-group computes one row", 13, "middle",
           color=MUTED)
    # the grid
    y = 86
    s.text(14, y, "grid: 512 threadgroups of 128 threads", 14, weight="bold")
    s.text(586, y, "they run in any order", 12, "end", color=MUTED)
    labels = ["0", "1", "2", "3", "4", "…", "511"]
    for i, lab in enumerate(labels):
        x = 14 + i * 82
        if lab == "…":
            s.text(x + 38, y + 34, "…", 16, "middle")
            continue
        s.box(x, y + 12, 76, 36, f"tg {lab}", ORANGE if lab == "2" else GREY, 13)
    # threadgroup 2, opened
    y = 164

    def opened(x1, x2, top, y, colors, height, fill):
        s.path(f"M {x1} {top} L 14 {y} M {x2} {top} L 586 {y}", colors[0], 1, dash="4 3")
        s.rect(14, y, 572, height, colors, rx=6, fill=fill)

    opened(14 + 2 * 82, 14 + 2 * 82 + 76, 134, y, ORANGE, 104, "#fff7ef")
    s.text(24, y + 22, "[[threadgroup_position_in_grid]] = 2", 13, mono=True, color=ORANGE[0])
    s.text(24, y + 42, "4 SIMD-groups, rows 8–11; they share 32 KB of threadgroup memory", 13)
    for g in range(4):
        x = 24 + g * 140
        s.box(x, y + 52, 130, 40, f"SIMD-group {g}", PURPLE if g == 1 else GREY, 13, sub=f"row {8 + g}")
    # SIMD-group 1, opened
    y = 286
    opened(164, 294, 256, y, PURPLE, 92, "#f8f4fb")
    s.text(24, y + 22, "[[simdgroup_index_in_threadgroup]] = 1", 13, mono=True, color=PURPLE[0])
    s.text(24, y + 42, "32 lanes in lockstep; simd_sum(x) adds x across them", 13)
    lw = 552 / 32
    for lane in range(32):
        colors = TEAL if lane == 5 else BLUE
        s.rect(24 + lane * lw, y + 52, lw - 2, 30, colors, rx=2)
        if lane in (0, 5, 31):
            s.text(24 + lane * lw + (lw - 2) / 2, y + 72, str(lane), 11, "middle")
    # one thread
    y = 408
    opened(24 + 5 * lw, 24 + 6 * lw - 2, 368, y, TEAL, 200, "#f2faf8")
    s.text(24, y + 22, "[[thread_index_in_simdgroup]] = 5   (the lane, 0–31)", 13, mono=True, color=TEAL[0])
    s.text(24, y + 44, "one thread: lane 5 of SIMD-group 1 of threadgroup 2", 13, weight="bold")
    rows = [("[[thread_index_in_threadgroup]]", "= 1·32 + 5 = 37"),
            ("[[thread_position_in_grid]]", "= 2·128 + 37 = 293"),
            ("[[threads_per_threadgroup]]", "= 128"),
            ("[[simdgroups_per_threadgroup]]", "= 4")]
    for i, (attr, val) in enumerate(rows):
        s.text(24, y + 70 + i * 22, attr, 13, mono=True, color=TEAL[0])
        s.text(300, y + 70 + i * 22, val, 13, mono=True)
    s.text(24, y + 170, "row = tg · 4 + simdgroup = 9; this lane reads columns 5, 37, 69, … of it;", 13)
    s.text(24, y + 188, "simd_sum gives the 32 partial sums' total, lane 0 writes y[9]", 13)
    return s


# The dispatches of one token (solutions/m7-gpu-engine/gpu_engine.c: step, encode_attention,
# encode_mlp): (kernel, what it does). Each gpu_* call of the M6 host code is one dispatch.
KIND_COLORS = {"rmsnorm": PURPLE, "matvec": BLUE, "rope": ORANGE, "attention": TEAL, "add": GREY,
               "swiglu": GREEN, "embed": RED}
LAYER_DISPATCHES = [
    ("rmsnorm", "attn_norm: x → xn  [1024]"),
    ("matvec", "q_proj: 1024 → 2048"),
    ("matvec", "k_proj: 1024 → 1024, into K cache row pos"),
    ("matvec", "v_proj: 1024 → 1024, into V cache row pos"),
    ("rmsnorm", "q_norm: 16 heads × 128, in place"),
    ("rmsnorm", "k_norm: 8 heads × 128, in place"),
    ("rope", "q: 16 heads at pos"),
    ("rope", "k: 8 heads at pos"),
    ("attention", "16 heads over pos + 1 cached rows"),
    ("matvec", "o_proj: 2048 → 1024"),
    ("add", "x = x + delta"),
    ("rmsnorm", "mlp_norm: x → xn"),
    ("matvec", "gate_proj: 1024 → 3072"),
    ("matvec", "up_proj: 1024 → 3072"),
    ("swiglu", "SiLU(gate) ⊙ up  [3072]"),
    ("matvec", "down_proj: 3072 → 1024"),
    ("add", "x = x + delta"),
]


def command_buffer_figure():
    n_layer = len(LAYER_DISPATCHES)
    total = 1 + LAYERS * n_layer + 2
    rh = 25
    s = Svg(600, 300 + n_layer * rh, f"The GPU engine's command buffer for one token: {total} dispatches")
    s.text(300, 30, f"One token = one command buffer = {total} dispatches", 17, "middle", "bold")
    s.text(300, 52, "encoded by the CPU without waiting; the GPU runs them in order", 13, "middle", color=MUTED)

    def row(y, index, kind, what):
        s.text(64, y + 17, str(index), 12, "end", color=MUTED)
        s.box(72, y + 2, 96, rh - 4, kind, KIND_COLORS[kind], 12)
        s.text(178, y + 17, what, 13)

    y = 70
    row(y, 1, "embed", "the token's row of the embedding → x  [1024]")
    y += rh + 10
    s.rect(30, y, 556, n_layer * rh + 40, GREY, rx=6, fill="#fafafa")
    s.text(40, y + 20, f"layer l = 0 … {LAYERS - 1}: {n_layer} dispatches, × {LAYERS}", 14, weight="bold")
    for i, (kind, what) in enumerate(LAYER_DISPATCHES):
        row(y + 30 + i * rh, i + 1, kind, what)
    s.text(572, y + 30 + 6 * rh, "attention half", 11, "end", color=MUTED)
    s.text(572, y + 30 + 14 * rh, "MLP half", 11, "end", color=MUTED)
    s.line(40, y + 30 + 11 * rh, 576, y + 30 + 11 * rh, "#bbbbbb", 1, "3 3")
    y += n_layer * rh + 50
    row(y, 2 + LAYERS * n_layer, "rmsnorm", "final_norm  (only when logits are wanted)")
    row(y + rh, total, "matvec", f"lm_head: 1024 → {VOCAB:,} logits")
    y += 2 * rh + 12
    s.line(14, y, 586, y, "#cccccc")
    counts = {}
    for kind, _ in LAYER_DISPATCHES:
        counts[kind] = counts.get(kind, 0) + 1
    per_layer = ", ".join(f"{n} {k}" for k, n in counts.items())
    s.text(20, y + 22, f"per layer: {per_layer}", 13)
    s.text(20, y + 44, f"1 + {LAYERS} × {n_layer} + 2 = {total}; then commit once, wait once, read the logits",
           13, weight="bold")
    s.text(20, y + 64, "(shared memory: no copy back)", 13, color=MUTED)
    return s


def figures():
    return {"m4-kv-cache-grow.svg": kv_cache_figure(), "m5-blocks.svg": blocks_figure(),
            "m6-threads.svg": threads_figure(), "m7-command-buffer.svg": command_buffer_figure()}

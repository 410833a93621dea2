"""fig_files.py — the figures of the first two labs: BPE merging (M0) and the safetensors file (M1)."""
from svgkit import BLUE, GREEN, GREY, MUTED, ORANGE, PURPLE, Svg, text_width

# " world" in Qwen3's tokenizer.json: each state, and the rank of every adjacent pair in it (None:
# the pair has no merge). Read from models/qwen3-0.6b/tokenizer.json (merges list index = rank); the
# chapter's table lists the same five merges.
BPE_STEPS = [
    (["Ġ", "w", "o", "r", "l", "d"], [33, 870, 13, 2125, 251]),
    (["Ġ", "w", "or", "l", "d"], [33, 49454, None, 251]),
    (["Ġw", "or", "l", "d"], [3843, None, 251]),
    (["Ġw", "or", "ld"], [3843, 1129]),
    (["Ġw", "orld"], [1623]),
    (["Ġworld"], []),
]
BPE_FINAL_ID = 1879


def bpe_merge_figure():
    row_h, top = 78, 86
    s = Svg(600, top + row_h * len(BPE_STEPS) + 40, "BPE merging \" world\" step by step")
    s.text(300, 30, "BPE: merge the lowest-ranked adjacent pair, repeat", 18, "middle", "bold")
    s.text(300, 54, "\" world\" in Qwen3's tokenizer (Ġ is the space byte); numbers: rank of each pair",
           13, "middle", color=MUTED)
    for k, (symbols, ranks) in enumerate(BPE_STEPS):
        y = top + k * row_h
        s.text(16, y + 24, f"step {k}", 13, color=MUTED)
        merged_now = None
        if k > 0:  # the symbol this step created
            prev_syms, prev_ranks = BPE_STEPS[k - 1]
            best = min(r for r in prev_ranks if r is not None)
            merged_now = prev_ranks.index(best)
        live = [r for r in ranks if r is not None]
        best = min(live) if live else None
        x = 76
        edges = []
        for i, sym in enumerate(symbols):
            w = max(34, text_width(sym, 18, mono=True) + 16)
            colors = ORANGE if i == merged_now else BLUE
            s.box(x, y + 4, w, 32, sym, colors, 18, mono=True)
            edges.append((x, x + w))
            x += w + 24
        for i, r in enumerate(ranks):  # the pair's rank under the gap between its two symbols
            cx = (edges[i][1] + edges[i + 1][0]) / 2
            if r is None:
                s.text(cx, y + 58, "–", 13, "middle", color=MUTED)
            elif r == best:
                s.rect(cx - 25, y + 44, 50, 20, GREEN, rx=10)
                s.text(cx, y + 58, f"{r:,}", 13, "middle", "bold", color=GREEN[0])
            else:
                s.text(cx, y + 58, f"{r:,}", 13, "middle", color=MUTED)
        note_x = 428
        if best is not None:
            i = ranks.index(best)
            s.text(note_x, y + 18, f"merge {symbols[i]} + {symbols[i + 1]}", 15, weight="bold")
            s.text(note_x, y + 38, f"lowest rank: {best:,}", 13, color=MUTED)
        else:
            s.text(note_x, y + 18, f"done: id {BPE_FINAL_ID}", 15, weight="bold")
            s.text(note_x, y + 38, "no adjacent pair left", 13, color=MUTED)
    y = top + row_h * len(BPE_STEPS) + 6
    s.text(300, y + 12, "– : the two symbols never merge.  Ties (same rank twice): the leftmost first.",
           13, "middle", color=MUTED)
    return s


# One Qwen3-0.6B layer in the checkpoint (BF16, 2 bytes a value): HF name after
# "model.layers.0.", shape, in the order of Layer in solutions/m1-weights/model.h.
DIM, N_HEADS, N_KV, HEAD_DIM, FFN, VOCAB, LAYERS = 1024, 16, 8, 128, 3072, 151936, 28
LAYER_TENSORS = [
    ("input_layernorm.weight", [DIM]),
    ("self_attn.q_proj.weight", [N_HEADS * HEAD_DIM, DIM]),
    ("self_attn.k_proj.weight", [N_KV * HEAD_DIM, DIM]),
    ("self_attn.v_proj.weight", [N_KV * HEAD_DIM, DIM]),
    ("self_attn.q_norm.weight", [HEAD_DIM]),
    ("self_attn.k_norm.weight", [HEAD_DIM]),
    ("self_attn.o_proj.weight", [DIM, N_HEADS * HEAD_DIM]),
    ("post_attention_layernorm.weight", [DIM]),
    ("mlp.gate_proj.weight", [FFN, DIM]),
    ("mlp.up_proj.weight", [FFN, DIM]),
    ("mlp.down_proj.weight", [DIM, FFN]),
]


def nbytes(shape, elem=2):
    n = elem
    for d in shape:
        n *= d
    return n


def human(b):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= size:
            return f"{b / size:.3g} {unit}" if b < 100 * size else f"{b / size:.0f} {unit}"
    return f"{b} B"


def safetensors_figure():
    s = Svg(600, 760, "The safetensors file layout and one Qwen3 layer's tensors in it")
    s.text(300, 30, "A .safetensors file", 18, "middle", "bold")
    # the three parts (not to scale: the header is kilobytes, the data a gigabyte)
    y = 52
    s.box(24, y, 96, 52, "N", ORANGE, 16, sub="8 bytes, u64 LE")
    s.box(124, y, 170, 52, "JSON header", PURPLE, 16, sub="N bytes")
    s.rect(298, y, 278, 52, BLUE)
    s.text(400, y + 24, "data section", 16, "middle")
    s.text(400, y + 42, "tensor bytes, back to back", 12, "middle", color=MUTED)
    s.text(24, y + 72, "offset 0", 12, color=MUTED)
    s.text(124, y + 72, "8", 12, color=MUTED)
    s.text(298, y + 72, "8 + N = data start", 12, color=MUTED)
    # one header entry, and where its offsets point
    s.rect(514, 56, 50, 44, ORANGE, rx=2)
    s.text(539, 82, "q_proj", 12, "middle", color=ORANGE[0])
    y = 150
    s.rect(24, y, 552, 92, PURPLE, rx=6)
    lines = [(0, '"model.layers.0.self_attn.q_proj.weight": {'),
             (2, '"dtype": "BF16", "shape": [2048, 1024],'),
             (2, '"data_offsets": [B, B + 4194304] }')]
    for i, (indent, t) in enumerate(lines):
        s.text(36 + indent * 8.4, y + 24 + i * 24, t, 14, mono=True)
    s.path(f"M 400 {y + 67} C 539 {y + 67}, 539 {y + 30}, 539 {y - 48}", ORANGE[0], 1.6, arrow=True)
    s.text(300, y + 116, "B: where its bytes begin, counted from the data start. The reader checks", 13,
           "middle", color=MUTED)
    s.text(300, y + 134, "end − begin = 2048 × 1024 values × 2 bytes = 4,194,304, and that it fits.", 13,
           "middle", color=MUTED)
    # the layer's tensors, bars to scale by bytes
    y = 318
    s.text(300, y, "Qwen3-0.6B, layer 0: 11 tensors, names after \"model.layers.0.\"", 15, "middle", "bold")
    s.text(24, y + 26, "tensor", 12, weight="bold", color=MUTED)
    s.text(300, y + 26, "shape", 12, weight="bold", color=MUTED)
    s.text(400, y + 26, "BF16 bytes, bar to scale", 12, weight="bold", color=MUTED)
    biggest = max(nbytes(sh) for _, sh in LAYER_TENSORS)
    total = 0
    for i, (name, shape) in enumerate(LAYER_TENSORS):
        ry = y + 44 + i * 26
        b = nbytes(shape)
        total += b
        colors = PURPLE if len(shape) == 1 else (GREEN if name.startswith("mlp") else BLUE)
        s.text(24, ry + 13, name, 13, mono=True)
        s.text(300, ry + 13, "[" + ", ".join(str(d) for d in shape) + "]", 13, mono=True)
        s.rect(400, ry + 2, max(1.5, 110 * b / biggest), 14, colors, rx=2)
        s.text(518 if b == biggest else 400 + max(1.5, 110 * b / biggest) + 6, ry + 14, human(b), 12,
               color=MUTED)
    y += 44 + len(LAYER_TENSORS) * 26 + 14
    s.line(24, y - 8, 576, y - 8, "#cccccc")
    s.text(24, y + 12, f"one layer: {total:,} bytes ({human(total)}); × {LAYERS} layers = {human(total * LAYERS)}",
           13)
    emb = nbytes([VOCAB, DIM])
    s.text(24, y + 34, f"+ embed_tokens [{VOCAB}, {DIM}] {human(emb)}, its lm_head copy {human(emb)},", 13)
    s.text(24, y + 54, f"+ model.norm [{DIM}]: the file is {human(total * LAYERS + 2 * emb + 2 * DIM)}.", 13)
    s.text(24, y + 80, "Blue: attention matrices · green: MLP matrices · purple: norm weights", 12, color=MUTED)
    return s


def figures():
    return {"m0-bpe.svg": bpe_merge_figure(), "m1-safetensors.svg": safetensors_figure()}

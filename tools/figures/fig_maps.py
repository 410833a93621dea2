"""fig_maps.py — the figures of the index and the appendices: the map of the workbook (index), how a
.metal file reaches the CPU (the emulator appendix) and a GGUF file with an mlx_lm 4-bit matrix
(the formats appendix)."""
from svgkit import BLUE, GREEN, GREY, MUTED, ORANGE, PURPLE, RED, TEAL, Svg

# The labs, what each adds to the engine (book/index.md's map) and the first protostar command it
# makes work (solutions/cli/main.c's command table; --kv and --gpu in cmd_generate.c).
LABS = [
    ("M0", "tokenizer", "text ↔ token ids, byte-level BPE", "protostar tokenize -t DIR"),
    ("M1", "weights", "safetensors, config, bf16 → a Model", "protostar inspect DIR"),
    ("M2", "forward pass", "token ids → logits (CPU, f32)", "protostar logits -m DIR …"),
    ("M3", "sampling", "samplers, generation, chat template", "protostar generate -p …"),
    ("M4", "KV cache", "prefill once, then one token a step", "protostar generate --kv f16"),
    ("M5", "quantization", "Q8_0, Q4_0, Q4A weights + kernels", "protostar quantize --type q4_0"),
    ("M6", "Metal kernels", "each op as a GPU kernel (.metal)", "make bench (bench_gpu)"),
    ("M7", "GPU engine", "one command buffer per token", "protostar generate --gpu"),
]
LAB_COLORS = [BLUE, BLUE, GREEN, GREEN, TEAL, ORANGE, PURPLE, PURPLE]


def map_figure():
    row, top = 58, 92
    s = Svg(600, top + row * len(LABS) + 28, "The map of the workbook: eight labs, each adding to one engine")
    s.text(300, 30, "One engine, eight labs", 18, "middle", "bold")
    s.text(300, 52, "each lab adds a piece to the engine; the command that first works after it", 13,
           "middle", color=MUTED)
    s.text(96, 80, "the lab adds", 12, weight="bold", color=MUTED)
    s.text(352, 80, "then this works", 12, weight="bold", color=MUTED)
    for i, ((lab, name, adds, cmd), colors) in enumerate(zip(LABS, LAB_COLORS)):
        y = top + i * row
        s.box(24, y, 60, 42, lab, colors, 17)
        if i + 1 < len(LABS):
            s.arrow(54, y + 42, 54, y + row - 1)
        s.text(96, y + 18, name, 15, weight="bold")
        s.text(96, y + 36, adds, 12, color=MUTED)
        s.rect(346, y + 6, 232, 30, GREY, rx=4, fill="#f6f6f6")
        s.text(354, y + 26, cmd, 12, mono=True)
    return s


def emulator_figure():
    s = Svg(600, 716, "How a .metal file reaches the CPU: preprocess, strict check, mslpp, compile, run on fibers")
    s.text(300, 30, "How a .metal file reaches the CPU", 18, "middle", "bold")
    s.text(300, 52, "all at build time (shared/msl/msl.mk): nothing is compiled at run time", 13, "middle",
           color=MUTED)
    steps = [
        ("shaders/foo.metal", GREY, True, ["your kernels, in MSL"]),
        ("c++ -E", BLUE, True, ["expands the shader's own macros", "(an empty <metal_stdlib>)"]),
        ("tools/mslstrict", RED, True, ["the strict front-end: refuses what", "Apple's compiler refuses, citing the spec"]),
        ("tools/mslpp", ORANGE, True, ["rewrites MSL to C++ in place (no line", "added); -check: race-checker hooks"]),
        ("c++ -O2", BLUE, True, ["against the emulator's <metal_stdlib>", "(shared/msl/include)"]),
        ("foo.o", GREEN, True, ["registers its kernels as", "\"shaders/foo.metal\" before main()"]),
    ]
    files = ["", "foo.i", "foo.i (checked)", "foo.cpp", "", ""]
    y, bh, gap = 72, 44, 22
    for i, (label, colors, mono, notes) in enumerate(steps):
        s.box(24, y, 200, bh, label, colors, 14, mono=mono)
        for k, t in enumerate(notes):
            s.text(244, y + (18 if len(notes) > 1 else 27) + k * 18, t, 13, color=MUTED if k else "#1a1a1a")
        if i + 1 < len(steps):
            s.arrow(124, y + bh, 124, y + bh + gap - 1)
            if files[i]:
                s.text(134, y + bh + 15, files[i], 11, mono=True, color=MUTED)
        y += bh + gap
    # run time
    y -= gap - 10
    s.line(24, y, 576, y, "#cccccc", dash="4 3")
    s.text(24, y + 18, "at run time", 12, weight="bold", color=MUTED)
    y += 28
    s.box(24, y, 200, bh, "mtl_emu", TEAL, 14, sub="mtl_library_new, dispatch")
    s.text(244, y + 18, "threadgroups go to worker threads;", 13)
    s.text(244, y + 36, "a threadgroup's threads run as fibers", 13, color=MUTED)
    # fibers of one threadgroup, in passes, switching at a barrier and a collective
    y += bh + 18
    s.text(24, y + 12, "one threadgroup: each thread runs until a barrier or collective, then the next", 13)
    y += 24
    lanes, lx, seg = 4, 90, [(0, 150), (176, 290), (316, 440)]
    stops = [("threadgroup_barrier", 150), ("simd_sum", 290)]
    for t in range(lanes):
        ly = y + t * 22
        s.text(24, ly + 12, f"thread {t}", 12, color=MUTED, mono=True)
        for a, b in seg:
            s.rect(lx + a, ly + 2, b - a - 6, 14, (BLUE[0], BLUE[1]), rx=2)
    bottom = y + lanes * 22
    for name, x in stops:
        s.line(lx + x + 10, y - 4, lx + x + 10, bottom + 2, RED[0], 1.6, dash="4 3")
        s.text(lx + x + 10, bottom + 18, name, 11, "middle", color=RED[0], mono=True)
    s.text(lx + 442, y + 12, "end", 12, color=MUTED)
    s.text(300, bottom + 40, "all wait at the dashed line before any goes on: one fiber stack each, switched by hand",
           12, "middle", color=MUTED)
    return s


def gguf_figure():
    s = Svg(600, 712, "A GGUF file's layout, and an mlx_lm 4-bit matrix mapped onto M5's Q4A block")
    s.text(300, 30, "A GGUF file (all little-endian)", 18, "middle", "bold")
    # the fixed header: cell widths proportional to bytes (4, 4, 8, 8)
    y, unit = 50, 552 / 24
    x = 24
    for label, nb, colors in (("\"GGUF\"", 4, ORANGE), ("version", 4, ORANGE), ("u64 n_tensors", 8, ORANGE),
                              ("u64 n_kv", 8, ORANGE)):
        s.box(x, y, nb * unit - 2, 40, label, colors, 13, sub=f"{nb} bytes", sub_size=11)
        x += nb * unit
    sections = [
        ("metadata: n_kv key-values", PURPLE, 88,
         ["key: string (u64 length + bytes), u32 value type, value",
          "general.architecture = \"qwen3\"   qwen3.block_count = 28",
          "tokenizer.ggml.tokens = [array of 151,936 strings] …"]),
        ("tensor infos: n_tensors of them", BLUE, 88,
         ["name, u32 n_dims, u64 ne[n_dims] (fastest first), u32 type, u64 offset",
          "\"blk.0.attn_q.weight\"  2  {1024, 2048}  8 (Q8_0)  offset",
          "PyTorch [2048, 1024] → ne = {1024, 2048}: the same bytes"]),
        ("padding to general.alignment (32)", GREY, 30, []),
        ("tensor data", GREEN, 76,
         ["each tensor at data start + its offset,",
          "every offset a multiple of the alignment"]),
    ]
    y += 48
    data_top = None
    for title, colors, h, lines in sections:
        s.rect(24, y, 552, h, colors, rx=4)
        if lines:
            s.text(36, y + 20, title, 14, weight="bold")
            for k, t in enumerate(lines):
                s.text(36, y + 40 + k * 18, t, 12, mono=k > 0 and colors != GREEN, color="#1a1a1a" if k else MUTED)
        else:
            s.text(300, y + 20, title, 13, "middle", color=MUTED)
        if colors == GREEN:
            data_top = y
        y += h + 6
    # the offset points into the data
    s.rect(440, data_top + 46, 120, 22, ORANGE, rx=2)
    s.text(500, data_top + 61, "blk.0.attn_q", 11, "middle", mono=True)
    s.path(f"M 440 {98 + 88 + 6 + 58} C 590 {98 + 88 + 6 + 58}, 590 {data_top + 57}, 562 {data_top + 57}",
           ORANGE[0], 1.4, arrow=True)
    # mlx_lm 4-bit → Q4A
    y += 22
    s.text(300, y, "An mlx_lm 4-bit matrix (group 64) becomes Q4A", 17, "middle", "bold")
    y += 26
    s.text(24, y, "NAME.weight U32 [rows, cols/8]: word j holds weights 8j … 8j+7, the first lowest", 12,
           color=MUTED)
    y += 10
    # one word, 8 nibbles, high bits on the left
    nw = 552 / 8
    for k in range(8):
        q = 7 - k
        s.box(24 + k * nw, y, nw - 2, 34, f"q{q}", BLUE, 13, sub=f"bits {4 * q}–{4 * q + 3}", sub_size=11)
    y += 42
    s.text(24, y + 12, "as little-endian bytes: byte j = q[2j] | q[2j+1] << 4, the nibble order of Q4A", 12,
           color=MUTED)
    y += 26
    # the group: 8 words, and its scale and bias
    s.box(24, y, 116, 30, "scales[r][g]", PURPLE, 12, mono=True)
    s.box(148, y, 116, 30, "biases[r][g]", PURPLE, 12, mono=True)
    s.rect(276, y, 300, 30, BLUE, rx=3)
    s.text(426, y + 20, "row r, group g: 8 words = 64 weights", 12, "middle")
    s.text(216, y + 48, "bf16 → f16", 11, color=MUTED)
    top = y + 30
    y += 84
    # the Q4A block, 36 bytes to scale
    bw = 552 / 36
    s.box(24, y, 2 * bw - 1, 36, "s", PURPLE, 13)
    s.box(24 + 2 * bw, y, 2 * bw - 1, 36, "b", PURPLE, 13)
    s.rect(24 + 4 * bw, y, 32 * bw, 36, BLUE, rx=3)
    s.text(24 + 20 * bw, y + 23, "qs: 32 bytes, copied as they are", 13, "middle")
    s.arrow(426, top + 2, 24 + 20 * bw, y - 2)
    s.arrow(82, top + 2, 24 + bw, y - 2)
    s.arrow(206, top + 2, 24 + 3 * bw, y - 2)
    s.text(24, y + 58, "Q4A: 36 bytes, 4.5 bits a weight;  w = s · q + b", 13, weight="bold")
    s.text(24, y + 78, "only when every scale and bias is exact in f16 (checked at load); otherwise MLX4", 12,
           color=MUTED)
    return s


def figures():
    return {"index-map.svg": map_figure(), "appendix-emulator.svg": emulator_figure(),
            "appendix-gguf.svg": gguf_figure()}

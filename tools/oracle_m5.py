"""Golden vectors for lab M5 (quantization), written to golden/m5/.

    python3 tools/oracle_m5.py            (from the repository root, on a machine with numpy, torch,
                                           transformers; see golden/README.md)

1. golden/m5/blocks.psg: fixed rows (random ones and edge cases) quantized to Q8_0, Q4_0 and Q4A by
   a NumPy transcription of the published formats, written from their descriptions and kept apart
   from protostar's C code on purpose:
     Q8_0 (llama.cpp, ggml-quants.c quantize_row_q8_0_ref): blocks of 32, d = amax / 127 stored as
          f16, q = round-half-away-from-zero(x * (1/d)) as int8. Block bytes: d (2), q (32).
     Q4_0 (llama.cpp, quantize_row_q4_0_ref): blocks of 32, m = the value of largest magnitude (the
          first on ties), d = m / -8 stored as f16, q = min(15, trunc(x * (1/d) + 8.5)); byte j =
          q[j] | q[j+16] << 4. Block bytes: d (2), 16 bytes of nibbles.
     Q4A  (MLX's affine rule, mlx/backend/cpu/quantized.cpp, bits 4, group 64): scale = max((max -
          min) / 15, 1e-7), negated unless |min| > |max|; edge = min if |min| > |max| else max;
          q0 = rint(edge / scale); if q0 != 0: scale = edge / q0, bias = edge, else bias = 0;
          q = clip(rint((x - bias) / scale), 0, 15); byte j = q[2j] | q[2j+1] << 4 (MLX's uint32
          packing read as bytes). protostar's block bytes: scale (f16), bias (f16), 32 bytes.
   Every step is float32 like the C originals; f16 conversion is numpy's (round to nearest even).
   Also: the dequantized rows, an 8-bit activation rounding (like Q8_0 with a float32 scale), and
   a small matrix product dequant(W) @ x in float64 for each format.

2. golden/m5/quality.psg: held-out text (the corpus's last books, which the tiny model never saw)
   run through Hugging Face transformers with models/tiny in float32: log-probability of each next
   token and the arg-max, for the f32 model and for the model whose 2-D weights were replaced by
   their quantized-then-dequantized values (the quantization policy of `protostar quantize`).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402

OUT = "golden/m5"
ME = "tools/oracle_m5.py"
F32 = np.float32


def _errstate():
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def f16_bytes(v):
    """float32 array (n,) -> uint8 (n, 2): little-endian IEEE half, round to nearest even."""
    return v.astype(np.float16).astype("<f2").view(np.uint8).reshape(-1, 2)


def round_half_away(v):
    """C's roundf: halves go away from zero. Done in float64, where |v| + 0.5 is exact."""
    a = np.abs(v.astype(np.float64))
    return np.sign(v) * np.floor(a + 0.5)


def q8_0(x):
    blocks = x.astype(F32).reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / F32(127)).astype(F32)
    with _errstate():
        inv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    q = round_half_away(blocks * inv[:, None]).astype(np.int8)
    return np.concatenate([f16_bytes(d), q.view(np.uint8)], axis=1).reshape(x.shape[0], -1)


def deq_q8_0(b, n):
    b = b.reshape(-1, 34)
    d = b[:, :2].copy().view("<f2").astype(F32)
    q = b[:, 2:].view(np.int8).astype(F32)
    return (d * q).reshape(-1, n)


def q4_0(x):
    blocks = x.astype(F32).reshape(-1, 32)
    first_largest = np.argmax(np.abs(blocks), axis=1)        # argmax returns the first on ties
    m = blocks[np.arange(len(blocks)), first_largest]
    m = np.where(np.abs(m) > 0, m, F32(0)).astype(F32)       # all-zero block: m stays +0.0
    d = (m / F32(-8)).astype(F32)
    with _errstate():
        inv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    shifted = (blocks * inv[:, None]).astype(F32) + F32(8.5)  # two float32 roundings, as in C
    q = np.minimum(np.trunc(shifted), 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return np.concatenate([f16_bytes(d), packed], axis=1).reshape(x.shape[0], -1)


def deq_q4_0(b, n):
    b = b.reshape(-1, 18)
    d = b[:, :2].copy().view("<f2").astype(F32)
    lo = (b[:, 2:] & 15).astype(F32) - 8
    hi = (b[:, 2:] >> 4).astype(F32) - 8
    return (d * np.concatenate([lo, hi], axis=1)).astype(F32).reshape(-1, n)


def q4a(x):
    groups = x.astype(F32).reshape(-1, 64)
    wmin, wmax = groups.min(axis=1), groups.max(axis=1)
    edge_is_min = np.abs(wmin) > np.abs(wmax)
    scale = np.maximum((wmax - wmin) / F32(15), F32(1e-7)).astype(F32)
    scale = np.where(edge_is_min, scale, -scale).astype(F32)
    edge = np.where(edge_is_min, wmin, wmax).astype(F32)
    with _errstate():
        q0 = np.rint(edge / scale).astype(F32)
        scale = np.where(q0 != 0, edge / q0, scale).astype(F32)
    bias = np.where(q0 != 0, edge, F32(0)).astype(F32)
    shifted = (groups - bias[:, None]).astype(F32)
    q = np.clip(np.rint(shifted / scale[:, None]), 0, 15).astype(np.uint8)
    packed = q[:, 0::2] | (q[:, 1::2] << 4)
    return np.concatenate([f16_bytes(scale), f16_bytes(bias), packed], axis=1).reshape(x.shape[0], -1)


def deq_q4a(b, n):
    b = b.reshape(-1, 36)
    scale = b[:, 0:2].copy().view("<f2").astype(F32)
    bias = b[:, 2:4].copy().view("<f2").astype(F32)
    q = np.empty((len(b), 64), F32)
    q[:, 0::2] = b[:, 4:] & 15
    q[:, 1::2] = b[:, 4:] >> 4
    return (scale * q + bias).astype(F32).reshape(-1, n)


FORMATS = {"q8_0": (q8_0, deq_q8_0), "q4_0": (q4_0, deq_q4_0), "q4a": (q4a, deq_q4a)}


def act_q8(x):
    """8-bit activations: like Q8_0 but the scale stays float32 (never stored)."""
    blocks = x.astype(F32).reshape(-1, 32)
    d = (np.abs(blocks).max(axis=1) / F32(127)).astype(F32)
    with _errstate():
        inv = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
    q = round_half_away(blocks * inv[:, None]).astype(np.int32)
    return d, q


def edge_rows(rng):
    """Rows of 256 values (8 blocks of 32, 4 groups of 64), each aimed at one corner of the rules."""
    n = 256
    rows = {}
    rows["zeros"] = np.zeros(n, F32)
    r = rng.normal(0, 0.02, n).astype(F32)
    r[5], r[200] = 1000.0, -1000.0
    rows["outlier"] = r
    r = rng.uniform(-0.25, 0.1, n).astype(F32)
    r[3::32] = -1.0                                           # every block: negative maximum
    rows["negative_max"] = r
    # Q8_0 halves: 127 makes d = 1 exactly, so x * (1/d) is x and k + 0.5 must round away from 0.
    q8h = np.array([127.0] + [s * (k + 0.5) for k in range(8) for s in (1, -1)] +
                   [0.5, -0.5, 126.5, -126.5, 63.5, -63.5, 2.5, -2.5, 3.5, -3.5, 0.0, 1.0, -1.0,
                    -127.0, 100.5], F32)
    # Q4_0 halves: -8 makes d = 1, so x + 8.5 is exact and halves must round up.
    q4h = np.array([-8.0] + [k + 0.5 for k in range(-8, 8)] + [-7.0, 7.0, 0.0, 3.0, -3.0, 6.5, -6.5,
                   7.5, -7.5, 0.5, -0.5, 1.5, -1.5, 4.0, -4.0], F32)
    # Q4A halves: min 0, max 15 give scale -1, bias 15, so q = rint(15 - x) hits exact halves.
    q4ah = np.array([0.0, 15.0] + [k + 0.5 for k in range(15)] + [float(k) for k in range(15)] +
                    [7.5, 8.5, 0.5, 14.5] * 7 + [1.0, 2.0, 3.0, 4.0], F32)
    rows["halves"] = np.concatenate([q8h, q4h, q4ah, q8h[::-1], q4h[::-1], q4ah[::-1]])
    # Scales at the bottom of f16's range: 1e-3 (normal), 3e-5 (d subnormal), 1e-6 (d rounds to
    # almost nothing), 1e-8 (Q4A's step clamps at 1e-7).
    r = np.concatenate([rng.normal(0, s, 64) for s in (1e-3, 3e-5, 1e-6, 1e-8)]).astype(F32)
    rows["tiny"] = r
    rows["constant"] = np.concatenate([np.full(128, 0.3), np.full(64, -0.7), np.full(64, 2.0)]).astype(F32)
    # Equal magnitudes of both signs: Q4_0 keeps the first one.
    t = rng.uniform(-1, 1, n).astype(F32)
    t[0:2] = (-2.0, 2.0)
    t[32:34] = (2.0, -2.0)
    t[64] = t[80] = -1.5
    t[65] = 1.5
    t[128:192] = np.where(np.arange(64) % 2 == 0, 0.75, -0.75)
    rows["ties"] = t
    rows["positive_only"] = rng.uniform(0.1, 0.9, n).astype(F32)
    rows["negative_only"] = rng.uniform(-3.0, -0.5, n).astype(F32)
    for i, sigma in enumerate((0.01, 0.05, 0.3, 1.0, 4.0)):
        rows[f"normal_{i}"] = rng.normal(0, sigma, n).astype(F32)
    rows["heavy_tail"] = (rng.standard_t(3, n) * 0.05).astype(F32)
    return rows


def write_blocks():
    rng = np.random.default_rng(20250605)
    rows = edge_rows(rng)
    names = list(rows)
    x = np.stack([rows[k] for k in names]).astype(F32)
    tensors = [("rows", x)]
    for fmt, (quant, deq) in FORMATS.items():
        b = quant(x)
        tensors += [(fmt, b), (fmt + "_deq", deq(b, x.shape[1]))]
    # 8-bit activation rounding of every row.
    d, q = act_q8(x)
    tensors += [("act_d", d.reshape(x.shape[0], -1)), ("act_q", q.reshape(x.shape[0], -1))]
    # A small product: W (40 x 320) quantized, times 3 activation rows, in float64.
    w = rng.normal(0, 0.05, (40, 320)).astype(F32)
    w[7, 11] = 0.9
    xs = rng.normal(0, 1.0, (3, 320)).astype(F32)
    tensors += [("mm_w", w), ("mm_x", xs)]
    for fmt, (quant, deq) in FORMATS.items():
        b = quant(w)
        out = xs.astype(np.float64) @ deq(b, 320).astype(np.float64).T
        tensors += [("mm_" + fmt, b), ("mm_out_" + fmt, out.astype(F32))]
    path = os.path.join(OUT, "blocks.psg")
    gen = f"{ME} numpy={np.__version__} rows={','.join(names)}"
    golden.write(path, tensors, gen)
    print(f"wrote {path}: {len(names)} rows ({', '.join(names)})")
    return golden.manifest_entry(path, ME, {"oracle": ME}, "u8 blocks, f32 values",
                                 "bit-exact", "NumPy transcription of Q8_0/Q4_0 (llama.cpp) and "
                                 "MLX affine 4-bit group 64; rows are named in the generator line")


def fake_quantize_(model, fmt, torch):
    """Replaces every 2-D weight whose rows split into whole blocks by dequant(quant(weight)):
    the policy of `protostar quantize` (norms and other 1-D tensors stay float)."""
    quant, deq = FORMATS[fmt]
    block = 64 if fmt == "q4a" else 32
    done = []
    with torch.no_grad():
        for name, p in model.named_parameters():   # tied weights appear once
            if p.dim() != 2 or p.shape[1] % block:
                continue
            w = p.detach().cpu().numpy().astype(F32)
            p.copy_(torch.from_numpy(deq(quant(w), w.shape[1])))
            done.append(name)
    return done


def write_quality(model_dir, heldout, n_tokens):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(8)
    tok = AutoTokenizer.from_pretrained(model_dir)
    with open(heldout, encoding="utf-8") as f:
        text = f.read()
    ids = tok(text[:20000])["input_ids"][:n_tokens]
    if len(ids) < n_tokens:
        sys.exit(f"{heldout}: only {len(ids)} tokens, need {n_tokens}")
    ids_t = torch.tensor([ids])
    tensors = [("ids", np.array(ids, np.int32))]
    lines = []
    for fmt in ["f32"] + list(FORMATS):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                     attn_implementation="eager")
        model.eval()
        if fmt != "f32":
            done = fake_quantize_(model, fmt, torch)
            print(f"{fmt}: quantized {len(done)} tensors")
        with torch.no_grad():
            logits = model(ids_t).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        nxt = torch.tensor(ids[1:])
        lp = logp[:-1].gather(1, nxt[:, None])[:, 0].numpy().astype(F32)
        top1 = logits.argmax(dim=-1).numpy().astype(np.int32)
        tensors += [(f"logprob_{fmt}", lp), (f"top1_{fmt}", top1)]
        if fmt == "f32":
            tensors.append(("logits_f32_last", logits[-1].numpy().astype(F32)))
            ref_top1 = top1
        ppl = float(np.exp(-lp.astype(np.float64).mean()))
        agree = float((top1[:-1] == ref_top1[:-1]).mean())
        lines.append(f"{fmt}: perplexity {ppl:.4f}, top-1 agreement with f32 {agree:.4f}")
        print(lines[-1], flush=True)
    path = os.path.join(OUT, "quality.psg")
    gen = (f"{ME} transformers={transformers.__version__} torch={torch.__version__} "
           f"numpy={np.__version__} model={model_dir} tokens={n_tokens}")
    golden.write(path, tensors, gen)
    print(f"wrote {path}")
    return golden.manifest_entry(
        path, ME, {"model": os.path.join(model_dir, "model.safetensors"),
                   "tokenizer": os.path.join(model_dir, "tokenizer.json"), "heldout": heldout},
        "f32 log-probs, i32 ids", "perplexity and top-1 bounds (see the test)", "; ".join(lines))


def main():
    entries = [write_blocks()]
    model_dir, heldout = "models/tiny", ".corpus/heldout.txt"
    if os.path.exists(os.path.join(model_dir, "model.safetensors")) and os.path.exists(heldout):
        entries.append(write_quality(model_dir, heldout, 256))
    else:
        print(f"skipping quality.psg: needs {model_dir}/model.safetensors and {heldout} "
              "(tools/make_corpus.sh)")
    golden.update_manifest(entries)


if __name__ == "__main__":
    main()

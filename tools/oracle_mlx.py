"""mlx_lm-layout goldens, written to golden/mlx/ (pure Python: no numpy, no MLX needed).

    python3 tools/oracle_mlx.py          (from the repository root, after `make synth`)

For the synthetic model build/models/tiny-gqa2-bf16 and each (bits, group) in (4, 64), (4, 32),
(8, 64), (8, 32), two folders:
  golden/mlx/q{bits}g{group}/        what mlx_lm.convert writes: config.json with
      "quantization": {"group_size": G, "bits": B}; every matrix (the embedding included; the tied
      lm_head has none) as NAME.weight U32 [rows, cols * bits / 32], NAME.scales and NAME.biases in
      the model's dtype (BF16) [rows, cols / G]; the norms unchanged (BF16).
  golden/mlx/q{bits}g{group}-dequant/ the same model with each matrix replaced by its dequantized
      values scale * q + bias (F32), the reference the tests compare against.

The quantizer is a transcription of MLX's CPU affine quantizer (mlx/backend/cpu/quantized.cpp,
quantize<T, U>), step by step in float32 (each operation rounded to float32 as the C++ does):
    per group of G weights: w_min, w_max; mask = |w_min| > |w_max|;
    scale = max((w_max - w_min) / n_bins, 1e-7), negated unless mask; edge = mask ? w_min : w_max;
    q0 = rint(edge / scale); bias = 0; if q0 != 0: scale = edge / q0, bias = edge;
    q = clamp(rint((w - bias) / scale), 0, n_bins);  uint32 word j holds elements 32/bits*j + k at
    bits [k*bits, (k+1)*bits); scale and bias stored as static_cast<bfloat16> (round to nearest even).
n_bins = 2^bits - 1. rint is round-half-to-even (Python's round on floats).
"""
import json
import os
import struct

from atomic_write import replacing

SRC = "build/models/tiny-gqa2-bf16"
OUT = "golden/mlx"
VARIANTS = [(4, 64), (4, 32), (8, 64), (8, 32)]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def bf16_bits(x):
    """float32 value -> bfloat16 bits, round to nearest even (finite inputs)."""
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF


def bf16_value(bits):
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        data = raw[base + a:base + b]
        if e["dtype"] == "BF16":
            vals = [bf16_value(v) for v in struct.unpack("<%dH" % (len(data) // 2), data)]
        elif e["dtype"] == "F32":
            vals = list(struct.unpack("<%df" % (len(data) // 4), data))
        else:
            raise SystemExit("unexpected dtype " + e["dtype"])
        tensors[name] = (e["shape"], vals)
    return tensors


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, bytes), written in this order."""
    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((-len(text)) % 8)
    with replacing(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text.encode())
        for _, _, _, data in tensors:
            f.write(data)


def quantize_group(w, bits):
    n_bins = float((1 << bits) - 1)
    w_min, w_max = min(w), max(w)
    mask = abs(w_min) > abs(w_max)
    scale = max(f32((w_max - w_min) / n_bins), f32(1e-7))
    scale = scale if mask else -scale
    edge = w_min if mask else w_max
    q0 = float(round(f32(edge / scale)))
    bias = 0.0
    if q0 != 0:
        scale = f32(edge / q0)
        bias = edge
    q = [int(min(max(float(round(f32(f32(x - bias) / scale))), 0.0), n_bins)) for x in w]
    return q, bf16_bits(scale), bf16_bits(bias)


def quantize_matrix(shape, vals, bits, group):
    rows, cols = shape
    words, scales, biases, deq = [], [], [], []
    per_word = 32 // bits
    for r in range(rows):
        row = vals[r * cols:(r + 1) * cols]
        for g in range(cols // group):
            q, s, b = quantize_group(row[g * group:(g + 1) * group], bits)
            scales.append(s)
            biases.append(b)
            sv, bv = bf16_value(s), bf16_value(b)
            deq += [f32(f32(sv * x) + bv) for x in q]
            for j in range(group // per_word):
                word = 0
                for k in range(per_word):
                    word |= q[j * per_word + k] << (k * bits)
                words.append(word)
    return words, scales, biases, deq


def main():
    tensors = read_safetensors(os.path.join(SRC, "model.safetensors"))
    with open(os.path.join(SRC, "config.json")) as f:
        config = json.load(f)
    for bits, group in VARIANTS:
        name = "q%dg%d" % (bits, group)
        qdir, ddir = os.path.join(OUT, name), os.path.join(OUT, name + "-dequant")
        os.makedirs(qdir, exist_ok=True)
        os.makedirs(ddir, exist_ok=True)
        qout, dout = [], []
        for tname in sorted(tensors):
            shape, vals = tensors[tname]
            if len(shape) == 2 and shape[1] % group == 0:
                words, scales, biases, deq = quantize_matrix(shape, vals, bits, group)
                stem = tname[:-len(".weight")]
                qout.append((tname, "U32", [shape[0], shape[1] * bits // 32], struct.pack("<%dI" % len(words), *words)))
                qout.append((stem + ".scales", "BF16", [shape[0], shape[1] // group],
                             struct.pack("<%dH" % len(scales), *scales)))
                qout.append((stem + ".biases", "BF16", [shape[0], shape[1] // group],
                             struct.pack("<%dH" % len(biases), *biases)))
                dout.append((tname, "F32", shape, struct.pack("<%df" % len(deq), *deq)))
            else:
                raw = struct.pack("<%dH" % len(vals), *[bf16_bits(v) for v in vals])
                qout.append((tname, "BF16", shape, raw))
                dout.append((tname, "BF16", shape, raw))
        write_safetensors(os.path.join(qdir, "model.safetensors"), qout)
        write_safetensors(os.path.join(ddir, "model.safetensors"), dout)
        qcfg = dict(config, quantization={"group_size": group, "bits": bits})
        with replacing(os.path.join(qdir, "config.json"), "w") as f:
            json.dump(qcfg, f, indent=1)
        with replacing(os.path.join(ddir, "config.json"), "w") as f:
            json.dump(config, f, indent=1)


if __name__ == "__main__":
    main()

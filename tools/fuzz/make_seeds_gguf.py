"""Seeds for tools/fuzz/fuzz_gguf.c, written to tools/fuzz/corpus/gguf/ (pure Python, no numpy).

    python3 tools/fuzz/make_seeds_gguf.py

Small complete Qwen3 GGUF files laid out as gguf.md describes (and llama.cpp's converter writes):
one layer, dim 32, 2 query heads and 1 key/value head of 16, ffn 32, a vocabulary of 8 tokens with
3 merges and 2 added tokens; the matrices in F32, F16, BF16, Q8_0 or Q4_0 (Q8_0/Q4_0 blocks built
from the published layouts with made-up scales), so the fuzzer starts from inputs that reach every
layer of the loader. Plus two small edge cases: no tensors at all, and a custom alignment.
"""
import os
import random
import struct

OUT = "tools/fuzz/corpus/gguf"
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "BF16": 30}


def s(text):
    b = text.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = s(key) + struct.pack("<I", vtype)
    if vtype == U32:
        return out + struct.pack("<I", value)
    if vtype == F32:
        return out + struct.pack("<f", value)
    if vtype == BOOL:
        return out + struct.pack("<B", value)
    if vtype == STRING:
        return out + s(value)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    for it in items:
        out += s(it) if etype == STRING else struct.pack("<i", it)
    return out


def f16_bits(x):
    return struct.unpack("<H", struct.pack("<e", x))[0]


def tensor_bytes(kind, rows, cols, rng):
    vals = [rng.uniform(-0.5, 0.5) for _ in range(rows * cols)]
    if kind == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if kind == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if kind == "BF16":
        return b"".join(struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16) for v in vals)
    out = b""
    for _ in range(rows * cols // 32):
        out += struct.pack("<H", f16_bits(rng.uniform(0.001, 0.02)))
        if kind == "Q8_0":
            out += bytes(rng.randrange(256) for _ in range(32))
        else:
            out += bytes(rng.randrange(256) for _ in range(16))
    return out


def model(kind, alignment=32, with_tensors=True):
    rng = random.Random(kind)
    dim, ffn, heads, kv_heads, hd, vocab = 32, 32, 2, 1, 16, 8
    tokens = ["a", "b", "c", "ab", "abc", "Ġ", "<|im_end|>", "<think>"]
    types = [1, 1, 1, 1, 1, 1, 3, 4]
    meta = [kv("general.architecture", STRING, "qwen3"), kv("general.name", STRING, "seed"),
            kv("qwen3.block_count", U32, 1), kv("qwen3.context_length", U32, 64),
            kv("qwen3.embedding_length", U32, dim), kv("qwen3.feed_forward_length", U32, ffn),
            kv("qwen3.attention.head_count", U32, heads), kv("qwen3.attention.head_count_kv", U32, kv_heads),
            kv("qwen3.attention.key_length", U32, hd), kv("qwen3.attention.value_length", U32, hd),
            kv("qwen3.rope.freq_base", F32, 10000.0), kv("qwen3.attention.layer_norm_rms_epsilon", F32, 1e-6),
            kv("tokenizer.ggml.model", STRING, "gpt2"), kv("tokenizer.ggml.pre", STRING, "qwen2"),
            kv("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            kv("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            kv("tokenizer.ggml.merges", ARRAY, (STRING, ["a b", "ab c"])),
            kv("tokenizer.ggml.eos_token_id", U32, 6), kv("tokenizer.ggml.add_bos_token", BOOL, 0)]
    if alignment != 32:
        meta.append(kv("general.alignment", U32, alignment))
    mats = [("token_embd.weight", vocab, dim)]
    vecs = []
    vecs.append(("blk.0.attn_norm.weight", dim))
    mats += [("blk.0.attn_q.weight", heads * hd, dim), ("blk.0.attn_k.weight", kv_heads * hd, dim),
             ("blk.0.attn_v.weight", kv_heads * hd, dim), ("blk.0.attn_output.weight", dim, heads * hd),
             ("blk.0.ffn_gate.weight", ffn, dim), ("blk.0.ffn_up.weight", ffn, dim),
             ("blk.0.ffn_down.weight", dim, ffn)]
    vecs += [("blk.0.attn_q_norm.weight", hd), ("blk.0.attn_k_norm.weight", hd), ("blk.0.ffn_norm.weight", dim),
             ("output_norm.weight", dim)]
    tensors = []
    if with_tensors:
        tensors = [(n, [c, r], kind, tensor_bytes(kind, r, c, rng)) for n, r, c in mats]
        tensors += [(n, [c], "F32", tensor_bytes("F32", 1, c, rng)) for n, c in vecs]
    infos, data = b"", b""
    for name, ne, t, raw in tensors:
        infos += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        infos += struct.pack("<IQ", GGML[t], len(data))
        data += raw + b"\0" * ((-len(raw)) % alignment)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta) + infos
    return head + b"\0" * ((-len(head)) % alignment) + data


def main():
    os.makedirs(OUT, exist_ok=True)
    for kind in ["F32", "F16", "BF16", "Q8_0", "Q4_0"]:
        with open(os.path.join(OUT, "qwen3-%s.gguf" % kind.lower()), "wb") as f:
            f.write(model(kind))
    with open(os.path.join(OUT, "no-tensors.gguf"), "wb") as f:
        f.write(model("F32", with_tensors=False))
    with open(os.path.join(OUT, "align64-q8_0.gguf"), "wb") as f:
        f.write(model("Q8_0", alignment=64))


if __name__ == "__main__":
    main()

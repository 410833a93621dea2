#!/usr/bin/env python3
"""Writes the committed seed corpora tools/fuzz/corpus/TARGET/ (run from the repository root).

    python3 tools/fuzz/make_seeds.py [PROTOSTAR]

Seeds are small, valid inputs plus a few edge cases each. The model_load seeds are an f32 model of
the fixed shape in tools/fuzz/fuzz_model_load.c (CONFIG there and below must agree) and its Q8_0,
Q4_0 and Q4_affine copies made by the real `PROTOSTAR quantize` (default build/protostar). The
mlx_load seeds are mlx_lm folders of the shape in tools/fuzz/fuzz_mlx_load.c, packed here; the
mslstrict seeds are shaders of the repository and a few cut-off files.
The gguf corpus is tools/fuzz/make_seeds_gguf.py's (left as it is).
Only the standard library: it runs wherever the build does.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = "tools/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def safetensors(tensors, metadata=None, pad=0, tail=b""):
    """tensors: [(name, dtype, shape, raw bytes)] -> file bytes (HF pads the header with spaces)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(h)) + h + data + tail


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def st_header_seeds():
    put("st_header", "f32-bf16-f16", safetensors([
        ("a", "F32", [2, 2], f32([1, 2, 3, 4])), ("b", "BF16", [3], b"\x80\x3f" * 3),
        ("c", "F16", [1, 2], b"\x00\x3c" * 2)], {"format": "pt"}, pad=6))
    put("st_header", "u8-blocks", safetensors([("q", "U8", [2, 1, 34], bytes(range(68)))],
                                              {"protostar.quantization": "q8_0"}))
    put("st_header", "scalar-and-empty", safetensors([("s", "F32", [], f32([7])), ("z", "F32", [0, 4], b"")]))
    put("st_header", "no-tensors", safetensors([]))
    put("st_header", "unknown-dtype", safetensors([("x", "F64", [1], b"\0" * 8)]))
    def raw(header, data_size):
        return struct.pack("<Q", len(header)) + header + b"\0" * data_size
    put("st_header", "overlap", raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                    b'"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}', 8))
    put("st_header", "junk-after-json", raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} xyz', 4))
    put("st_header", "zero-size-extra", raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                            b'"e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}', 4))
    put("st_header", "length-past-end", b"\xff\xff\0\0\0\0\0\0{}")
    put("st_header", "short", b"\x02\0\0")


def st_index_seeds():
    wm = {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
          "c": "model-00002-of-00002.safetensors"}
    put("st_index", "valid", json.dumps({"metadata": {"total_size": 28}, "weight_map": wm}, indent=2))
    put("st_index", "one-shard", json.dumps({"weight_map": {"c": "model-00002-of-00002.safetensors"}}))
    put("st_index", "empty-map", '{"weight_map": {}}')
    put("st_index", "wrong-shard", json.dumps({"weight_map": {"a": "model-00002-of-00002.safetensors"}}))
    put("st_index", "missing-file", json.dumps({"weight_map": {"a": "model-00009-of-00009.safetensors"}}))
    put("st_index", "path-escape", json.dumps({"weight_map": {"a": "../model-00001-of-00002.safetensors"}}))
    put("st_index", "not-strings", '{"weight_map": {"a": 1, "b": null}}')


def config_seeds():
    for preset in ("tiny-mha-f32", "small-gqa4-bf16"):
        path = "build/models/%s/config.json" % preset
        if os.path.exists(path):
            put("config", preset, open(path).read())
    put("config", "tiny-model", open("models/tiny/config.json").read())
    qwen = {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
            "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
            "max_position_embeddings": 40960, "rms_norm_eps": 1e-6, "rope_theta": 1000000,
            "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": [151645, 151643]}
    put("config", "qwen3-0.6b", json.dumps(qwen, indent=2))
    v5 = dict(qwen, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
    del v5["rope_theta"]
    put("config", "rope-parameters", json.dumps(v5))
    put("config", "odd-head-dim", json.dumps(dict(qwen, head_dim=7)))
    put("config", "huge-layers", json.dumps(dict(qwen, num_hidden_layers=1000000000)))
    put("config", "tiny-floats", json.dumps(dict(qwen, rope_theta=1e-50, rms_norm_eps=1e39)))
    put("config", "scaling", json.dumps(dict(qwen, rope_scaling={"rope_type": "yarn", "factor": 4})))
    put("config", "empty-object", "{}")
    put("config", "not-object", "[1, 2]")


def genconfig_seeds():
    put("genconfig", "tiny-model", open("models/tiny/generation_config.json").read())
    put("genconfig", "qwen3", json.dumps({"bos_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
                                          "pad_token_id": 151643, "temperature": 0.6, "top_k": 20, "top_p": 0.95}))
    put("genconfig", "greedy-one-eos", '{"do_sample": false, "eos_token_id": 7, "repetition_penalty": 1.1, "min_p": 0.05}')
    put("genconfig", "nulls", '{"temperature": null, "top_k": null, "eos_token_id": null}')
    put("genconfig", "many-eos", json.dumps({"eos_token_id": list(range(20)) + [-1, 3.5, "x"]}))
    put("genconfig", "huge-values", '{"do_sample": true, "temperature": 1e300, "top_k": 1e300, "top_p": -1}')
    put("genconfig", "wrong-types", '{"temperature": "hot", "top_k": [1]}')
    put("genconfig", "empty", "")


def tokenizer_seeds():
    t = json.load(open("models/tiny/tokenizer.json"))
    vocab = t["model"]["vocab"]
    keep = {k: v for k, v in vocab.items() if v < 300}   # the 256 byte tokens and the first merges
    merges = [m for m in t["model"]["merges"] if m[0] in keep and m[1] in keep and m[0] + m[1] in keep]
    small = dict(t, model=dict(t["model"], vocab=keep, merges=merges))
    put("tokenizer_load", "small", json.dumps(small, ensure_ascii=False))
    put("tokenizer_load", "string-merges", json.dumps(dict(small, model=dict(small["model"], merges=[
        " ".join(m) for m in merges])), ensure_ascii=False))
    put("tokenizer_load", "no-added", json.dumps(dict(small, added_tokens=[]), ensure_ascii=False))
    few = {k: v for k, v in keep.items() if v < 40}
    put("tokenizer_load", "holes-no-merges", json.dumps(dict(small, model=dict(small["model"], vocab=few, merges=[])),
                                                        ensure_ascii=False))
    put("tokenizer_load", "bad-merge", json.dumps(dict(small, model=dict(small["model"], merges=[["t", "h"], ["t"]])),
                                                  ensure_ascii=False))
    put("tokenizer_load", "wordpiece", json.dumps(dict(small, model={"type": "WordPiece", "vocab": {}})))
    put("tokenizer_load", "not-json", "{\"model\": ")


def encode_seeds():
    texts = {
        "ascii": "\x00Hello, world! The quick brown fox jumps over the lazy dog. 1234567890",
        "specials": "\x01<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
        "specials-as-text": "\x00<|im_start|>user<|endoftext|>",
        "unicode": "\x00caf\u00e9 cafe\u0301 \u4e2d\u6587 \U0001f600 \u0391\u03b2\u03b3 \u00c5ngstr\u00f6m",
        "whitespace": "\x00  \t\r\n\n\n   x  \u3000 y\r\n",
        "contractions": "\x00I'm you'll we've THEY'RE it's I'D",
    }
    for name, text in texts.items():
        put("encode", name, text.encode("utf-8"))
    put("encode", "invalid-utf8", b"\x00ok \xff\xfe \xc3 \xe4\xb8 \xed\xa0\x80 end")
    put("encode", "empty", b"\x01")


def decode_seeds():
    def ids(seq):
        return b"".join(struct.pack("<H", (i + 4) % 65536) for i in seq)   # fuzz_decode maps v -> v - 4
    put("decode", "words", ids([258, 259, 267, 268, 289, 299, 278]))
    put("decode", "bytes", ids(range(0, 256, 7)))
    put("decode", "split-utf8", ids([228, 184, 173, 195]))   # bytes of U+4E2D, then a lone lead byte
    put("decode", "specials", ids([6000, 6001, 6002, 6003, 6004]))
    put("decode", "out-of-range", ids([6005, 6010, -1, -4, 5]))
    put("decode", "empty", b"")


# Must agree with CONFIG in tools/fuzz/fuzz_model_load.c.
MODEL_CONFIG = {"model_type": "qwen3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 8, "vocab_size": 8,
                "max_position_embeddings": 64, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
                "tie_word_embeddings": True}


def model_seeds(protostar):
    c = MODEL_CONFIG
    dim, ffn, hd, vocab = c["hidden_size"], c["intermediate_size"], c["head_dim"], c["vocab_size"]
    rng = random.Random(1)
    def mat(rows, cols):
        return f32([rng.uniform(-0.5, 0.5) for _ in range(rows * cols)])
    p = "model.layers.0."
    tensors = [("model.embed_tokens.weight", "F32", [vocab, dim], mat(vocab, dim)),
               (p + "input_layernorm.weight", "F32", [dim], f32([1.0] * dim)),
               (p + "self_attn.q_proj.weight", "F32", [hd, dim], mat(hd, dim)),
               (p + "self_attn.k_proj.weight", "F32", [hd, dim], mat(hd, dim)),
               (p + "self_attn.v_proj.weight", "F32", [hd, dim], mat(hd, dim)),
               (p + "self_attn.q_norm.weight", "F32", [hd], f32([1.0] * hd)),
               (p + "self_attn.k_norm.weight", "F32", [hd], f32([1.0] * hd)),
               (p + "self_attn.o_proj.weight", "F32", [dim, hd], mat(dim, hd)),
               (p + "post_attention_layernorm.weight", "F32", [dim], f32([1.0] * dim)),
               (p + "mlp.gate_proj.weight", "F32", [ffn, dim], mat(ffn, dim)),
               (p + "mlp.up_proj.weight", "F32", [ffn, dim], mat(ffn, dim)),
               (p + "mlp.down_proj.weight", "F32", [dim, ffn], mat(dim, ffn)),
               ("model.norm.weight", "F32", [dim], f32([1.0] * dim))]
    model = safetensors(tensors, {"format": "pt"})
    put("model_load", "f32", model)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "f32")
        os.makedirs(src)
        with open(os.path.join(src, "config.json"), "w") as f:
            json.dump(c, f)
        with open(os.path.join(src, "model.safetensors"), "wb") as f:
            f.write(model)
        for qtype in ("q8_0", "q4_0", "q4_affine"):
            out = os.path.join(tmp, qtype)
            subprocess.run([protostar, "quantize", "-m", src, "-o", out, "--type", qtype], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            put("model_load", qtype, open(os.path.join(out, "model.safetensors"), "rb").read())
    # Edge cases, edited from the Q8_0 file (the smallest): a missing and an extra tensor, and a
    # separate lm_head that is a copy of the (quantized) embedding.
    q8 = open(os.path.join(ROOT, "model_load", "q8_0"), "rb").read()
    n = struct.unpack("<Q", q8[:8])[0]
    header, data = json.loads(q8[8:8 + n]), q8[8 + n:]
    meta = header.pop("__metadata__", None)
    entries = [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
               for k, v in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])]
    put("model_load", "q8_0-missing-norm", safetensors([e for e in entries if e[0] != "model.norm.weight"], meta))
    put("model_load", "q8_0-extra-bias", safetensors(entries + [(p + "self_attn.q_proj.bias", "F32", [hd], f32([0] * hd))], meta))
    embed = [e for e in entries if e[0] == "model.embed_tokens.weight"][0]
    put("model_load", "q8_0-lm-head-copy", safetensors(entries + [("lm_head.weight",) + embed[1:]], meta))


# Must agree with CONFIG in tools/fuzz/fuzz_mlx_load.c (its "quantization" entry marks the folder).
MLX_CONFIG = {"hidden_size": 32, "intermediate_size": 64, "head_dim": 32, "vocab_size": 8}
MLX_SHARD = "model-00001-of-00001.safetensors"


def bf16(values):
    """Values exact in bfloat16 (the seeds use only such), as its little-endian bytes."""
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)


def mlx_packed(name, rows, cols, bits, group, rng):
    """NAME.weight (U32, mlx_lm's packing), NAME.scales and NAME.biases (BF16) of random levels.
    Scales and biases are small multiples of powers of two: exact in f16 too (M5's Q4A path)."""
    levels = [rng.randrange(1 << bits) for _ in range(rows * cols)]
    per_word = 32 // bits
    words = [sum(levels[w * per_word + k] << (k * bits) for k in range(per_word)) for w in range(len(levels) // per_word)]
    groups = rows * (cols // group)
    scales = [rng.randrange(1, 16) / 512 for _ in range(groups)]
    biases = [-rng.randrange(0, 16) / 64 for _ in range(groups)]
    return [(name + ".weight", "U32", [rows, cols * bits // 32], struct.pack("<%dI" % len(words), *words)),
            (name + ".scales", "BF16", [rows, cols // group], bf16(scales)),
            (name + ".biases", "BF16", [rows, cols // group], bf16(biases))]


def mlx_folder_tensors(plan, rng):
    """The tensors of an mlx_lm checkpoint of MLX_CONFIG's shape: plan maps a matrix's short name to
    (bits, group), or None to store it unquantized (BF16)."""
    c = MLX_CONFIG
    dim, ffn, hd, vocab = c["hidden_size"], c["intermediate_size"], c["head_dim"], c["vocab_size"]
    p = "model.layers.0."
    shapes = [("embed", "model.embed_tokens", vocab, dim), ("q", p + "self_attn.q_proj", hd, dim),
              ("k", p + "self_attn.k_proj", hd, dim), ("v", p + "self_attn.v_proj", hd, dim),
              ("o", p + "self_attn.o_proj", dim, hd), ("gate", p + "mlp.gate_proj", ffn, dim),
              ("up", p + "mlp.up_proj", ffn, dim), ("down", p + "mlp.down_proj", dim, ffn)]
    tensors = []
    for short, name, rows, cols in shapes:
        how = plan.get(short, (4, 32))
        if how is None:
            tensors.append((name + ".weight", "BF16", [rows, cols], bf16([rng.randrange(-8, 8) / 16 for _ in range(rows * cols)])))
        else:
            tensors += mlx_packed(name, rows, cols, how[0], how[1], rng)
    for name, n in [(p + "input_layernorm.weight", dim), (p + "post_attention_layernorm.weight", dim),
                    (p + "self_attn.q_norm.weight", hd), (p + "self_attn.k_norm.weight", hd), ("model.norm.weight", dim)]:
        tensors.append((name, "BF16", [n], bf16([1.0] * n)))
    return tensors


def mlx_seeds():
    rng = random.Random(3)
    q4 = mlx_folder_tensors({}, rng)
    put("mlx_load", "q4g32", safetensors(q4, {"format": "mlx"}))
    put("mlx_load", "q8g32", safetensors(mlx_folder_tensors({k: (8, 32) for k in ("embed", "q", "k", "v", "o", "gate", "up", "down")}, rng), {"format": "mlx"}))
    # down_proj has 64 columns: groups of 64 (M5's Q4A), beside 8-bit and unquantized matrices.
    put("mlx_load", "mixed-q4g64", safetensors(mlx_folder_tensors({"down": (4, 64), "gate": (8, 32), "o": None, "embed": None}, rng), {"format": "mlx"}))
    put("mlx_load", "missing-biases", safetensors([t for t in q4 if t[0] != "model.layers.0.mlp.up_proj.biases"], {"format": "mlx"}))
    shard = safetensors(q4, {"format": "mlx"})
    index = {"metadata": {"total_size": len(shard)}, "weight_map": {t[0]: MLX_SHARD for t in q4}}
    put("mlx_load", "index", json.dumps(index).encode() + b"\0" + shard)
    outside = dict(index, weight_map=dict(index["weight_map"], **{"model.norm.weight": "../" + MLX_SHARD}))
    put("mlx_load", "index-outside", json.dumps(outside).encode() + b"\0" + shard)


def mslstrict_seeds():
    """The strict suite's shaders (each valid MSL or breaking one rule), the engine's own kernels,
    and text cut off where a tokenizer could read past the end."""
    for d in ("shared/msl/tests/strict", "shaders"):
        for name in sorted(os.listdir(d)):
            if name.endswith(".metal"):
                put("mslstrict", name, open(os.path.join(d, name), "rb").read())
    put("mslstrict", "line-markers", '# 1 "a.metal"\nkernel void k(device float *o [[buffer(0)]]) {\n# 7 "b.h" 1\n'
                                     '  o[0] = 1.5e+3f;\n}\n')
    put("mslstrict", "cut-number", "constant float x = 1e")
    put("mslstrict", "cut-string", 'constant char s[] = "abc\\')
    put("mslstrict", "never-closed", "kernel void k(device float *o) {\n  if (o[0] > 0) {\n}\n")
    put("mslstrict", "cut-attribute", "kernel void k(uint i [[thread_position_in_grid")


def main():
    protostar = sys.argv[1] if len(sys.argv) > 1 else "build/protostar"
    # Only the targets written here: corpus/gguf/ is tools/fuzz/make_seeds_gguf.py's.
    for target in ("st_header", "st_index", "config", "genconfig", "tokenizer_load", "encode", "decode",
                   "model_load", "mlx_load", "mslstrict"):
        shutil.rmtree(os.path.join(ROOT, target), ignore_errors=True)
    st_header_seeds()
    st_index_seeds()
    config_seeds()
    genconfig_seeds()
    tokenizer_seeds()
    encode_seeds()
    decode_seeds()
    model_seeds(protostar)
    mlx_seeds()
    mslstrict_seeds()


if __name__ == "__main__":
    main()

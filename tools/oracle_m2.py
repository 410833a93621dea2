#!/usr/bin/env python3
"""oracle_m2.py — golden vectors for labs M1 (load the weights) and M2 (forward pass).

Everything is computed by Hugging Face code (transformers in float32, eager attention, CPU; PyTorch
for the number formats), never by protostar:

  golden/m1/dtypes.psg      every f16 bit pattern and a sample of bf16 ones, widened to f32 by torch
  golden/m1/MODEL.psg       the config as transformers read it, the parameter counts
                            (model.parameters(), tied counted once; and the file's total), and for
                            every tensor of model.state_dict() 16 samples (.idx/.val) and its sum
  golden/m2/MODEL.psg       fixed token ids and the activations at each checkpoint: the embedding,
                            every decoder layer's output (block.L), the final norm, and the logits
                            at every position
  golden/m2/ops-MODEL.psg   inside decoder layer 0 of a model, every intermediate step (for the
                            unit tests of rmsnorm, matmul, QK-norm, RoPE, attention, SwiGLU), and a
                            softmax of large-magnitude inputs

MODEL: models/tiny (the trained tiny model) and the synthetic presets in build/models/ (written by
tools/synth.c: `make synth`). Run on the GPU machine: python3 tools/oracle_m2.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402

import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.models.qwen3 import modeling_qwen3  # noqa: E402

torch.set_num_threads(8)
GEN = f"tools/oracle_m2.py transformers={transformers.__version__} torch={torch.__version__}"
MODELS = [("tiny", "models/tiny")] + [(p, f"build/models/{p}") for p in
                                      ("tiny-mha-f32", "tiny-gqa2-bf16", "small-gqa4-bf16",
                                       "small-tiedcopy-f32")]
OPS_MODELS = ("tiny-gqa2-bf16", "small-gqa4-bf16")   # GQA 2 and 4, head_dim != dim/heads
TINY_PROMPT = "In the beginning God created the heaven and the earth. And the earth was without form"
entries = []


def f32(t):
    return t.detach().to(torch.float32).contiguous().numpy()


def sources(d):
    return {os.path.basename(p): p for p in (f"{d}/config.json", f"{d}/model.safetensors")}


def write(path, tensors, srcs, dtype, tol, note):
    golden.write(path, tensors, GEN)
    entries.append(golden.manifest_entry(path, GEN, srcs, dtype, tol, note))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)", flush=True)


def load(d):
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


# ---- M1 --------------------------------------------------------------------------------------

def dtype_tables():
    bits = torch.from_numpy(np.arange(65536, dtype=np.int64).astype(np.uint16).view(np.int16))
    f16 = f32(bits.view(torch.float16))
    patterns = np.arange(0, 65536, 17, dtype=np.int64)
    bf = torch.from_numpy(patterns.astype(np.uint16).view(np.int16)).view(torch.bfloat16)
    write("golden/m1/dtypes.psg",
          [("f16_to_f32", f16), ("bf16_patterns", patterns.astype(np.int32)), ("bf16_to_f32", f32(bf))],
          {}, "f32", "exact (NaN payloads: NaN-ness only)", "torch .view(float16/bfloat16).float()")


def sample_indices(n):
    return np.unique(np.linspace(0, n - 1, 16).round().astype(np.int64)).astype(np.int32)


def weights_golden(name, d, model):
    cfg = model.config
    rope = getattr(cfg, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(cfg, "rope_theta", None))
    conf = np.array([cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.num_attention_heads,
                     cfg.num_key_value_heads, cfg.head_dim, cfg.vocab_size, cfg.max_position_embeddings,
                     int(bool(cfg.tie_word_embeddings))], dtype=np.int32)
    conf_f = np.array([cfg.rms_norm_eps, theta], dtype=np.float32)
    logical = sum(p.numel() for p in model.parameters())
    with safe_open(f"{d}/model.safetensors", "pt") as f:
        stored = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    tensors = [("config", conf), ("config_f", conf_f), ("params", np.array([logical, stored], dtype=np.int32))]
    sd = dict(model.state_dict())
    sd.setdefault("lm_head.weight", model.lm_head.weight)
    for key in sorted(sd):
        flat = f32(sd[key]).reshape(-1)
        idx = sample_indices(flat.size)
        tensors += [(f"{key}.idx", idx), (f"{key}.val", flat[idx]),
                    (f"{key}.sum", np.array([flat.astype(np.float64).sum()], dtype=np.float32))]
    write(f"golden/m1/{name}.psg", tensors, sources(d), "f32",
          "samples exact; sums rtol 1e-5", "transformers from_pretrained(dtype=float32).state_dict()")


# ---- M2 --------------------------------------------------------------------------------------

def prompt_ids(name, d, vocab):
    if name == "tiny":
        tok = AutoTokenizer.from_pretrained(d)
        return tok(TINY_PROMPT, add_special_tokens=False)["input_ids"]
    # 20 fixed ids spread over the vocabulary, with repeats (the causal mask must keep them apart)
    return [(7 * i * i + 3 * i + 1) % vocab for i in range(16)] + [1, 2, 1, 2]


def grab(store, key):
    """A forward hook keeping the module's output (store[key]) and its first input (key + '.in')."""
    def hook(_module, args, kwargs, out):
        store[key] = out[0] if isinstance(out, tuple) else out
        store[key + ".in"] = args[0] if args else kwargs.get("hidden_states")
    return hook


def forward_golden(name, d, model):
    ids = prompt_ids(name, d, model.config.vocab_size)
    acts, handles = {}, []
    inner = model.model
    handles.append(inner.embed_tokens.register_forward_hook(with_kwargs=True, hook=grab(acts, "embedding")))
    for i, layer in enumerate(inner.layers):
        handles.append(layer.register_forward_hook(with_kwargs=True, hook=grab(acts, f"block.{i}")))
    handles.append(inner.norm.register_forward_hook(with_kwargs=True, hook=grab(acts, "final_norm")))
    a = inner.layers[0]
    for key, mod in [("attn_norm", a.input_layernorm), ("q_proj", a.self_attn.q_proj), ("k_proj", a.self_attn.k_proj),
                     ("v_proj", a.self_attn.v_proj), ("q_norm", a.self_attn.q_norm), ("k_norm", a.self_attn.k_norm),
                     ("o_proj", a.self_attn.o_proj), ("mlp_norm", a.post_attention_layernorm),
                     ("gate", a.mlp.gate_proj), ("up", a.mlp.up_proj), ("down", a.mlp.down_proj)]:
        handles.append(mod.register_forward_hook(with_kwargs=True, hook=grab(acts, "l0." + key)))
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=input_ids, use_cache=False).logits[0]
    for h in handles:
        h.remove()
    n = len(ids)
    flat = lambda t: f32(t).reshape(n, -1)  # noqa: E731
    tensors = [("ids", np.array(ids, dtype=np.int32)), ("embedding", flat(acts["embedding"]))]
    tensors += [(f"block.{i}", flat(acts[f"block.{i}"])) for i in range(model.config.num_hidden_layers)]
    tensors += [("final_norm", flat(acts["final_norm"])), ("logits", flat(logits))]
    write(f"golden/m2/{name}.psg", tensors, sources(d), "f32", "atol 1e-4, rtol 1e-4",
          "forward hooks on embed_tokens, each decoder layer, the final norm; logits at every position")
    if name in OPS_MODELS:
        ops_golden(name, d, model, acts, n)


def ops_golden(name, d, model, acts, n):
    cfg = model.config
    hd = cfg.head_dim
    # RoPE by transformers' own functions: the rotary embedding module and apply_rotary_pos_emb
    qn = acts["l0.q_norm"].reshape(1, n, -1, hd).transpose(1, 2)
    kn = acts["l0.k_norm"].reshape(1, n, -1, hd).transpose(1, 2)
    pos = torch.arange(n).unsqueeze(0)
    with torch.no_grad():
        cos, sin = model.model.rotary_emb(acts["l0.attn_norm.in"], pos)
        q_rope, k_rope = modeling_qwen3.apply_rotary_pos_emb(qn, kn, cos, sin)
    flat = lambda t: f32(t).reshape(n, -1)  # noqa: E731
    rows = lambda t: f32(t.transpose(1, 2)).reshape(n, -1)  # noqa: E731
    gen = torch.Generator().manual_seed(2)
    soft_in = torch.stack([torch.randn(50, generator=gen) * 40 + 300, torch.randn(50, generator=gen) * 3])
    tensors = [
        ("x", flat(acts["l0.attn_norm.in"])), ("attn_norm", flat(acts["l0.attn_norm"])),
        ("q_proj", flat(acts["l0.q_proj"])), ("k_proj", flat(acts["l0.k_proj"])), ("v_proj", flat(acts["l0.v_proj"])),
        ("q_norm", flat(acts["l0.q_norm"])), ("k_norm", flat(acts["l0.k_norm"])),
        ("q_rope", rows(q_rope)), ("k_rope", rows(k_rope)),
        ("attn_out", flat(acts["l0.o_proj.in"])), ("o_proj", flat(acts["l0.o_proj"])),
        ("h", flat(acts["l0.mlp_norm.in"])), ("mlp_norm", flat(acts["l0.mlp_norm"])),
        ("gate", flat(acts["l0.gate"])), ("up", flat(acts["l0.up"])),
        ("act", flat(acts["l0.down.in"])), ("down", flat(acts["l0.down"])), ("out", flat(acts["block.0"])),
        ("softmax_in", f32(soft_in)), ("softmax_out", f32(torch.softmax(soft_in, dim=-1))),
    ]
    write(f"golden/m2/ops-{name}.psg", tensors, sources(d), "f32", "atol 1e-4, rtol 1e-4",
          "decoder layer 0 step by step (forward hooks; RoPE via modeling_qwen3.apply_rotary_pos_emb)")


def main():
    os.makedirs("golden/m1", exist_ok=True)
    os.makedirs("golden/m2", exist_ok=True)
    dtype_tables()
    for name, d in MODELS:
        if not os.path.exists(f"{d}/model.safetensors"):
            sys.exit(f"{d}/model.safetensors is missing (make synth / models/tiny)")
        model = load(d)
        weights_golden(name, d, model)
        forward_golden(name, d, model)
    golden.update_manifest(entries)


if __name__ == "__main__":
    main()

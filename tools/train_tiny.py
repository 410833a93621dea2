#!/usr/bin/env python3
"""train_tiny.py — train the embedded tiny Qwen3 model committed under models/tiny/.

Runs on the GPU machine (torch, transformers 5.x, tokenizers, safetensors), in one go:
  1. trains a byte-level BPE tokenizer on the corpus with Qwen3's exact normalizer,
     pre-tokenizer, decoder and added-token flags (copied from Qwen3's tokenizer.json, so
     the M0 lab walks the same code path as with the real tokenizer);
  2. trains a Qwen3ForCausalLM of a few million parameters that keeps Qwen3's quirks
     (head_dim != hidden/heads, GQA 2:1, QK-norm, tied embeddings, rope_theta 1e6,
     embedding rows padded past the tokenizer's last id);
  3. saves the checkpoint with the best held-out loss in bf16 with save_pretrained, writes
     tokenizer_config.json (Qwen3's chat template verbatim) and generation_config.json;
  4. reloads the directory with transformers, measures held-out perplexity in float32 and
     generates greedily from a few prompts; writes metrics.json and loss.png.

Inputs: --corpus DIR with train.txt and heldout.txt (tools/make_corpus.sh), --qwen DIR with
Qwen3's tokenizer.json and tokenizer_config.json (make tokenizer). Output: --out DIR.
"""
import argparse
import hashlib
import json
import math
import os
import time
import unicodedata

import torch
import torch.nn.functional as F
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers
import transformers
from transformers import (AutoModelForCausalLM, AutoTokenizer, GenerationConfig,
                          Qwen3Config, Qwen3ForCausalLM)

from atomic_write import replacing

# Qwen3's pre-tokenizer split pattern (also asserted against Qwen3's tokenizer.json).
QWEN3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Added after the BPE vocabulary, in Qwen3's order, so they get the highest ids like there.
ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
EOT, IM_END = "<|endoftext|>", "<|im_end|>"
DOC_SEP = "\n<|endoftext|>\n"          # book separator written by make_corpus.sh
PROMPTS = ["In the beginning God created", "And Jesus said unto them,",
           "The LORD is my shepherd;", "And I saw a new heaven"]
TOKENIZER_PROBES = ["Hello, world! I'm here; they'll see 12345 apples.\n\n  indented\tTab",
                    "Caf\u00e9 na\u0131\u0308ve \u00fcber \u4f60\u597d \U0001f600 --- ok?!",
                    "<|im_start|>user\nWho is Moses?<|im_end|>\n<think>\n\n</think>\n\n"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default=".corpus")
    p.add_argument("--qwen", default="models/qwen3-0.6b")
    p.add_argument("--out", required=True)
    p.add_argument("--bpe-vocab", type=int, default=6000)
    p.add_argument("--vocab-rows", type=int, default=6016, help="embedding rows (padded)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=96)
    p.add_argument("--ffn", type=int, default=768)
    p.add_argument("--max-pos", type=int, default=2048)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--max-train-seconds", type=float, default=270.0)
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [d.strip("\n") for d in text.split(DOC_SEP) if d.strip()]


def train_tokenizer(docs, qwen_tok_json, bpe_vocab):
    """Byte-level BPE whose whole pipeline JSON equals Qwen3's except vocab and merges."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=bpe_vocab, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer=trainer)
    assert tok.get_vocab_size() == bpe_vocab, tok.get_vocab_size()

    # Take Qwen3's JSON for every stage but the learned model, field for field, and the
    # added tokens' flags (lstrip, special, ...) from its entries with the same content.
    ours = json.loads(tok.to_str())
    with open(qwen_tok_json, encoding="utf-8") as f:
        qwen = json.load(f)
    assert qwen["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == QWEN3_SPLIT
    diffs = [k for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder")
             if ours[k] != qwen[k]]
    for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        ours[k] = qwen[k]
    for k, v in qwen["model"].items():
        if k not in ("vocab", "merges"):
            ours["model"][k] = v
    flags = {t["content"]: t for t in qwen["added_tokens"]}
    ours["added_tokens"] = []
    for i, content in enumerate(ADDED):
        entry = dict(flags[content])
        entry["id"] = bpe_vocab + i
        ours["added_tokens"].append(entry)
    final = Tokenizer.from_str(json.dumps(ours))
    for i, content in enumerate(ADDED):
        assert final.token_to_id(content) == bpe_vocab + i, content
    return final, diffs, qwen


def write_tokenizer_config(path, qwen_dir, bpe_vocab, max_len):
    """Qwen3's tokenizer_config.json with our ids; chat template copied verbatim."""
    with open(os.path.join(qwen_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        q = json.load(f)
    decoder = {}
    for i, content in enumerate(ADDED):
        flags = next(v for v in q["added_tokens_decoder"].values() if v["content"] == content)
        decoder[str(bpe_vocab + i)] = flags
    cfg = {
        "add_bos_token": q["add_bos_token"], "add_prefix_space": q["add_prefix_space"],
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None, "chat_template": q["chat_template"],
        "clean_up_tokenization_spaces": False, "eos_token": IM_END, "errors": "replace",
        "model_max_length": max_len, "pad_token": EOT, "split_special_tokens": False,
        "tokenizer_class": q["tokenizer_class"], "unk_token": None,
    }
    with replacing(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def make_config(a, eot_id, im_end_id):
    common = dict(vocab_size=a.vocab_rows, hidden_size=a.hidden, intermediate_size=a.ffn,
                  num_hidden_layers=a.layers, num_attention_heads=a.heads,
                  num_key_value_heads=a.kv_heads, head_dim=a.head_dim, hidden_act="silu",
                  max_position_embeddings=a.max_pos, initializer_range=0.02,
                  rms_norm_eps=1e-6, tie_word_embeddings=True, attention_bias=False,
                  attention_dropout=0.0, use_sliding_window=False, sliding_window=None,
                  max_window_layers=a.layers, bos_token_id=eot_id, eos_token_id=im_end_id)
    try:   # transformers 5.x
        return Qwen3Config(rope_parameters={"rope_type": "default", "rope_theta": 1e6}, **common)
    except TypeError:   # 4.x
        return Qwen3Config(rope_theta=1e6, **common)


def rope_theta_of(config):
    rp = getattr(config, "rope_parameters", None)
    if isinstance(rp, dict) and "rope_theta" in rp:
        return rp["rope_theta"]
    return getattr(config, "rope_theta", None)


@torch.no_grad()
def mean_nll(model, ids, seq, dev, autocast=True):
    """Mean next-token NLL over non-overlapping windows covering the whole id stream."""
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(ids) - 1, seq):
        y = ids[s + 1:s + seq + 1].unsqueeze(0).to(dev)
        x = ids[s:s + y.shape[1]].unsqueeze(0).to(dev)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast and dev == "cuda"):
            logits = model(input_ids=x, use_cache=False).logits
        total += F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1),
                                 reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def encode_docs(tok, docs, eot_id):
    ids = []
    for d in docs:
        ids.extend(tok.encode(d, add_special_tokens=False).ids)
        ids.append(eot_id)
    return torch.tensor(ids, dtype=torch.long)


def plot(metrics, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: loss.png not written (metrics.json has the curve)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    tr = metrics["train_curve"]
    ax.plot([p[0] for p in tr], [p[1] for p in tr], lw=0.8, label="train (batch loss, avg of 10)")
    ev = metrics["eval_curve"]
    ax.plot([p[0] for p in ev], [p[1] for p in ev], "o-", ms=3, label="held-out (1 John-Revelation)")
    ax.axvline(metrics["best_step"], color="gray", ls="--", lw=0.8, label="saved checkpoint")
    ax.set_xlabel("step (%d x %d tokens)" % (metrics["args"]["batch"], metrics["args"]["seq"]))
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("models/tiny: Qwen3 %.1fM params on the KJV" % (metrics["params"] / 1e6))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.time()
    metrics = {"args": vars(a), "versions": {"torch": torch.__version__,
               "transformers": transformers.__version__,
               "tokenizers": __import__("tokenizers").__version__},
               "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu"}
    train_path, held_path = (os.path.join(a.corpus, n) for n in ("train.txt", "heldout.txt"))
    metrics["corpus_sha256"] = {"train.txt": sha256_file(train_path),
                                "heldout.txt": sha256_file(held_path)}
    train_docs, held_docs = load_docs(train_path), load_docs(held_path)
    print(f"corpus: {len(train_docs)} train books, {len(held_docs)} held-out books")

    # 1. tokenizer
    tok, diffs, qwen = train_tokenizer(train_docs, os.path.join(a.qwen, "tokenizer.json"),
                                       a.bpe_vocab)
    metrics["tokenizer_stages_rewritten_from_qwen"] = diffs
    print("tokenizer: vocab", tok.get_vocab_size(), "- stages that differed before copying:", diffs)
    qwen_tok = Tokenizer.from_str(json.dumps(qwen))
    checks = {}
    for s in TOKENIZER_PROBES:   # same pre-tokenization as Qwen3 on awkward strings
        same_pre = (tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(s)) ==
                    qwen_tok.pre_tokenizer.pre_tokenize_str(qwen_tok.normalizer.normalize_str(s)))
        round_trip = tok.decode(tok.encode(s).ids, skip_special_tokens=False) == \
            unicodedata.normalize("NFC", s)
        checks[s] = {"same_pretokens_as_qwen3": same_pre, "decode_round_trip": round_trip}
        if not (same_pre and round_trip):
            print("WARNING tokenizer check failed:", repr(s), checks[s])
    metrics["tokenizer_checks"] = checks
    eot_id, im_end_id = tok.token_to_id(EOT), tok.token_to_id(IM_END)
    train_ids = encode_docs(tok, train_docs, eot_id)
    held_ids = encode_docs(tok, held_docs, eot_id)
    metrics["tokens"] = {"train": len(train_ids), "heldout": len(held_ids)}
    print(f"tokens: train {len(train_ids)}, held-out {len(held_ids)} ({time.time() - t0:.1f}s)")

    # 2. model
    config = make_config(a, eot_id, im_end_id)
    assert rope_theta_of(config) == 1e6, rope_theta_of(config)
    model = Qwen3ForCausalLM(config).to(dev)
    params = sum(p.numel() for p in model.parameters())   # tied: embedding counted once
    metrics["params"] = params
    print(f"model: {params / 1e6:.2f}M parameters, config rope_theta {rope_theta_of(config)}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "embed" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=(dev == "cuda"))
    gen = torch.Generator().manual_seed(a.seed)
    train_gpu = train_ids.to(dev)
    offsets = torch.arange(a.seq + 1, device=dev)
    train_curve, eval_curve, window = [], [], []
    best = (float("inf"), -1, None)
    t_train = time.time()
    step = 0
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a)
        starts = torch.randint(0, len(train_ids) - a.seq - 1, (a.batch,), generator=gen).to(dev)
        chunk = train_gpu[starts[:, None] + offsets]
        x, y = chunk[:, :-1], chunk[:, 1:]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev == "cuda"):
            logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        window.append(loss.detach())
        if (step + 1) % 10 == 0:   # one host sync per 10 steps
            train_curve.append((step + 1, torch.stack(window).mean().item()))
            window = []
        last = step + 1 == a.steps or time.time() - t_train > a.max_train_seconds
        if (step + 1) % a.eval_every == 0 or last:
            h = mean_nll(model, held_ids, a.seq, dev)
            eval_curve.append((step + 1, h))
            if h < best[0]:
                best = (h, step + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
            print(f"step {step + 1:5d}  lr {lr_at(step, a):.2e}  train {train_curve[-1][1]:.3f}"
                  f"  held-out {h:.3f} (ppl {math.exp(h):.1f})  {time.time() - t_train:.0f}s")
        if last:
            break
    metrics.update(train_curve=train_curve, eval_curve=eval_curve, steps_run=step + 1,
                   train_seconds=round(time.time() - t_train, 1), best_step=best[1],
                   best_heldout_nll_bf16_autocast=best[0])
    print(f"trained {step + 1} steps in {metrics['train_seconds']}s; best held-out at step {best[1]}")

    # 3. save: best checkpoint in bf16, as transformers writes it
    model.load_state_dict(best[2])
    model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    model.save_pretrained(a.out)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    write_tokenizer_config(os.path.join(a.out, "tokenizer_config.json"), a.qwen, a.bpe_vocab,
                           a.max_pos)
    GenerationConfig(bos_token_id=eot_id, do_sample=True, eos_token_id=[im_end_id, eot_id],
                     pad_token_id=eot_id, temperature=0.6, top_k=20, top_p=0.95
                     ).save_pretrained(a.out)
    # Keep the 4.x-style top-level rope_theta beside rope_parameters if transformers accepts it.
    cfg_path = os.path.join(a.out, "config.json")
    with open(cfg_path) as f:
        cfg_text = f.read()
    cfg = json.loads(cfg_text)
    metrics["config_as_saved"] = cfg
    if "rope_theta" not in cfg:
        cfg["rope_theta"] = 1000000.0
        with replacing(cfg_path, "w") as f:
            f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        try:
            c2 = transformers.AutoConfig.from_pretrained(a.out)
            ok = rope_theta_of(c2) == 1e6
        except Exception as e:   # noqa: BLE001 — any failure means: do not keep it
            print("top-level rope_theta rejected:", repr(e))
            ok = False
        metrics["top_level_rope_theta_tolerated"] = ok
        if not ok:
            with replacing(cfg_path, "w") as f:
                f.write(cfg_text)
    print("config.json:", open(cfg_path).read())

    # 4. reload with transformers: perplexity in float32, greedy samples, tokenizer parity
    m2 = AutoModelForCausalLM.from_pretrained(a.out, dtype=torch.float32,
                                              attn_implementation="eager").to(dev)
    t2 = AutoTokenizer.from_pretrained(a.out)
    h32 = mean_nll(m2, held_ids, a.seq, dev, autocast=False)
    tr32 = mean_nll(m2, train_ids[:len(held_ids)], a.seq, dev, autocast=False)
    metrics["heldout_nll_fp32"] = h32
    metrics["heldout_ppl_fp32"] = math.exp(h32)
    metrics["train_sample_ppl_fp32"] = math.exp(tr32)
    metrics["heldout_bytes_per_token"] = len(open(held_path, "rb").read()) / len(held_ids)
    print(f"reloaded bf16 weights in fp32: held-out ppl {math.exp(h32):.2f}, "
          f"train-sample ppl {math.exp(tr32):.2f}")
    parity = {s: (t2.encode(s, add_special_tokens=False) == tok.encode(s).ids)
              for s in TOKENIZER_PROBES + PROMPTS}
    metrics["autotokenizer_matches_tokenizers"] = parity
    print("AutoTokenizer == tokenizers:", parity, type(t2).__name__)
    chat = t2.apply_chat_template([{"role": "user", "content": "Who was Moses?"}],
                                  tokenize=False, add_generation_prompt=True,
                                  enable_thinking=False)
    metrics["chat_template_sample"] = chat
    print("chat template:", repr(chat))
    samples = {}
    for p in PROMPTS:
        enc = t2(p, return_tensors="pt").to(dev)
        out = m2.generate(**enc, max_new_tokens=60, do_sample=False, top_k=None, top_p=None,
                          temperature=None)
        samples[p] = t2.decode(out[0], skip_special_tokens=False)
        print("GREEDY:", repr(samples[p]))
    metrics["greedy_samples"] = samples
    metrics["files_sha256"] = {n: sha256_file(os.path.join(a.out, n)) for n in sorted(os.listdir(a.out))
                               if n.endswith((".json", ".safetensors"))}
    metrics["total_seconds"] = round(time.time() - t0, 1)
    with replacing(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    plot(metrics, os.path.join(a.out, "loss.png"))
    print("done in", metrics["total_seconds"], "s")


if __name__ == "__main__":
    main()

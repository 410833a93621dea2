#!/usr/bin/env python3
"""oracle_m3.py — golden vectors for lab M3 (sampling, generation, chat template).

Everything here is computed by Hugging Face code (transformers' logits processors and generate(),
tokenizers' apply_chat_template), never by protostar:

  golden/m3/samplers.psg   fixed logits vectors and what each logits processor leaves of them:
                           RepetitionPenalty, Temperature, TopK, TopP, MinP, each alone, and the
                           whole chain in the order generate() builds it, with its probabilities
  golden/m3/chat.psg       conversations (roles, contents, flags) and the text Qwen3's chat
                           template renders for them (apply_chat_template, tokenize=False)
  golden/m3/greedy-NAME.psg  prompts and generate(do_sample=False) continuations of a model
                           (models/tiny, synthetic presets in build/models/), with the top-1/top-2
                           margin of the scores at every step (a test only trusts a step whose
                           margin, and every earlier one, is > 1e-3)

Run on the GPU machine: python3 tools/oracle_m3.py  (float32, eager attention, CPU).
"""
import inspect
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402

import transformers  # noqa: E402
from transformers import (AutoModelForCausalLM, AutoTokenizer, GenerationConfig,  # noqa: E402
                          LogitsProcessorList, MinPLogitsWarper,
                          RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                          TopKLogitsWarper, TopPLogitsWarper)

torch.set_num_threads(8)
GEN = f"tools/oracle_m3.py transformers={transformers.__version__} torch={torch.__version__}"
OUT = "golden/m3"
QWEN_DIR = "models/qwen3-0.6b"
TINY_DIR = "models/tiny"
entries = []

# ---------------------------------------------------------------------------------------------
# 1. samplers on fixed logits
#
# Case kinds (the C test switches on them): params are always [temperature, top_k, top_p, min_p,
# repetition_penalty]; a kind uses only its own parameter. Parameters are chosen exactly
# representable in float32 where the comparison is a threshold (top-p, min-p).
KIND_REP, KIND_TEMP, KIND_TOPK, KIND_TOPP, KIND_MINP, KIND_CHAIN = range(6)


def make_inputs():
    rng = np.random.default_rng(20240603)
    v = 64
    xs = [
        # 0: ordinary logits, no ties
        (rng.standard_normal(v) * 2.5).astype(np.float32),
        # 1: one dominant token and a long flat tail (top-p and min-p cut deep), no ties
        np.concatenate([[9.0], rng.standard_normal(v - 1) * 0.5]).astype(np.float32),
        # 2: large magnitudes: a softmax that does not subtract the max overflows
        (rng.standard_normal(v) * 40 + 500).astype(np.float32),
        # 3: many ties (small integers): top-k must keep every tie of the k-th value
        rng.integers(-4, 5, v).astype(np.float32),
    ]
    # Ids the repetition penalty sees: duplicates, and both positive and negative logits.
    history = np.array([3, 7, 7, 12, 0, 63, 3, 30, 31, 31, 31, 45], dtype=np.int32)
    return xs, history


def apply(proc, x, history):
    scores = torch.from_numpy(x.copy()).unsqueeze(0)
    ids = torch.from_numpy(history.astype(np.int64)).unsqueeze(0)
    return proc(ids, scores)[0].numpy().astype(np.float32)


def hf_chain(temperature, top_k, top_p, min_p, rep):
    """The processors generate() itself builds for these settings, in its order."""
    gc = GenerationConfig(do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p,
                          min_p=min_p, repetition_penalty=rep)
    model = hf_chain.model
    fn = model._get_logits_processor
    params = inspect.signature(fn).parameters
    kwargs = dict(generation_config=gc, input_ids_seq_length=8, encoder_input_ids=None,
                  prefix_allowed_tokens_fn=None, logits_processor=LogitsProcessorList(),
                  device="cpu", model_kwargs={}, negative_prompt_ids=None,
                  negative_prompt_attention_mask=None)
    procs = fn(**{k: v for k, v in kwargs.items() if k in params})
    return procs


def samplers():
    xs, history = make_inputs()
    # A throwaway tiny Qwen3 only to ask generate()'s own builder which processors it makes.
    cfg = transformers.Qwen3Config(vocab_size=64, hidden_size=16, intermediate_size=32,
                                   num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1, head_dim=8)
    hf_chain.model = AutoModelForCausalLM.from_config(cfg)

    cases = []  # (kind, params, input index, processor or None)
    for i in range(len(xs)):
        for r in (1.3, 0.8):
            cases.append((KIND_REP, [1, 0, 1, 0, r], i, RepetitionPenaltyLogitsProcessor(r)))
        for t in (0.5, 0.7, 1.5):
            cases.append((KIND_TEMP, [t, 0, 1, 0, 1], i, TemperatureLogitsWarper(t)))
        for k in (1, 5, 10, 64):
            cases.append((KIND_TOPK, [1, k, 1, 0, 1], i, TopKLogitsWarper(k)))
        if i != 3:  # ties make torch.sort's order (and so top-p's cut) unspecified
            for p in (0.25, 0.5, 0.75, 0.875):
                cases.append((KIND_TOPP, [1, 0, p, 0, 1], i, TopPLogitsWarper(p)))
        for m in (0.0625, 0.125, 0.5):
            cases.append((KIND_MINP, [1, 0, 1, m, 1], i, MinPLogitsWarper(m)))
    chains = [[0.7, 10, 0.75, 0.0625, 1.3], [1.5, 0, 0.875, 0.0, 1.0], [0.5, 20, 1.0, 0.125, 1.1],
              [1.0, 0, 0.5, 0.0, 1.0], [0.6, 20, 0.875, 0.0, 1.0]]
    for i in (0, 1):
        for c in chains:
            cases.append((KIND_CHAIN, c, i, None))

    tensors = [("history", history)]
    for i, x in enumerate(xs):
        tensors.append((f"x{i}", x))
        tensors.append((f"softmax{i}", torch.softmax(torch.from_numpy(x), -1).numpy()))
    order_seen = None
    for n, (kind, params, i, proc) in enumerate(cases):
        if kind == KIND_CHAIN:
            t, k, p, m, r = params
            try:
                procs = hf_chain(t, int(k), p, m if m > 0 else None, r)
            except Exception as e:  # noqa: BLE001 — a private API; fall back to the documented order
                print("WARNING: generate()'s processor builder failed:", repr(e))
                procs = LogitsProcessorList(
                    ([RepetitionPenaltyLogitsProcessor(r)] if r != 1 else []) +
                    ([TemperatureLogitsWarper(t)] if t != 1 else []) +
                    ([TopKLogitsWarper(int(k))] if k else []) +
                    ([TopPLogitsWarper(p)] if p < 1 else []) + ([MinPLogitsWarper(m)] if m else []))
            names = [type(q).__name__ for q in procs]
            if order_seen is None:
                order_seen = names
                print("generate() builds, in this order:", " -> ".join(names))
            out = apply(procs, xs[i], history)
            tensors.append((f"case{n}.probs", torch.softmax(torch.from_numpy(out), -1).numpy()))
        else:
            out = apply(proc, xs[i], history)
        tensors.append((f"case{n}.kind", np.array([kind], dtype=np.int32)))
        tensors.append((f"case{n}.input", np.array([i], dtype=np.int32)))
        tensors.append((f"case{n}.params", np.array(params, dtype=np.float32)))
        tensors.append((f"case{n}.out", out))
    tensors.insert(0, ("ncases", np.array([len(cases)], dtype=np.int32)))
    path = f"{OUT}/samplers.psg"
    golden.write(path, tensors, GEN)
    entries.append(golden.manifest_entry(
        path, GEN, {}, "f32", "atol 1e-6 rtol 1e-5; -inf positions exact",
        "logits processors of transformers on fixed logits; chain order: " + " -> ".join(order_seen)))
    print(f"{path}: {len(cases)} cases")


# ---------------------------------------------------------------------------------------------
# 2. the chat template

CONVERSATIONS = [
    # (messages, add_generation_prompt, enable_thinking: True / False / None = not passed)
    ([{"role": "user", "content": "Who was Moses?"}], True, None),
    ([{"role": "user", "content": "Who was Moses?"}], True, False),
    ([{"role": "system", "content": "You are a terse assistant."},
      {"role": "user", "content": "Name a river."},
      {"role": "assistant", "content": "The Jordan."},
      {"role": "user", "content": "And a sea?"}], True, True),
    # Thinking kept in the turn after the last user message, dropped before it.
    ([{"role": "user", "content": "2+2?"},
      {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n4"},
      {"role": "user", "content": "Times 3?"},
      {"role": "assistant", "content": "<think>\n\n4*3 is 12.\n\n</think>\n\n\n12"}], False, None),
    # reasoning_content given separately; the last message is the assistant's.
    ([{"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello!", "reasoning_content": "\nGreet back.\n"}], False, None),
    # Last assistant message without thinking still gets an (empty) think block.
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], False, None),
    # Tool results: consecutive ones share one user turn; the user turn before counts as the query.
    ([{"role": "user", "content": "Weather in Paris and Rome?"},
      {"role": "assistant", "content": "<think>Need both.</think>Checking."},
      {"role": "tool", "content": "{\"paris\": 18}"},
      {"role": "tool", "content": "{\"rome\": 24}"},
      {"role": "assistant", "content": "Paris 18, Rome 24."}], True, False),
    # A user message that is a wrapped tool response does not count as the last query.
    ([{"role": "user", "content": "Go"},
      {"role": "assistant", "content": "<think>a</think>b"},
      {"role": "user", "content": "<tool_response>ok</tool_response>"},
      {"role": "assistant", "content": "<think>c</think>d"}], True, None),
    # A system message that is not first is written like a user turn; non-ASCII text.
    ([{"role": "user", "content": "Grüße — 你好 😀"},
      {"role": "system", "content": "Reply in French."},
      {"role": "user", "content": "Bonjour ?"}], True, False),
    # Empty contents and several think tags.
    ([{"role": "system", "content": ""},
      {"role": "user", "content": ""},
      {"role": "assistant", "content": "<think>x<think>y</think>mid</think>\nend"}], True, True),
]


def chat():
    tok = AutoTokenizer.from_pretrained(QWEN_DIR)
    tiny_tok = AutoTokenizer.from_pretrained(TINY_DIR) if os.path.exists(
        f"{TINY_DIR}/tokenizer_config.json") else None
    tensors = [("nconv", np.array([len(CONVERSATIONS)], dtype=np.int32))]
    u8 = lambda s: np.frombuffer(s.encode("utf-8"), dtype=np.uint8)  # noqa: E731
    for c, (msgs, gen_prompt, thinking) in enumerate(CONVERSATIONS):
        kw = {} if thinking is None else {"enable_thinking": thinking}
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen_prompt, **kw)
        if tiny_tok is not None:
            t2 = tiny_tok.apply_chat_template(msgs, tokenize=False,
                                              add_generation_prompt=gen_prompt, **kw)
            assert t2 == text, f"models/tiny's template renders conversation {c} differently"
        flags = [len(msgs), int(gen_prompt), 1 if thinking is None else int(thinking)]
        tensors.append((f"c{c}.flags", np.array(flags, dtype=np.int32)))
        for j, m in enumerate(msgs):
            tensors.append((f"c{c}.m{j}.role", u8(m["role"])))
            tensors.append((f"c{c}.m{j}.content", u8(m["content"])))
            if "reasoning_content" in m:
                tensors.append((f"c{c}.m{j}.reasoning", u8(m["reasoning_content"])))
        tensors.append((f"c{c}.text", u8(text)))
        tensors.append((f"c{c}.ids", np.array(tok.encode(text), dtype=np.int32)))
        print(f"conversation {c}: {text!r}")
    path = f"{OUT}/chat.psg"
    golden.write(path, tensors, GEN)
    sources = {"tokenizer_config": f"{QWEN_DIR}/tokenizer_config.json"}
    entries.append(golden.manifest_entry(
        path, GEN, sources, "u8", "exact",
        "tokenizer.apply_chat_template(tokenize=False) of Qwen3-0.6B; models/tiny's template "
        "renders the same" if tiny_tok else "tokenizer.apply_chat_template of Qwen3-0.6B"))


# ---------------------------------------------------------------------------------------------
# 3. greedy continuations

TEXT_PROMPTS = ["In the beginning", "And Jesus said unto them,", "The LORD is my shepherd;",
                "<|im_start|>user\nWho was Moses?<|im_end|>\n<|im_start|>assistant\n"]


def model_dirs():
    """models/tiny and each small synthetic preset in build/models/ (made by tools/synth)."""
    out = []
    if os.path.exists(f"{TINY_DIR}/model.safetensors"):
        out.append(("tiny", TINY_DIR))
    if os.path.isdir("build/models"):
        for name in sorted(os.listdir("build/models")):
            d = f"build/models/{name}"
            st = f"{d}/model.safetensors"
            if os.path.exists(st) and os.path.getsize(st) < 64 << 20:
                out.append((f"synth-{name}", d))
    return out


def eos_ids(d):
    """The stop ids generate() uses: generation_config.json's eos_token_id, else config.json's."""
    for f in ("generation_config.json", "config.json"):
        path = f"{d}/{f}"
        if os.path.exists(path):
            with open(path) as fh:
                e = json.load(fh).get("eos_token_id")
            if e is not None:
                return e if isinstance(e, list) else [e]
    return []


def greedy(name, d):
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    eos = eos_ids(d)
    if os.path.exists(f"{d}/tokenizer.json"):
        tok = AutoTokenizer.from_pretrained(d)
        prompts = [tok.encode(p) for p in TEXT_PROMPTS]
    else:
        rng = np.random.default_rng(7)
        prompts = [[int(i) for i in rng.integers(0, model.config.vocab_size, n)] for n in (1, 5, 17)]
    # (prompt, repetition penalty, new tokens): every prompt plain and penalized, and one long
    # run so that M4's cache is exercised over a few hundred positions.
    runs = [(p, r, 32) for r in (1.0, 1.3) for p in prompts] + [(prompts[0], 1.0, 200)]
    tensors = [("eos", np.array(eos, dtype=np.int32)), ("nruns", np.array([len(runs)], dtype=np.int32))]
    for n, (ids, penalty, new_tokens) in enumerate(runs):
        x = torch.tensor([ids], dtype=torch.long)
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                                 max_new_tokens=new_tokens, repetition_penalty=penalty,
                                 eos_token_id=eos or None, pad_token_id=eos[0] if eos else 0,
                                 temperature=None, top_k=None, top_p=None,
                                 output_scores=True, return_dict_in_generate=True)
        gen = out.sequences[0, len(ids):].tolist()
        margins = []
        for s in out.scores:  # the processed scores generate() took the argmax of
            top2 = torch.topk(s[0].float(), 2).values
            margins.append(float(top2[0] - top2[1]))
        tensors += [(f"r{n}.prompt", np.array(ids, dtype=np.int32)),
                    (f"r{n}.penalty", np.array([penalty], dtype=np.float32)),
                    (f"r{n}.max_new", np.array([new_tokens], dtype=np.int32)),
                    (f"r{n}.generated", np.array(gen, dtype=np.int32)),
                    (f"r{n}.margins", np.array(margins, dtype=np.float32))]
        trusted = next((i for i, m in enumerate(margins) if m <= 1e-3), len(margins))
        print(f"{name} run {n}: penalty {penalty}, prompt {len(ids)} ids, {len(gen)} generated, "
              f"{trusted} trusted, min margin {min(margins):.3g}")
        if name == "tiny" and n == 0 and os.path.exists(f"{d}/tokenizer.json"):
            print("   ", repr(tok.decode(ids + gen)))
    path = f"{OUT}/greedy-{name}.psg"
    golden.write(path, tensors, GEN)
    srcs = {"config": f"{d}/config.json", "weights": f"{d}/model.safetensors"}
    entries.append(golden.manifest_entry(
        path, GEN, srcs, "i32", "exact ids while every margin so far > 1e-3",
        "generate(do_sample=False), float32 eager CPU; stop ids: eos"))


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    if not only or "samplers" in only:
        samplers()
    if not only or "chat" in only:
        chat()
    if not only or "greedy" in only:
        for name, d in model_dirs():
            greedy(name, d)
    golden.update_manifest(entries)


if __name__ == "__main__":
    main()

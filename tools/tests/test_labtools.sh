#!/bin/sh
# Self-tests of the learner's lab tools (check-lab, compare-lab, summarize), run by tools/check.sh.
# They work on a scratch copy of the repository ($BUILD/labtools/repo; labs/ here is never touched)
# in which lab M0 holds the reference code, as a learner's finished M0 would. Each check appends
# "PASS|FAIL labtools NAME" to $PS_RESULTS (the harness's result format) and prints it.
# (The harness's own hints, crash/hang/ONLY/NaN, are tested in tools/tests/test_harness.c.)
set -u
B=${BUILD:-build}
M=${MAKE:-make}
ROOT=$(pwd)
S=$ROOT/$B/labtools/repo

record() {  # STATUS NAME [why]
    [ -n "${PS_RESULTS:-}" ] && echo "$1 labtools $2" >> "$PS_RESULTS"
    printf 'labtools %-30s %s\n' "$2" "$1"
    [ $# -gt 2 ] && [ "$1" != PASS ] && printf '%s\n' "$3" | sed 's/^/    /' | head -40
    return 0
}
# check NAME CONDITION-COMMAND... : PASS when the command succeeds; on FAIL shows $out.
check() {
    name=$1; shift
    if "$@" >/dev/null 2>&1; then record PASS "$name"; else record FAIL "$name" "$out"; fi
}
has() { printf '%s\n' "$out" | grep -F -q -- "$1"; }
hasnt() { ! has "$1"; }

# The scratch copy: tracked and new files, the big models folder linked; M0's lab files are the
# reference's (that lab passes). A file is written only when its content differs, with a new mtime:
# the scratch build stays incremental, and never keeps an object made from other content.
mkdir -p "$S"
sync_file() {  # SOURCE DEST
    cmp -s "$1" "$2" 2>/dev/null && return 0
    mkdir -p "$(dirname "$2")" && cp "$1" "$2"
}
for f in $(git ls-files -co --exclude-standard | grep -v '^models/'); do
    [ -f "$f" ] || continue
    # a finished lab file: the reference's code without the markers mkskel reads
    case "$f" in labs/m0-tokenizer/tests/*) sync_file "$f" "$S/$f" ;;
                 labs/m0-tokenizer/*.c)
                    grep -v -E '^[[:space:]]*//[][><?=!]' "solutions/m0-tokenizer/${f#labs/m0-tokenizer/}" > "$S.tmp"
                    sync_file "$S.tmp" "$S/$f" ;;
                 *) sync_file "$f" "$S/$f" ;; esac
done
[ -e "$S/models" ] || ln -s "$ROOT/models" "$S/models"
cd "$S" || exit 1
unset MAKEFLAGS MFLAGS MAKELEVEL BUILD ONLY REF YOURS CHECK ASAN ALL  # the scratch's make starts afresh
lab() { out=$("$M" --no-print-directory "$@" 2>&1); }

# 1. a rerun reproduces the run: ONLY= does not turn the earlier lab into 0/0 (-> reference), and
#    the printed rerun line pins M0 as yours
lab check-lab 1 ONLY=config.refused
check only-keeps-earlier-labs has "M0 yours ✓"
check rerun-line-pins-engines has "rerun: make check-lab 1 YOURS=m0 ONLY=config.refused"
status_of() { printf '%s\n' "$out" | awk '$1 == "M1" && $2 == "config.refused" { print $3 }'; }
first=$(status_of)
lab check-lab 1 YOURS=m0 ONLY=config.refused
check rerun-same-engine has "M0 yours (YOURS)"
check rerun-same-result test -n "$first" -a "$first" = "$(status_of)"

# 2. REF= spellings all name lab M0; a wrong one is refused with a message
for spelling in M0 m0 0 m0-tokenizer all; do
    lab check-lab 1 REF=$spelling ONLY=config.refused
    check "ref-spelling:$spelling" has "M0 REFERENCE (REF)"
done
lab check-lab 1 ONLY=config.refused REF=m0 ; check rerun-pins-reference has "rerun: make check-lab 1 REF=m0 ONLY=config.refused"
lab check-lab 1 REF=m9; check ref-unknown has "'m9' is not a lab"

# 3. ONLY=: test files with no matching test print nothing
lab check-lab 0 ONLY=bpe.merge-order
check only-quiet-elsewhere sh -c '[ "$(printf "%s\n" "$1" | grep -c "^M0: ")" = 1 ]' - "$out"

# 4. "start with the first one" follows the chapter: the first TODO task of M1 in book/m1-weights.md
lab check-lab 1
want=$(grep -o '<a id="[a-z0-9-]*">' book/m1-weights.md | sed 's/<a id="//; s/">//' | while read -r t; do
    printf '%s\n' "$out" | grep -q "(stops at task $t)" && { echo "$t"; break; }; done)
check first-task-in-chapter-order has "start with task $want ("

# 5. compare-lab: a passing task shows the learner's region beside the reference; unfinished
#    tasks are hidden unless ALL=1
sed -i.orig 's/^\( *\)symbols\[c.pos\] = c.merged;$/\1symbols[c.pos] = c.merged;  \/\/ mine/' labs/m0-tokenizer/tokenizer_bpe.c
lab compare-lab 0 bpe-merge
check compare-shows-diff has "+        symbols[c.pos] = c.merged;  // mine"
check compare-names-both has "--- reference  solutions/m0-tokenizer/tokenizer_bpe.c:"
mv labs/m0-tokenizer/tokenizer_bpe.c.orig labs/m0-tokenizer/tokenizer_bpe.c
lab compare-lab 0 load-vocab
check compare-same-code has "is the same as solutions/m0-tokenizer/tokenizer_load.c"
lab compare-lab 1
check compare-hides-unfinished sh -c 'printf "%s\n" "$1" | grep -q "not shown, not passing yet" && ! printf "%s\n" "$1" | grep -q "^===="' - "$out"
lab compare-lab 1 ALL=1
check compare-all-shows has "NOT PASSING YET"
exit 0

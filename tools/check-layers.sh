#!/bin/sh
# The labs stack: lab N may use shared/ and labs 0..N, never a later lab (the CLI, solutions/cli/,
# sits on top of all of them). This check derives the graph from the code and prints every edge
# that points upward:
#   includes  a file of lab N (solution, skeleton or test) that includes a later lab's header;
#   symbols   an object of lab N (or of shared/) that uses a function or variable a later lab defines;
#   names     a file of lab N that names a later lab ("M5", "lab M5", "m5-quantization").
# Usage: tools/check-layers.sh BUILD_DIR (after `make`, so the reference objects exist).
# Prints one line per upward edge and exits 1 if there is any.
set -u
B=${1:-build}
LABS="m0-tokenizer m1-weights m2-forward m3-sampling m4-kv-cache m5-quantization m6-metal m7-gpu-engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
edge() { echo "upward edge: $*"; bad=1; }

lab_index() {  # NAME -> 0..7, or 9 for cli / unknown
    i=0
    for L in $LABS; do [ "$L" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done
    echo 9
}

# Which lab owns each header (name -> index); shared/ headers are level -1.
: > "$tmp/headers"
for h in shared/*.h; do echo "$(basename "$h") -1" >> "$tmp/headers"; done
for L in $LABS cli; do
    n=$(lab_index "$L")
    for h in solutions/"$L"/*.h; do [ -f "$h" ] && echo "$(basename "$h") $n" >> "$tmp/headers"; done
done

# 1. includes
for L in $LABS; do
    n=$(lab_index "$L")
    for f in solutions/"$L"/*.[ch] labs/"$L"/*.[ch] labs/"$L"/tests/*.[ch]; do
        [ -f "$f" ] || continue
        grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1 \2/' |
        while read -r line h; do
            owner=$(awk -v h="$h" '$1 == h { print $2; exit }' "$tmp/headers")
            [ -n "$owner" ] && [ "$owner" -gt "$n" ] && echo "$f:$line includes $h (a later lab's header)"
        done
    done
done > "$tmp/includes"
[ -s "$tmp/includes" ] && { while read -r l; do edge "$l"; done < "$tmp/includes"; }

# 2. symbols: who defines what, then who uses what
: > "$tmp/defs"
for L in $LABS cli; do
    n=$(lab_index "$L")
    for o in "$B"/ref/"$L"/*.o; do
        [ -f "$o" ] || continue
        nm --defined-only -g "$o" 2>/dev/null | awk -v n="$n" -v o="$o" 'NF == 3 { print $3, n, o }' >> "$tmp/defs"
    done
done
for dir in shared $LABS; do
    if [ "$dir" = shared ]; then n=-1; objs="$B/shared/*.o"; else n=$(lab_index "$dir"); objs="$B/ref/$dir/*.o"; fi
    for o in $objs; do
        [ -f "$o" ] || continue
        nm -u "$o" 2>/dev/null | awk '{ print $NF }' | while read -r sym; do
            awk -v s="$sym" -v n="$n" -v o="$o" '$1 == s && $2 > n { print o " uses " s ", defined by " $3 }' "$tmp/defs"
        done
    done
done > "$tmp/symbols"
[ -s "$tmp/symbols" ] && { while read -r l; do edge "$l"; done < "$tmp/symbols"; }
[ -s "$tmp/defs" ] || { echo "check-layers: no objects under $B/ref (run make first)"; exit 1; }

# 3. names: a later lab named in a file of lab N (M4, lab M4, m4-kv-cache)
i=0
for L in $LABS; do
    later=""
    k=$((i + 1))
    while [ "$k" -le 7 ]; do later="$later$k"; k=$((k + 1)); done
    if [ -n "$later" ]; then
        grep -nE "\bM[$later]\b|\bm[$later]-[a-z]" solutions/"$L"/*.[ch] labs/"$L"/*.[ch] 2>/dev/null |
            while IFS= read -r l; do echo "$l (names a later lab)"; done
    fi
    i=$((i + 1))
done > "$tmp/names"
[ -s "$tmp/names" ] && { while read -r l; do edge "$l"; done < "$tmp/names"; }

exit $bad

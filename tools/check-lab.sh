#!/bin/sh
# make check-lab N: builds and tests YOUR lab N (labs/mN-*/). Each earlier lab is taken from labs/
# when it passes its own tests, else from solutions/ (so one bug cannot hide the next lab's work);
# REF=all or REF=m1,m2 forces the reference for those. Never regenerates labs/.
set -u
N=${1:-}
B=${BUILD:-build}
M=${MAKE:-make}
ROOT=$(pwd)
case "$N" in
    [0-7]) ;;
    *) echo "usage: make check-lab N   (N = 0..7, e.g. make check-lab 2)"; exit 2 ;;
esac
lab_dir() { for d in labs/m$1-*/; do [ -d "$d" ] && basename "$d"; done; }
TARGET=$(lab_dir "$N")
[ -n "$TARGET" ] || { echo "lab $N does not exist yet (no labs/m$N-*/ folder)"; exit 2; }
REF=${REF:-}
forced() { [ "$REF" = all ] && return 0; echo ",$REF," | grep -q ",$1,"; }

# Runs one lab's tests with the given MINE; results into $2. Returns 0 when it built.
run_lab() {  # LAB MINE RESULTS [quiet]
    $M -s tests LAB="$1" MINE="$2" >"$B/check-lab.build" 2>&1 || return 1
    key=$(echo "$2" | tr ' ' '\n' | sed '/^$/d' | sort | paste -sd+ -)
    for t in $(cat "$B/t/${key:-ref}/list-$1"); do
        if [ -n "${4:-}" ]; then PS_RESULTS="$ROOT/$3" "./$t" >/dev/null 2>&1
        else PS_RESULTS="$ROOT/$3" PS_RERUN="make check-lab $N" "./$t"; fi
    done
    return 0
}

mkdir -p "$B"
$M -s synth >/dev/null || echo "warning: make synth failed; tests that need synthetic models will say so"
mine=""
banner=""
k=0
while [ "$k" -lt "$N" ]; do
    L=$(lab_dir "$k")
    k=$((k + 1))
    [ -n "$L" ] || continue
    id="M$((k - 1))"
    if forced "$L" || forced "m$((k - 1))"; then banner="$banner  $id REFERENCE (REF)"; continue; fi
    ls "labs/$L/"*.c >/dev/null 2>&1 || { banner="$banner  $id reference"; continue; }
    res="$B/check-lab-$L.txt"; : > "$res"
    if ! run_lab "$L" "$mine $L" "$res" quiet; then
        banner="$banner  $id REFERENCE (yours does not build)"; continue
    fi
    total=$(grep -c -v '^SKIP ' "$res"); passed=$(grep -c '^PASS ' "$res")
    if [ "$total" -gt 0 ] && [ "$passed" -eq "$total" ]; then mine="$mine $L"; banner="$banner  $id yours ✓"
    else banner="$banner  $id REFERENCE (yours $passed/$total)"; fi
done
echo "==> lab M$N ($TARGET), built on:${banner:- nothing earlier}"
res="$B/check-lab-result.txt"; : > "$res"
if ! run_lab "$TARGET" "$mine $TARGET" "$res"; then
    cat "$B/check-lab.build"
    echo "your lab M$N does not compile; fix the errors above (labs/$TARGET/)"
    exit 1
fi
echo
sh tools/summarize "$res"

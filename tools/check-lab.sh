#!/bin/sh
# make check-lab N: builds and tests YOUR lab N (labs/mN-*/). Each earlier lab is taken from labs/
# when it passes its own tests, else from solutions/ (so one bug cannot hide the next lab's work);
# REF=all or REF=m1,m2 forces the reference for those, YOURS=m0 takes yours without testing it again
# (tools/lablib.sh). ONLY= selects tests of lab N alone; earlier labs always run all their tests.
# CHECK=races builds the GPU kernels with the emulator's race checker (labs 6, 7; a plain run of
# lab 6 reruns its failed tests that way by itself); ASAN=1 builds everything with AddressSanitizer
# + UBSan. Never regenerates labs/.
set -u
N=${1:-}
. tools/lablib.sh   # B, M, ROOT
lab_arg "$N" "make check-lab N   (N = 0..7, e.g. make check-lab 2)"
TARGET=$LAB_NAME
lab_read_pins
# ONLY= is for lab N's tests: earlier labs run whole, or they would pass 0/0 and fall back.
only=${ONLY:-}
unset ONLY

# The build the target lab runs in: the plain one, the race checker's or the sanitizers' (the same
# folders and flags as make check's race-check step and make asan).
TB=$B; variant=""
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
case "${CHECK:-}" in
    "") ;;
    races)
        case "$N" in 6 | 7) ;; *) echo "CHECK=races checks the GPU kernels: labs 6 and 7 only"; exit 2 ;; esac
        TB=$B/racecheck; variant=racecheck ;;
    *) echo "CHECK=${CHECK}: the only check is CHECK=races (the emulator's race checker, labs 6 and 7)"; exit 2 ;;
esac
case "${ASAN:-}" in
    "" | 0) ;;
    1)
        [ -z "$variant" ] || { echo "CHECK=races and ASAN=1 are separate runs: use one at a time"; exit 2; }
        TB=$B/asan; variant=asan ;;
    *) echo "ASAN=${ASAN}: write ASAN=1"; exit 2 ;;
esac

mkdir -p "$B"
$M -s synth >/dev/null || echo "warning: make synth failed; tests that need synthetic models will say so"
lab_choose "$N"   # in the plain build: which earlier labs are yours does not depend on the variant
echo "==> lab M$N ($TARGET)${variant:+ [$variant]}, built on:${LAB_BANNER:- nothing earlier}"

# The rerun line pins every earlier lab's engine, so it links exactly the objects this run did.
rerun="make check-lab $N$LAB_PINS"
case "$variant" in
    racecheck) rerun="$rerun CHECK=races"; export PS_VARIANT=racecheck
        # on a Mac the kernels normally run on the GPU: the race checker is the emulator's
        emu=""; [ "$(uname -s)" = Darwin ] && emu="MTL_EMULATOR=1"
        target_tests() { $M -s tests "$@" BUILD="$TB" MSL_CHECKED=1 $emu; } ;;
    asan) rerun="$rerun ASAN=1"; export TIMEOUT_MULT=5
        target_tests() { $M -s tests "$@" BUILD="$TB" SAN="$SAN_FLAGS"; } ;;
    *) target_tests() { $M -s tests "$@" BUILD="$TB"; } ;;
esac
[ "$B" = build ] || rerun="$rerun BUILD=$B"
res="$B/check-lab-result.txt"; : > "$res"
if ! target_tests LAB="$TARGET" MINE="$LAB_MINE $TARGET" >"$B/check-lab.build" 2>&1; then
    cat "$B/check-lab.build"
    echo "your lab M$N does not compile; fix the errors above (labs/$TARGET/)"
    exit 1
fi
tests=$(cat "$TB/t/$(lab_key "$LAB_MINE $TARGET")/list-$TARGET")
for t in $tests; do
    ONLY="$only" PS_RESULTS="$ROOT/$res" PS_RERUN="$rerun" "./$t"
done
if [ -n "$only" ] && [ ! -s "$res" ]; then
    echo "ONLY=$only names no test of lab M$N. Its tests:"
    for t in $tests; do "./$t" --list; done | sed 's/^/    /'
    exit 1
fi
echo
sh tools/summarize "$res"
status=$?

# A kernel test of lab 6 that fails in the plain build (often NaN: the emulator's poison in
# threadgroup memory) is run again, the failed tests alone, with the race checker, so a missing
# barrier is reported with its kernel and lines rather than only as a wrong number.
failed=$(awk '$1 == "FAIL" || $1 == "CRASH" || $1 == "TIMEOUT" { print $3 }' "$res" | paste -sd, -)
if [ "$N" = 6 ] && [ -z "$variant" ] && [ -n "$failed" ] && [ -z "${PS_NO_RACE_RERUN:-}" ]; then
    echo
    echo "==> the failed tests again with the emulator's race checker ($rerun CHECK=races ONLY=$failed):"
    # shellcheck disable=SC2086  # LAB_PINS is a list of VAR=value words
    env CHECK=races ONLY="$failed" BUILD="$B" MAKE="$M" $LAB_PINS sh tools/check-lab.sh 6 || true
fi
exit $status

#!/bin/sh
# make mac-check: the acceptance run for a Mac with Apple Silicon, for the first person who has one.
# Everything else in this repository is tested on Linux, where the kernels run on the MSL CPU
# emulator; this script checks what only a Mac can:
#   1. Apple's offline compiler (xcrun -sdk macosx metal -c) on every kernel: shaders/*.metal,
#      the lab's skeletons in labs/m6-metal/shaders/, and the strict front-end's test kernels
#      (shared/msl/tests/strict/: each ok_*.metal must compile, each bad_*.metal must not: the
#      emulator's rules checked against the real compiler);
#   2. the M6 and M7 tests on the GPU (the real Metal backend, shared/mtl_macos.c), and mtl.h's
#      encoding contracts (shared/msl/tests/strict/contract.c) on it;
#   3. a short report (machine, macOS, compilers, PASS/FAIL per shader and test) to paste into
#      a bug report. It is also written to $BUILD/mac-check/report.txt.
# Not part of make test. On Linux it says it needs a Mac and exits 1.
set -u
B=${BUILD:-build}/mac-check
M=${MAKE:-make}

if [ "$(uname -s)" != Darwin ]; then
    echo "make mac-check needs a Mac (Apple Silicon): it compiles the kernels with Apple's Metal"
    echo "compiler and runs the M6/M7 tests on the GPU. On Linux, make test runs them on the"
    echo "emulator (book/appendix-emulator.md)."
    exit 1
fi
unset MTL_EMULATOR   # the real GPU, not the emulator
mkdir -p "$B"
R="$B/report.txt"
: > "$R"
fails=0
line() { printf '%s\n' "$*" | tee -a "$R"; }
verdict() {  # STATUS WHAT [detail]
    line "$(printf '%-4s %s' "$1" "$2")"
    [ "$1" = FAIL ] && fails=$((fails + 1)) && [ $# -gt 2 ] && printf '%s\n' "$3" | head -8 | sed 's/^/       /' | tee -a "$R"
    return 0
}

line "protostar mac-check $(date -u '+%Y-%m-%d %H:%M UTC')"
line "commit:   $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
line "machine:  $(sysctl -n hw.model 2>/dev/null), $(sysctl -n machdep.cpu.brand_string 2>/dev/null), $(($(sysctl -n hw.memsize 2>/dev/null || echo 0) / 1073741824)) GB"
line "macOS:    $(sw_vers -productVersion 2>/dev/null) ($(sw_vers -buildVersion 2>/dev/null))"
line "cc:       $(${CC:-cc} --version 2>/dev/null | head -1)"
line "xcode:    $(xcodebuild -version 2>/dev/null | tr '\n' ' ')"
METAL=""
if xcrun -sdk macosx --find metal >/dev/null 2>&1 && xcrun -sdk macosx metal --version >/dev/null 2>&1; then
    METAL="xcrun -sdk macosx metal"
    line "metal:    $($METAL --version 2>&1 | head -1)"
else
    line "metal:    no offline compiler (install Xcode; with Xcode 16 and later also run"
    line "          xcodebuild -downloadComponent MetalToolchain); kernels are compiled at run time only"
fi

line ""
line "== Apple's offline compiler on every kernel =="
if [ -n "$METAL" ]; then
    for f in shaders/*.metal labs/m6-metal/shaders/*.metal shared/msl/tests/strict/*.metal; do
        out="$B/air/$(echo "$f" | tr / _).air"
        mkdir -p "$B/air"
        if msg=$($METAL -c -I. -o "$out" "$f" 2>&1); then compiled=1; else compiled=0; fi
        case $(basename "$f") in
        bad_*) # the emulator refuses it; Apple's compiler must too, or the rule is wrong
            if [ $compiled = 0 ]; then verdict PASS "$f (refused, as the emulator refuses it)"
            else verdict FAIL "$f (Apple's compiler accepts it: the emulator's rule is too strict)"; fi ;;
        *)
            if [ $compiled = 1 ]; then verdict PASS "$f"
            else verdict FAIL "$f" "$msg"; fi ;;
        esac
    done
else
    line "SKIP (no offline compiler)"
fi

line ""
line "== the M6 and M7 tests on $(system_profiler SPDisplaysDataType 2>/dev/null | sed -n 's/^ *Chipset Model: //p' | head -1) =="
results="$B/results.txt"   # relative to the repository root, where the tests run
: > "$results"
for lab in m6-metal m7-gpu-engine; do
    if ! $M -s tests LAB=$lab MINE= BUILD="$B" > "$B/build-$lab.log" 2>&1; then
        verdict FAIL "build of the $lab tests" "$(grep -m5 -i error "$B/build-$lab.log")"
        continue
    fi
    for t in $(cat "$B/t/ref/list-$lab"); do
        case $t in /*) ;; *) t=./$t ;; esac
        PS_RESULTS="$results" "$t" > "$B/$(basename "$t").log" 2>&1 || true
    done
done
if $M -s "$B/msl/strict/contract" BUILD="$B" > "$B/build-contract.log" 2>&1; then
    contract=$B/msl/strict/contract
    case $contract in /*) ;; *) contract=./$contract ;; esac
    "$contract" | sed 's/^\([A-Z]*\) \([^ ]*\)\(.*\)$/\1 mtl \2\3/' >> "$results"
else
    verdict FAIL "build of shared/msl/tests/strict/contract.c" "$(grep -m5 -i error "$B/build-contract.log")"
fi
while read -r status suite name rest; do
    verdict "$status" "$suite $name" "$rest"
done < "$results"
[ -s "$results" ] || verdict FAIL "no test ran" "see $B/*.log"

line ""
n=$(grep -c '^PASS' "$R"); s=$(grep -c '^SKIP' "$R")
line "$n passed, $fails failed, $s skipped. Paste this report (also in $R) into a bug report;"
line "the logs of each test are in $B/."
[ $fails -eq 0 ]

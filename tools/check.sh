#!/bin/sh
# make check / make test: every lab against the solutions, every skeleton must stop at LAB_TODO,
# no drift between solutions/ and labs/, goldens intact, the book's code and anchors resolve, and
# the MSL emulator's own suite. Ends with the line `N passed, N failed[, N skipped]`.
set -u
B=${BUILD:-build}
M=${MAKE:-make}
ROOT=$(pwd)
R=$ROOT/$B/results.txt
mkdir -p "$B"
: > "$R"
export PS_RESULTS="$R"
export PS_PROTOSTAR="$B/protostar"   # tools/tests/test_cli runs this build's binary

record() {  # STATUS NAME [detail]
    echo "$1 check $2" >> "$R"
    printf 'check %-33s %s\n' "$2" "$1"
    [ $# -gt 2 ] && [ "$1" != PASS ] && printf '    %s\n' "$3"
    return 0
}

# 0. the small synthetic models the tests read (build/models/, made by tools/synth)
$M -s synth >/dev/null || record FAIL synth "make synth failed"

# 1. labs/ is exactly what tools/mkskel makes from solutions/
if out=$("$B/tools/mkskel" --check solutions labs 2>&1); then record PASS skeleton-drift
else record FAIL skeleton-drift "$out"; fi

# 1b. the labs stack: no file of lab N includes, calls or names a later lab
if out=$(sh tools/check-layers.sh "$B" 2>&1); then record PASS layers
else record FAIL layers "$out"; fi

# 1c. a fresh machine: pointed at an empty root, setup must name every package the build and tests
# need (else `make` on a new machine stops at a missing header or compiler, or tests skip)
probe=$(mktemp -d)
got=$(SETUP_ROOT="$probe" sh tools/setup.sh --list 2>&1); rmdir "$probe"
miss=""
for pkg in build-essential g++ libstb-dev libcjson-dev clang cmark-gfm chromium; do
    case " $got " in *" $pkg "*) ;; *) miss="$miss $pkg" ;; esac
done
if [ -z "$miss" ]; then record PASS setup-fresh-machine
else record FAIL setup-fresh-machine "tools/setup.sh does not install:$miss (it said: $got)"; fi

# 2. golden files are the oracle's, byte for byte
if command -v sha256sum >/dev/null 2>&1; then SHA="sha256sum"; else SHA="shasum -a 256"; fi
for sums in golden/*/SHA256SUMS; do
    [ -f "$sums" ] || continue
    if out=$($SHA -c "$sums" 2>&1 | grep -v ': OK$'); [ -z "$out" ]; then record PASS "golden:$(dirname "$sums")"
    else record FAIL "golden:$(dirname "$sums")" "$out — golden files must come from the oracle (golden/README.md)"; fi
done

# 3. every lab's tests against the reference solutions
$M -s tests MINE= >/dev/null || { record FAIL build-tests "make tests failed"; }
if [ -f "$B/t/ref/list" ]; then
    for t in $(cat "$B/t/ref/list"); do PS_RERUN="./$t" "./$t" || true; done
fi

# 4. each skeleton builds and every one of its tests stops at a LAB_TODO (no pass, no crash)
for dir in labs/m*/; do
    L=$(basename "$dir")
    ls "$dir"*.c >/dev/null 2>&1 || continue
    ls "$dir"tests/test_*.c >/dev/null 2>&1 || { record FAIL "skeleton:$L" "no tests in $dir/tests"; continue; }
    if ! $M -s tests MINE="$L" LAB="$L" >/dev/null 2>"$B/skel.err"; then
        record FAIL "skeleton:$L" "skeleton does not build: $(head -5 "$B/skel.err")"; continue
    fi
    tmp="$B/skel-$L.txt"; : > "$tmp"
    for t in $(cat "$B/t/$L/list-$L"); do PS_RESULTS="$ROOT/$tmp" "./$t" >/dev/null 2>&1; done
    bad=$(grep -v -E '^(TODO|SKIP) ' "$tmp")
    if [ -z "$bad" ] && grep -q '^TODO ' "$tmp"; then record PASS "skeleton:$L"
    else record FAIL "skeleton:$L" "every test must stop at LAB_TODO on the skeleton; got: $(echo $bad | head -c 300)"; fi
done

# 5. the book: quoted code and task anchors resolve
if [ -x "$B/tools/mkbook" ]; then
    if out=$("$B/tools/mkbook" --check book 2>&1); then record PASS book
    else record FAIL book "$out"; fi
fi
# 5'. the book's site in headless Chromium at 390 and 1280 px (screenshots in $B/book/shots/)
[ -x "$B/tools/mkbook" ] && BUILD="$B" sh tools/tests/test_book_browser.sh

# 5f. the figures: book/img/*.svg are what tools/figures/draw_figures.py draws now (make figures)
if ! command -v python3 >/dev/null 2>&1; then record SKIP figures "python3 is not installed"
elif out=$(python3 tools/figures/draw_figures.py --check book/img 2>&1); then record PASS figures
else record FAIL figures "$out"; fi

# 5g. the Python scripts' outputs appear whole or not at all (tools/atomic_write.py)
if ! command -v python3 >/dev/null 2>&1; then record SKIP atomic-write "python3 is not installed"
elif out=$(python3 tools/tests/test_atomic_write.py 2>&1); then record PASS atomic-write
else record FAIL atomic-write "$out"; fi

# 5h. the two benchmarks of the GPU side run to the end on the emulator (about a second each;
# make bench is not part of make test, and both had stopped there unnoticed: one not linked with
# its kernels' .metal files, one with no Q8_0 products registered for its CPU column)
for b in bench_emu bench_gpu; do
    if [ ! -x "$B/tools/$b" ]; then record FAIL "bench:$b" "$B/tools/$b was not built"
    elif out=$("$B/tools/$b" 2>&1); then record PASS "bench:$b"
    else record FAIL "bench:$b" "$(echo "$out" | tail -3)"; fi
done

# 5a. the learner's lab tools (check-lab reruns, REF=, ONLY=, compare-lab) on a scratch copy
BUILD="$B" MAKE="$M" sh tools/tests/test_labtools.sh
# 5a'. the emulator's checking build against mutants of shaders/*.metal (each barrier removed)
BUILD="$B" MAKE="$M" sh tools/tests/test_msl_mutations.sh || true

# 5b. the GPU labs' tests again, with the kernels built by the emulator's race checker
if [ -f shared/msl/msl.mk ] && ls labs/m6-metal/tests/test_*.c >/dev/null 2>&1; then
    if $M -s tests LAB=m6-metal MINE= MSL_CHECKED=1 BUILD="$B/racecheck" >/dev/null 2>"$B/racecheck.err"; then
        for t in $(cat "$B/racecheck/t/ref/list-m6-metal"); do PS_VARIANT=racecheck "./$t" || true; done
    else record FAIL racecheck-build "$(head -5 "$B/racecheck.err")"; fi
fi

# 5c. on an AVX-512 CPU (where they run by default), the SIMD tests again without the AVX-512
# kernels (PS_SIMD=avx2, shared/simd.h), so the AVX2 ones stay tested there too
if [ "$(uname -m)" = x86_64 ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    for t in labs/m2-forward/tests/test_ops labs/m2-forward/tests/test_bf16 \
             labs/m5-quantization/tests/test_quant_simd labs/m5-quantization/tests/test_quant_matmul; do
        [ -x "$B/t/ref/$t" ] && PS_SIMD=avx2 PS_VARIANT=avx2 "./$B/t/ref/$t" || true
    done
fi

# 6. the engine, tools and tests also build with clang (CI's compiler is gcc). tools/setup.sh
# installs clang: without it this is a failure, not a skip.
if [ -z "${SKIP_CLANG:-}" ] && ! command -v clang >/dev/null 2>&1; then
    record FAIL clang-build "clang is not installed (tools/setup.sh installs it: make deps)"
elif [ -z "${SKIP_CLANG:-}" ] && [ "${CC:-cc}" != clang ]; then
    if out=$($M -s all CC=clang BUILD="$B/clang" SKIP_CLANG=1 2>&1); then
        record PASS clang-build
        # the synthetic models must come out byte-identical from the clang build
        PS_SYNTH="$B/clang/tools/synth" "./$B/clang/t/ref/tools/tests/test_synth" synth.pinned \
            | sed 's/^tools /tools(clang) /'
    else record FAIL clang-build "$(echo "$out" | grep -m5 -E 'error|Error')"; fi
fi

# 7. the MSL emulator's own suite (gcc, and clang when present)
if [ -f shared/msl/msl.mk ]; then
    $M -s emu-test || record FAIL emu-test "make emu-test failed"
    $M -s emu-check-clang || record FAIL emu-check-clang "make emu-check-clang failed"
    $M -s strict-test || record FAIL strict-test "make strict-test failed"   # MSL rules, numerics
fi

BUILD="$B" MAKE="$M" sh tools/fuzz/run-corpus.sh || true   # 8. fuzz targets once over seeds+regressions, gcc and clang (tools/fuzz/)

echo
sh tools/summarize "$R"

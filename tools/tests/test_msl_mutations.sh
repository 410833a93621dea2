#!/bin/sh
# Mutation tests of the emulator's checking build (issue 16): every threadgroup_barrier call in
# shaders/*.metal is removed, one at a time, and the mutant must be reported, as a race or a
# barrier divergence, naming its kernel and a .metal line near the removed barrier. Each mutant
# is compiled once (`mslpp -check`, through shared/msl/msl.mk's own rules) and run once by
# tools/tests/msl_mutant_driver.c, which dispatches each kernel of the file it has a recipe for.
# Appends "PASS|FAIL mutation NAME" to $PS_RESULTS (the harness's result format) and prints it.
set -u
B=${BUILD:-build}
M=${MAKE:-make}
MUT=$B/mutants
MB=$MUT/msl    # its own emulator objects, without the sanitizers a `make asan` passes down
CC=${CC:-cc}
PLAIN="-std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Ishared"
fails=0

record() {  # STATUS NAME [why]
    [ -n "${PS_RESULTS:-}" ] && echo "$1 mutation $2" >> "$PS_RESULTS"
    printf 'mutation %-30s %s\n' "$2" "$1"
    [ $# -gt 2 ] && [ "$1" != PASS ] && printf '%s\n' "$3" | sed 's/^/    /' | head -20
    [ "$1" = PASS ] || fails=$((fails + 1))
    return 0
}

RT="$MB/rt/msl_rt.o $MB/rt/msl_pool.o $MB/rt/msl_fiber.o $MB/rt/msl_check.o $MB/rt/msl_devcheck.o $MB/rt/mtl_emu.o"
mk() { $M -s -f shared/msl/msl.mk MSL_BUILD="$MB" CFLAGS="$PLAIN" "$@"; }
if ! out=$(mk $RT "$MB/mslpp" 2>&1) ||
   ! out=$($CC $PLAIN -I. -c tools/tests/msl_mutant_driver.c -o "$MB/msl_mutant_driver.o" 2>&1); then
    record FAIL build "$out"
    exit 1
fi

for src in shaders/*.metal; do
    # the lines that call threadgroup_barrier (not the ones that only mention it in a comment)
    for line in $(grep -n 'threadgroup_barrier *(' "$src" | grep -v '^[0-9]*: *//' | cut -d: -f1); do
        base=$(basename "$src" .metal)
        name=$base:$line
        mutant=$MUT/$base-$line.metal
        mkdir -p "$MUT"
        # the call becomes a comment: the mutant keeps every line where it was
        sed "${line}s|threadgroup_barrier *([^;]*;|/* barrier removed */|" "$src" > "$mutant.tmp"
        cmp -s "$mutant.tmp" "$mutant" 2>/dev/null || mv "$mutant.tmp" "$mutant"
        rm -f "$mutant.tmp"
        obj=$MB/${mutant%.metal}.check.o
        if ! out=$(mk "$obj" 2>&1) ||
           ! out=$($CC "$MB/msl_mutant_driver.o" "$obj" $RT -o "$MUT/$base-$line" -lpthread -lm 2>&1); then
            record FAIL "$name" "the mutant does not build: $out"
            continue
        fi
        kernels=$(sed -n 's/^ *kernel  *void  *\([A-Za-z_0-9]*\).*/\1/p' "$src")
        caught=""
        report=""
        for k in $kernels; do
            out=$(timeout 120 "$MUT/$base-$line" "$mutant" "$k" 2>/dev/null)
            rc=$?
            [ $rc -eq 2 ] && continue   # no recipe: this kernel is not the one exercised
            report="$report$k: $out
"
            # the report names the kernel, a race or divergence, and a line near the barrier
            lines=$(printf '%s\n' "$out" | grep -o 'line [0-9]*' | cut -d' ' -f2)
            near=""
            for l in $lines; do
                [ "$l" -ge $((line - 6)) ] && [ "$l" -le $((line + 6)) ] && near=1
            done
            if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q "kernel '$k'" &&
               printf '%s' "$out" | grep -q -E 'race|divergence' && [ -n "$near" ]; then
                caught=1
            fi
        done
        if [ -n "$caught" ]; then record PASS "$name"
        elif [ -z "$report" ]; then
            record FAIL "$name" "no kernel of $src has a recipe in tools/tests/msl_mutant_driver.c"
        else record FAIL "$name" "barrier removed at $src:$line, not reported near that line:
$report"
        fi
    done
done
[ $fails -eq 0 ]

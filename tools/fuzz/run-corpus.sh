#!/bin/sh
# make fuzz-corpus (and make test): builds the fuzz targets with clang (libFuzzer) and gcc
# (tools/fuzz/corpus_main.c), runs every target once over its committed seeds
# (tools/fuzz/corpus/TARGET/) and regressions (tools/fuzz/regressions/TARGET/) with both builds,
# and records one result per target and compiler: "PASS check fuzz:TARGET[gcc]" into $PS_RESULTS
# when set, and "check fuzz:TARGET[gcc]  PASS" on stdout. Missing clang is a FAIL, not a skip:
# tools/setup.sh installs it. Exits 1 when anything failed.
set -u
B=${BUILD:-build}
M=${MAKE:-make}
F=tools/fuzz
LOGS=$B/fuzz/logs
mkdir -p "$LOGS"
failed=0

record() {  # STATUS NAME [detail]
    [ -n "${PS_RESULTS:-}" ] && echo "$1 check $2" >> "$PS_RESULTS"
    printf 'check %-33s %s\n' "$2" "$1"
    [ $# -gt 2 ] && [ "$1" != PASS ] && printf '%s\n' "$3" | sed 's/^/    /'
    [ "$1" = PASS ] || failed=1
    return 0
}

targets=$(for f in $F/fuzz_*.c; do n=${f#$F/fuzz_}; n=${n%.c}; [ "$n" = util ] || echo "$n"; done)
[ -n "$targets" ] || { record FAIL fuzz "no targets in $F"; exit 1; }

built=
for cc in clang gcc; do
    if [ $cc = clang ]; then cmd=${FUZZ_CLANG:-clang}; else cmd=${FUZZ_GCC:-gcc}; fi
    if ! command -v "$cmd" >/dev/null 2>&1; then
        record FAIL "fuzz:build[$cc]" "$cmd is not installed (tools/setup.sh installs it; the fuzz targets need both compilers)"
    elif $M -s "fuzz-build-$cc" BUILD="$B" FUZZ_CLANG="${FUZZ_CLANG:-clang}" FUZZ_GCC="${FUZZ_GCC:-gcc}" \
            >"$LOGS/build-$cc.txt" 2>&1; then
        built="$built $cc"
    else
        record FAIL "fuzz:build[$cc]" "$(grep -m5 -E 'error|Error' "$LOGS/build-$cc.txt")"
    fi
done

# The sanitizers stop at the first finding; UBSan prints its stack too.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 300"

for t in $targets; do
    dirs=
    for d in "$F/corpus/$t" "$F/regressions/$t"; do [ -d "$d" ] && dirs="$dirs $d"; done
    files=$(find $dirs -type f ! -name '.*' 2>/dev/null | sort)
    for cc in $built; do
        name="fuzz:$t[$cc]"
        bin=$B/fuzz/$cc/fuzz_$t log=$LOGS/$t-$cc.txt
        if [ -z "$files" ]; then record FAIL "$name" "no seeds in $F/corpus/$t"; continue; fi
        # libFuzzer runs the files named on its command line once each (and writes nothing);
        # corpus_main takes the directories.
        if [ "$cc" = clang ]; then
            # shellcheck disable=SC2086  # one argument per file (names have no spaces)
            $limit "$bin" -rss_limit_mb=2048 -timeout=10 $files >"$log" 2>&1
        else
            # shellcheck disable=SC2086
            $limit "$bin" $dirs >"$log" 2>&1
        fi
        rc=$?
        if [ $rc -eq 0 ]; then record PASS "$name"
        else
            input=$(grep '^Running: ' "$log" | tail -1 | sed 's/^Running: //')
            why=$(grep -m3 -E 'ERROR|runtime error|fuzz: |LeakSanitizer|SUMMARY' "$log")
            record FAIL "$name" "exit $rc on ${input:-?}
$why
(log: $log; rerun: $bin $input)"
        fi
    done
done
exit $failed

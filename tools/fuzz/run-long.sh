#!/bin/sh
# Long fuzzing: every libFuzzer target at once for SECONDS of wall time, then a summary.
#
#   sh run-long.sh SECONDS SUMMARY_FILE [TARGET...]
#
# Runs from the bundle of `make fuzz-bundle` (binaries, seeds, dictionaries, tokenizer.json and
# libcjson beside this script: no clang or libcjson needed on the machine), or from the repository
# (binaries in $FUZZ_BIN, default build/fuzz/clang). Each target gets -fork=K worker processes,
# K = cores / targets (at least 1; FUZZ_FORK=K overrides), with -rss_limit_mb=2048 -timeout=10;
# a crash, timeout or OOM is saved and counted, and the target keeps fuzzing. New inputs go to
# $FUZZ_WORK/corpus/TARGET (default ./fuzz-work), reproducers to $FUZZ_WORK/artifacts/TARGET/.
# SUMMARY_FILE gets one line per target: executions, corpus files and bytes, crashes (incl.
# timeouts and OOMs), CPU seconds. Exits 1 when any target found anything, 2 on a usage error.
set -u
if [ $# -lt 2 ]; then echo "usage: sh run-long.sh SECONDS SUMMARY_FILE [TARGET...]" >&2; exit 2; fi
SECS=$1 SUMMARY=$2
shift 2
case $SECS in ''|*[!0-9]*) echo "run-long.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)

if ls "$HERE"/fuzz_* >/dev/null 2>&1; then   # the bundle: everything beside this script
    BIN=${FUZZ_BIN:-$HERE} SEEDS=$HERE/corpus REGR=$HERE/regressions DICT=$HERE/dict
    export PS_FUZZ_DATA="$HERE"               # tokenizer.json for the encode/decode targets
else                                          # the repository (run from its root)
    BIN=${FUZZ_BIN:-build/fuzz/clang} SEEDS=tools/fuzz/corpus REGR=tools/fuzz/regressions DICT=tools/fuzz/dict
fi
export LD_LIBRARY_PATH="$HERE${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"   # libcjson.so.1 of the bundle
WORK=${FUZZ_WORK:-fuzz-work}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

if [ $# -gt 0 ]; then targets=$*
else targets=$(cd "$BIN" && ls fuzz_* 2>/dev/null | sed 's/^fuzz_//'); fi
[ -n "$targets" ] || { echo "run-long.sh: no fuzz_* binaries in $BIN" >&2; exit 2; }
n_targets=$(echo $targets | wc -w)
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
fork=${FUZZ_FORK:-$((cores / n_targets))}
[ "$fork" -ge 1 ] || fork=1
echo "run-long: $n_targets targets x $fork workers for $SECS s on $cores cores; work in $WORK"

for t in $targets; do
    [ -x "$BIN/fuzz_$t" ] || { echo "run-long.sh: no binary $BIN/fuzz_$t" >&2; exit 2; }
    mkdir -p "$WORK/corpus/$t" "$WORK/artifacts/$t"
    seeds=
    for d in "$SEEDS/$t" "$REGR/$t"; do [ -d "$d" ] && seeds="$seeds $d"; done
    dict=
    [ -f "$DICT/$t.dict" ] && dict=-dict=$DICT/$t.dict
    # Each target in its own subshell, which reports the CPU time of everything it waited for
    # (the libFuzzer parent and its workers) with `times`.
    (
        # shellcheck disable=SC2086  # $seeds and $dict are lists of words
        "$BIN/fuzz_$t" -fork="$fork" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
            -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 $dict \
            -artifact_prefix="$WORK/artifacts/$t/" "$WORK/corpus/$t" $seeds >"$WORK/$t.log" 2>&1
        echo "exit $?" >"$WORK/$t.rc"
        times >"$WORK/$t.times"
    ) &
done
wait

# "1m2.50s 0m3.25s" (children's user and system time, the second line of `times`) -> seconds
cpu_seconds() {
    sed -n 2p "$1" 2>/dev/null | awk '{
        s = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
        printf "%.0f", s }'
}

found=0
{
    printf '%-16s %14s %8s %12s %8s %10s\n' target execs corpus bytes crashes cpu_s
    for t in $targets; do
        log=$WORK/$t.log
        # fork mode's status lines: "#EXECS ... corp: N/SIZE ... oom/timeout/crash: A/B/C ..."
        last=$(grep -E '^#[0-9]+' "$log" | tail -1)
        execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
        files=$(find "$WORK/corpus/$t" -type f | wc -l)
        bytes=$(find "$WORK/corpus/$t" -type f -exec cat {} + | wc -c)
        saved=$(find "$WORK/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
                -o -name 'leak-*' \) | wc -l)
        rc=$(sed 's/exit //' "$WORK/$t.rc" 2>/dev/null || echo '?')
        # a non-zero exit without a saved input (e.g. a crash while reading the seeds) counts too
        [ "$saved" -eq 0 ] && [ "$rc" != 0 ] && saved=1
        [ "$saved" -gt 0 ] && found=1
        printf '%-16s %14s %8s %12s %8s %10s\n' "$t" "${execs:-?}" "$files" "$bytes" "$saved" "$(cpu_seconds "$WORK/$t.times")"
    done
    echo
    echo "seconds: $SECS wall, $fork workers per target, $cores cores, $(uname -n), $(date -u '+%Y-%m-%d %H:%M UTC')"
    if [ $found -ne 0 ]; then
        echo "FOUND (reproducers; logs in $WORK/TARGET.log):"
        find "$WORK/artifacts" -type f | sort | sed 's/^/  /'
    else
        echo "no crashes"
    fi
} >"$SUMMARY"
cat "$SUMMARY"
exit $found

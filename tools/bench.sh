#!/bin/sh
# make bench: runs every benchmark program (tools/bench_*.c → build/tools/bench_*) in turn.
# Benchmarks report medians and ratios against a peer measured in the same run; they never fail
# the build on a number (the VMs are noisy). BENCH_ONLY=name runs one of them.
set -u
B=${BUILD:-build}
for b in "$B"/tools/bench_*; do
    [ -x "$b" ] || continue
    name=$(basename "$b")
    [ -n "${BENCH_ONLY:-}" ] && [ "$name" != "$BENCH_ONLY" ] && continue
    echo "==> $name"
    # bench_gemm also measures the core's multiply-add peak, so its figures read as a share of it
    case $name in bench_gemm) set -- --peak ;; *) set -- ;; esac
    "$b" "$@" || echo "$name exited with status $?"
    echo
done

#!/bin/sh
# make fuzz-bundle: gathers into $BUILD/fuzz/bundle/ what a long fuzzing run needs on a machine
# with neither clang nor libcjson: the clang fuzz binaries (libstdc++ linked in; they look for
# libcjson.so.1 beside themselves), that libcjson, the seeds, regressions and dictionaries, the tiny
# tokenizer the encode/decode targets load, and run-long.sh. Arguments: the target names.
set -eu
B=${BUILD:-build}
F=tools/fuzz
OUT=$B/fuzz/bundle
rm -rf "$OUT"
mkdir -p "$OUT"
for t in "$@"; do cp "$B/fuzz/clang/fuzz_$t" "$OUT/"; done
cp -R "$F/corpus" "$F/dict" "$OUT/"
[ -d "$F/regressions" ] && cp -R "$F/regressions" "$OUT/"
cp models/tiny/tokenizer.json "$F/run-long.sh" "$OUT/"

# Every shared library the binaries need that a bare Debian lacks: today only libcjson.
lib=$(ldd "$OUT/fuzz_$1" | awk '$1 ~ /^libcjson/ { print $3 }')
if [ -n "$lib" ] && [ -f "$lib" ]; then cp -L "$lib" "$OUT/$(basename "$lib")"
else echo "make-bundle: the fuzz binaries do not find libcjson (ldd $OUT/fuzz_$1)" >&2; exit 1; fi
if ldd "$OUT/fuzz_$1" | grep -q 'libstdc++'; then
    echo "make-bundle: fuzz_$1 needs libstdc++.so at run time (expected it linked in)" >&2; exit 1
fi

cat >"$OUT/README.txt" <<EOF
protostar fuzz bundle ($(date -u '+%Y-%m-%d'), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))
  sh run-long.sh SECONDS SUMMARY_FILE [TARGET...]     e.g. sh run-long.sh 3600 summary.txt
Needs only libc, libm and libgcc_s (any glibc Linux x86-64 as new as the build machine's).
New inputs and reproducers go to ./fuzz-work (FUZZ_WORK=DIR to change); FUZZ_FORK=K workers per target.
Reproduce one input: ./fuzz_TARGET FILE. Stack traces need addr2line (binutils) or llvm-symbolizer
for function names; without either they show binary+offset (symbolize later with addr2line -e).
EOF
size=$(du -sk "$OUT" | cut -f1)
echo "fuzz bundle: $OUT ($((size / 1024)) MB, $# targets)"
[ "$size" -lt $((60 * 1024)) ] || { echo "make-bundle: the bundle is over 60 MB" >&2; exit 1; }

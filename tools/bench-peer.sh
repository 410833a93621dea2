#!/bin/sh
# make bench-peer LLAMA_CPP=DIR: protostar against llama.cpp on this machine, in one invocation.
#
#   DIR   a llama.cpp source tree (built here, into $OUT/llama-*), or a build directory of one
#         (bin/llama-bench; its source is read from CMakeCache.txt for the converter)
#
# What it does, with nothing downloaded (it runs on machines without a network):
#   1. builds llama.cpp's llama-bench and llama-quantize (cmake, Release, -DGGML_NATIVE=ON, no
#      server, tests or examples); when the CPU has AMX, a second build with AMX switched off
#      (-mno-amx-*: the same ISA otherwise), so prefill can be compared with and without it
#   2. makes the synthetic Qwen3-0.6B-shape model (build/tools/synth, random weights, bf16) and
#      converts it with that tree's convert_hf_to_gguf.py to f32, bf16 and q8_0 GGUF files, and
#      Q4_0 with llama-quantize --pure (every matrix Q4_0, as protostar's quantize does)
#   3. per format, back to back: llama-bench -p P -n N -t THREADS -r REPS --mmap 0 on its file with
#      each build, then build/tools/bench_peer (protostar) on the same threads, P, N, REPS, weights
#      in memory
#   4. prints the ratio table (tools/peer_table.py: decode and prefill, per thread count and
#      format) with the llama.cpp commit and whether its build used AMX, writes
#      $OUT/bench-peer.csv and draws the ratios, $OUT/bench-peer-BUILD.svg (tools/plot_peer.py)
#
# Settings (environment or make variables):
#   THREADS=1,8,16  FORMATS=f32,bf16,q8_0,q4_0  P=128  N=32  REPS=3 (llama-bench -r, bench_peer -r)
#   ROUNDS=1        passes over the formats; with more, each cell of the table is a median
#   KV=f16          the KV cache: f16, f32, q8_0 or q4_0 on both sides (a list: protostar's side only)
#   DEPTH=0         positions already in the cache before each test, a list like 0,4096 (llama-bench -d)
#   RUN=all|prepare|llama|protostar|table   to split the work over several commands
#   LLAMA_BUILDS=noamx|native|given         only those llama.cpp builds
#   PEER_OUT=$BUILD/bench-peer  JOBS=<cores> (build parallelism)
# Needs: cmake, a C/C++ compiler, python3 with numpy, torch and transformers (the converter's
# imports), and models/qwen3-0.6b/tokenizer.json + tokenizer_config.json (make tokenizer; the
# converter needs a real tokenizer for the vocabulary).
set -eu
B=${BUILD:-build}
OUT=${PEER_OUT:-$B/bench-peer}   # not $OUT: a common name in CI and job runners
THREADS=${THREADS:-1,8,16}
FORMATS=${FORMATS:-f32,bf16,q8_0,q4_0}
P=${P:-128}
N=${N:-32}
REPS=${REPS:-3}
KV=${KV:-f16}
# The same cache on llama.cpp's side: KV=q8_0 is its -ctk q8_0 -ctv q8_0, which needs flash
# attention (-fa 1) for the quantized V cache. A list (KV=f16,q8_0) runs on protostar's side only.
case $KV in
f16 | *,*) LLAMA_KV= ;;
*) LLAMA_KV="-ctk $KV -ctv $KV -fa 1" ;;
esac
DEPTH=${DEPTH:-0}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4)}
MODEL=$B/models/qwen3-0.6b-shape
TOK=models/qwen3-0.6b

die() { echo "bench-peer: $*" >&2; exit 1; }
[ -n "${LLAMA_CPP:-}" ] || die "say where llama.cpp is: make bench-peer LLAMA_CPP=<source or build dir>"
[ -d "$LLAMA_CPP" ] || die "LLAMA_CPP=$LLAMA_CPP is not a directory"
LL=$(cd "$LLAMA_CPP" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---- the llama.cpp source and builds ----
PREBUILT=""
if [ -f "$LL/CMakeLists.txt" ] && [ -f "$LL/convert_hf_to_gguf.py" ]; then
    SRC=$LL
    for d in "$LL/build/bin" "$LL/bin"; do [ -x "$d/llama-bench" ] && PREBUILT=$d && break; done
elif [ -f "$LL/CMakeCache.txt" ]; then
    SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$LL/CMakeCache.txt")
    [ -x "$LL/bin/llama-bench" ] && PREBUILT=$LL/bin
    [ -f "$SRC/convert_hf_to_gguf.py" ] || die "$LL is a build directory whose source ($SRC) is not here; give the source tree"
else
    die "$LL is neither a llama.cpp source tree (CMakeLists.txt, convert_hf_to_gguf.py) nor a build directory (CMakeCache.txt)"
fi
# The tree's own commit: its .git, else a COMMIT file beside the sources (a tree copied without its
# history); never `git -C` alone, which would name the commit of a repository the tree sits inside.
if [ -e "$SRC/.git" ]; then COMMIT=$(git -C "$SRC" rev-parse --short=9 HEAD 2>/dev/null || echo unknown)
else COMMIT=$(cat "$SRC/COMMIT" 2>/dev/null || echo "unknown (no .git or COMMIT file in $SRC)"); fi

HAS_AMX=no
grep -qw amx_int8 /proc/cpuinfo 2>/dev/null && HAS_AMX=yes

# build NAME [extra C/C++ flags]: llama-bench and llama-quantize into $OUT/llama-NAME (kept: a
# second run does not build again).
build() {
    dir=$OUT/llama-$1
    if [ -x "$dir/bin/llama-bench" ] && [ -x "$dir/bin/llama-quantize" ]; then return 0; fi
    command -v cmake >/dev/null || die "cmake is missing (apt-get install cmake)"
    echo "==> building llama.cpp $COMMIT ($1) in $dir: a few minutes"
    cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
        -DCMAKE_C_FLAGS="${2:-}" -DCMAKE_CXX_FLAGS="${2:-}" >"$dir.cmake.log" 2>&1 ||
        { tail -20 "$dir.cmake.log"; die "cmake failed (log: $dir.cmake.log)"; }
    cmake --build "$dir" --target llama-bench llama-quantize -j "$JOBS" >"$dir.build.log" 2>&1 ||
        { tail -20 "$dir.build.log"; die "the llama.cpp build failed (log: $dir.build.log)"; }
}
# -march=native turns AMX on where the CPU has it; -mno-amx-* (given first, still honoured by gcc
# and clang) leaves everything else of the native ISA as it is.
NOAMX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
RUN=${RUN:-all}
if [ -n "$PREBUILT" ]; then BUILDS="given"; else BUILDS="native"; fi
if [ "$HAS_AMX" = yes ]; then BUILDS="$BUILDS noamx"; fi
# LLAMA_BUILDS=noamx (or native, given) keeps only those of the builds above: each build costs
# minutes of compiling and a full set of runs.
if [ -n "${LLAMA_BUILDS:-}" ]; then
    keep=""
    for b in $(echo "$LLAMA_BUILDS" | tr ',' ' '); do
        case " $BUILDS " in *" $b "*) keep="$keep $b" ;; *) die "LLAMA_BUILDS: $b is not one of: $BUILDS" ;; esac
    done
    BUILDS=${keep# }
fi
# RUN=protostar needs none of llama.cpp's builds or conversions (only the build names, for the table)
if [ "$RUN" != protostar ] && [ "$RUN" != table ]; then
    for b in $BUILDS; do
        case $b in
        given) mkdir -p "$OUT/llama-given" && ln -sfn "$PREBUILT" "$OUT/llama-given/bin" ;;
        native) build native ;;
        noamx) build noamx "$NOAMX_FLAGS" ;;
        esac
    done
fi
# Did a build compile ggml's AMX code? ggml-cpu has it when the compiler defines __AMX_INT8__ and
# __AVX512VNNI__, which -march=native does on a CPU with both.
amx_of() {
    if [ "$HAS_AMX" = no ]; then echo "no (CPU without AMX)"; return; fi
    [ "$1" = noamx ] && { echo "no (built with -mno-amx-*)"; return; }
    [ "$1" = given ] && { echo "as that build was configured"; return; }
    defs=$(echo | ${CC:-cc} -march=native -dM -E - 2>/dev/null)
    case $defs in *__AMX_INT8__*__AVX512VNNI__* | *__AVX512VNNI__*__AMX_INT8__*) echo "yes (-march=native)" ;; *) echo no ;; esac
}

# ---- the model, converted ----
[ -x "$B/tools/synth" ] && [ -x "$B/tools/bench_peer" ] || die "build protostar's tools first: make BUILD=$B tools"
[ -f "$MODEL/model.safetensors" ] || "$B/tools/synth" qwen3-0.6b-shape "$MODEL"
HF=$OUT/hf-model   # the synthetic weights and config beside the real tokenizer: what the converter reads
if [ "$RUN" != protostar ]; then
    [ -f "$TOK/tokenizer.json" ] && [ -f "$TOK/tokenizer_config.json" ] ||
        die "$TOK/tokenizer.json and tokenizer_config.json are missing: make tokenizer (or copy them from a machine that has them); llama.cpp's converter needs the real vocabulary"
    mkdir -p "$HF"
    for f in config.json model.safetensors; do ln -sf "$(cd "$MODEL" && pwd)/$f" "$HF/$f"; done
    for f in tokenizer.json tokenizer_config.json; do cp "$TOK/$f" "$HF/$f"; done
fi
gguf_of() { echo "$OUT/model-$1.gguf"; }
# gguf-py imports yaml only to read a model card (README.md), which this model has none of: where
# PyYAML is missing, a stand-in module lets the converter start.
PYSTUB=$OUT/pystub
if ! python3 -c "import yaml" 2>/dev/null; then
    mkdir -p "$PYSTUB"
    printf 'def safe_load(text):\n    return {}\n' >"$PYSTUB/yaml.py"
fi
convert() {
    [ -f "$(gguf_of "$1")" ] && return 0
    if ! python3 -c "import numpy, torch, transformers" 2>/dev/null; then
        die "cannot convert with $SRC/convert_hf_to_gguf.py: python3 lacks $(for m in numpy torch transformers; do python3 -c "import $m" 2>/dev/null || printf '%s ' $m; done)(pip install numpy torch transformers, or run where they are)"
    fi
    echo "==> converting to $1 GGUF"
    HF_HUB_OFFLINE=1 PYTHONPATH="$SRC/gguf-py:$PYSTUB" python3 "$SRC/convert_hf_to_gguf.py" "$HF" --outtype "$1" \
        --outfile "$(gguf_of "$1").part" >"$OUT/convert-$1.log" 2>&1 ||
        { tail -20 "$OUT/convert-$1.log"; die "conversion to $1 failed (log: $OUT/convert-$1.log)"; }
    mv "$(gguf_of "$1").part" "$(gguf_of "$1")"
}
FIRST_BUILD=${BUILDS%% *}
for f in $(echo "$FORMATS" | tr ',' ' '); do
    [ "$RUN" = protostar ] && break
    case $f in
    f32 | bf16 | q8_0) convert "$f" ;;
    q4_0)
        convert bf16
        [ -f "$(gguf_of q4_0)" ] || "$OUT/llama-$FIRST_BUILD/bin/llama-quantize" --pure "$(gguf_of bf16)" \
            "$(gguf_of q4_0)" Q4_0 >"$OUT/quantize.log" 2>&1 || die "llama-quantize failed (log: $OUT/quantize.log)"
        ;;
    *) die "FORMATS: f32, bf16, q8_0, q4_0 (not $f)" ;;
    esac
done

# ---- the runs ----
# RUN=prepare stops here (builds and conversions done, kept for the next run); RUN=llama or
# RUN=protostar runs one side (its CSV is kept: a later run of the other side prints the table);
# RUN=table only prints the table of the CSVs there.
case $RUN in
prepare) echo "bench-peer: prepared in $OUT (llama.cpp builds: $BUILDS; models: $FORMATS)"; exit 0 ;;
all | llama | protostar | table) ;;
*) die "RUN=prepare, llama, protostar, all or table (not $RUN)" ;;
esac
LLCSV=$OUT/llama.csv PSCSV=$OUT/protostar.csv
case $RUN in all | llama) : >"$LLCSV" ;; esac
case $RUN in all | protostar) : >"$PSCSV" ;; esac
# One format at a time, both engines back to back: a shared VM's speed drifts over minutes (we
# measured 1.6x between two calls an hour apart), so each pair of numbers is taken close together.
# ROUNDS=R goes over the formats R times; the table gives each cell's median over the rounds.
ROUNDS=${ROUNDS:-1}
case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS=$ROUNDS: a count of rounds, 1 or more" ;; esac
round=1
while [ "$RUN" != table ] && [ "$round" -le "$ROUNDS" ]; do
    for f in $(echo "$FORMATS" | tr ',' ' '); do
        if [ "$RUN" != protostar ]; then
            for b in $BUILDS; do
                echo "==> llama-bench ($b build), $f, threads $THREADS (round $round of $ROUNDS)"
                "$OUT/llama-$b/bin/llama-bench" -m "$(gguf_of "$f")" -p "$P" -n "$N" -t "$THREADS" -r "$REPS" -d "$DEPTH" \
                    --mmap 0 $LLAMA_KV -o csv >"$OUT/llama-bench-$b-$f.csv" 2>"$OUT/llama-bench-$b-$f.log" ||
                    { tail -5 "$OUT/llama-bench-$b-$f.log"; die "llama-bench failed on $f (log: $OUT/llama-bench-$b-$f.log)"; }
                sed "s/^/$round,$b,$f,/" "$OUT/llama-bench-$b-$f.csv" >>"$LLCSV"
            done
        fi
        if [ "$RUN" != llama ]; then
            echo "==> protostar, $f, threads $THREADS (KV cache $KV; round $round of $ROUNDS)"
            "$B/tools/bench_peer" "$MODEL" --formats "$f" --threads "$THREADS" -p "$P" -n "$N" -r "$REPS" --kv "$KV" \
                --depth "$DEPTH" --csv "$OUT/protostar-$f.csv"
            [ -s "$PSCSV" ] || sed -n '1s/^/round,/p' "$OUT/protostar-$f.csv" >"$PSCSV"
            sed "1d; s/^/$round,/" "$OUT/protostar-$f.csv" >>"$PSCSV"
        fi
    done
    round=$((round + 1))
done
for f in "$LLCSV" "$PSCSV"; do
    [ -s "$f" ] || { echo "bench-peer: $f not there yet (RUN=llama / RUN=protostar makes it); no table"; exit 0; }
done

# ---- the table (tools/peer_table.py) ----
python3 tools/peer_table.py "$LLCSV" "$PSCSV" "$OUT/bench-peer.csv" "$COMMIT" "$HAS_AMX" "$P" "$N" "$BUILDS" \
    "$(for b in $BUILDS; do printf '%s: %s; ' "$b" "$(amx_of "$b")"; done)"
for b in $BUILDS; do
    python3 tools/plot_peer.py "$OUT/bench-peer.csv" "$OUT/bench-peer-$b.svg" "$b" && echo "plot: $OUT/bench-peer-$b.svg"
done

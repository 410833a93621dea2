#!/bin/sh
# tools/check-arm64.sh [--install]: the arm64-only code, run on an x86-64 Linux machine under
# qemu-user: the MSL emulator's hand-written arm64 fiber switch (its own suite, normal and checking
# build) and the NEON kernels (M5's quant_neon.c, M2's f32 and bf16 tiles, M4's attention rows and
# f16 conversions: those labs' tests, with and without the dot-product extension, built by gcc and
# by clang: a Mac builds with clang, which fuses multiply-adds where gcc -std=c11 does not). `make check-arm64` runs it; it is not part of
# `make test` (about a minute of cross builds and emulation).
#
# Needs aarch64-linux-gnu-gcc/g++ and qemu-aarch64, and for the M5 tests cJSON for arm64 (Debian:
# libcjson-dev:arm64). --install installs them with apt-get (root; adds the arm64 architecture).
# Without them it says what is missing and skips. Builds go to build-arm64/ (BUILD_ARM64=dir).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
B=${BUILD_ARM64:-build-arm64}
MAKE=${MAKE:-make}
JOBS=$(nproc 2>/dev/null || echo 4)

if [ "${1:-}" = "--install" ]; then
    apt-get update && apt-get install -y gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user &&
        dpkg --add-architecture arm64 && apt-get update && apt-get install -y libcjson-dev:arm64 || exit 2
fi

missing=
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ qemu-aarch64; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "SKIP check-arm64: not installed:$missing (tools/check-arm64.sh --install, or apt-get install"
    echo "     gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user libcjson-dev:arm64)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

# The guest's C library. With Debian's multiarch libc6:arm64 (it comes with libcjson-dev:arm64)
# take everything from / : running the cross package's ld.so (/usr/aarch64-linux-gnu) with the
# multiarch libc.so.6, which a lookup falls back to, hangs every fork() in the child.
if [ -e /lib/ld-linux-aarch64.so.1 ]; then QEMU_LD_PREFIX=/; else QEMU_LD_PREFIX=/usr/aarch64-linux-gnu; fi
export QEMU_LD_PREFIX
export QEMU_CPU=max           # the dot-product instructions
export TIMEOUT_MULT=10        # emulation is ~10x slower than the tests' timeouts expect
mkdir -p "$B"
R="$ROOT/$B/results"
: > "$R"
export PS_RESULTS="$R"
log="$B/build.log"
: > "$log"

fail_build() {   # what, then the tail of the build log
    echo "FAIL arm64 build $1 (see $log)"
    echo "FAIL arm64 build-$1" >> "$R"
    tail -5 "$log" | sed 's/^/    /'
}

run_tests() {   # variant, test binaries...
    variant=$1
    shift
    for t in "$@"; do
        before=$(wc -l < "$R")
        PS_VARIANT=$variant qemu-aarch64 "./$t" || true
        # a binary that died before reporting anything must not vanish from the count
        [ "$(wc -l < "$R")" -gt "$before" ] || echo "CRASH arm64[$variant] $t (no results)" | tee -a "$R"
    done
}

have_clang=
if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1 &&
    echo 'int main(void){return 0;}' | clang --target=aarch64-linux-gnu -x c - -o "$B/clang-probe" 2>/dev/null; then
    have_clang=1
fi

# 1. The emulator's suite (the fiber switch runs at every barrier). Its mslpp runs here: host cc.
emu() {   # name, CC, CXX
    if $MAKE --no-print-directory -j"$JOBS" -f shared/msl/msl.mk MSL_BUILD="$B/$1" CC="$2" CXX="$3" \
        MSL_HOST_CC=cc "$B/$1/test_emu" "$B/$1/test_emu_check" >> "$log" 2>&1; then
        run_tests "$1" "$B/$1/test_emu" "$B/$1/test_emu_check"
    else
        fail_build "$1"
    fi
}
emu emu-gcc aarch64-linux-gnu-gcc aarch64-linux-gnu-g++
if [ -n "$have_clang" ]; then
    emu emu-clang "clang --target=aarch64-linux-gnu" "clang++ --target=aarch64-linux-gnu"
else
    echo "SKIP arm64 emu-clang (clang cannot target aarch64 here)" | tee -a "$R"
fi

# 2. The M5 tests (quantized products: NEON against the plain C), M2's ops and bf16 tests (the f32
# and bf16 NEON tiles against the plain loop and transformers) and M4's attention tests (the NEON
# row kernels and the f16 cache's conversions) with each compiler and -march.
if [ ! -e /usr/lib/aarch64-linux-gnu/libcjson.so ] && [ ! -e /usr/aarch64-linux-gnu/lib/libcjson.so ]; then
    echo "SKIP arm64 m5 (no cJSON for arm64: apt-get install libcjson-dev:arm64, or --install)" | tee -a "$R"
else
    m5() {   # name, CC, CXX
        mkdir -p "$B/$1" && touch "$B/$1/.deps-ok"   # the dependencies were checked above
        if $MAKE --no-print-directory -j"$JOBS" BUILD="$B/$1" CC="$2" CXX="$3" MSL_HOST_CC=cc \
            LAB=m5-quantization tests >> "$log" 2>&1 &&
            $MAKE --no-print-directory -j"$JOBS" BUILD="$B/$1" CC="$2" CXX="$3" MSL_HOST_CC=cc \
            LAB=m2-forward tests >> "$log" 2>&1 &&
            $MAKE --no-print-directory -j"$JOBS" BUILD="$B/$1" CC="$2" CXX="$3" MSL_HOST_CC=cc \
            LAB=m4-kv-cache tests >> "$log" 2>&1; then
            # shellcheck disable=SC2046
            run_tests "$1" $(cat "$B/$1/t/ref/list-m5-quantization") "$B/$1/t/ref/labs/m2-forward/tests/test_ops" \
                "$B/$1/t/ref/labs/m2-forward/tests/test_bf16" "$B/$1/t/ref/labs/m4-kv-cache/tests/test_kv_attention"
        else
            fail_build "$1"
        fi
    }
    m5 m5-gcc-dotprod "aarch64-linux-gnu-gcc -march=armv8.2-a+dotprod" aarch64-linux-gnu-g++
    m5 m5-gcc-neon aarch64-linux-gnu-gcc aarch64-linux-gnu-g++
    if [ -n "$have_clang" ]; then
        m5 m5-clang-dotprod "clang --target=aarch64-linux-gnu -march=armv8.2-a+dotprod" "clang++ --target=aarch64-linux-gnu"
        m5 m5-clang-neon "clang --target=aarch64-linux-gnu" "clang++ --target=aarch64-linux-gnu"
    else
        echo "SKIP arm64 m5-clang (clang cannot target aarch64 here)" | tee -a "$R"
    fi
    # 3. The thread pool with every round on its sleep paths (POOL_SPINS=1, no polling): qemu's arm64 once lost
    # a wake-up there that no x86 run showed (shared/thread_pool.c, the file's comment). Ten runs,
    # since a lost wake-up is a matter of timing. Not pool.fork: qemu-user itself aborts when a
    # forked child of a threaded process starts threads (an assertion in its TCG plugin code).
    sb="$B/pool-sleep"
    mkdir -p "$sb" && touch "$sb/.deps-ok"
    if $MAKE --no-print-directory -j"$JOBS" BUILD="$sb" CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
        MSL_HOST_CC=cc OPT="-O2 -DPOOL_SPINS=1 -DPOOL_SPIN_US=0" LAB=tools "$sb/t/ref/tools/tests/test_thread_pool" >> "$log" 2>&1; then
        for i in 1 2 3 4 5 6 7 8 9 10; do
            for name in pool.every-part-once pool.sleeping-workers pool.sleeping-caller pool.nested; do
                ONLY=$name run_tests "pool-sleep-$i" "$sb/t/ref/tools/tests/test_thread_pool"
            done
        done
    else
        fail_build pool-sleep
    fi
fi

sh tools/summarize "$R"

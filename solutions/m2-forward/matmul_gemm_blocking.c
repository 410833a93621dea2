// The blocking of matmul_gemm.c's products (matmul_gemm.h): its defaults for the machine at hand,
// and the choice tools/bench_gemm sets to measure others. The bits do not depend on it.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "matmul_gemm.h"

// The blocking's defaults, measured with tools/bench_gemm (book/m2-forward.md#matmul-blocking).
// Row blocks of half the core's L2 cache where the system says its size (256 KiB where not; at
// least 128 KiB, at most 1 MiB): the block stays there with room for the tokens passing through.
// Columns: AVX2 takes whole rows, its tiles' 3 tokens (36 KiB at 3072 columns) streaming from L2
// fast enough; chunks of 1024 measured slower there, each chunk a new start for the tile. AVX-512
// and NEON take chunks of 1024, keeping a tile's 6 or 4 tokens in 24 or 16 KiB of L1 at twice or
// more AVX2's rate of loads. Rows packed from 32 tokens on (fewer do not repay the copy), with
// AVX-512 only: there each row's vector is a whole 64-byte cache line, so each step of a tile
// starts 4 new lines in 4 places; with AVX2 (half a line) packing measured no faster.
// $PS_GEMM_BLOCK_KIB sets the block instead (read once), to measure another machine through the
// whole engine (bench_peer, generate), where bench_gemm's --block-kib reaches only its products.
static int default_block_bytes;
static void find_default_block(void) {
    const char *kib = getenv("PS_GEMM_BLOCK_KIB");
    if (kib && atol(kib) >= 16 && atol(kib) <= 64 * 1024) {
        default_block_bytes = (int)(atol(kib) * 1024);
        return;
    }
    long l2 = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);   // glibc; asking the CPU can be slow (a VM traps): once
#endif
    const long block = l2 > 0 ? l2 / 2 : 256 * 1024;
    default_block_bytes = (int)(block < 128 * 1024 ? 128 * 1024 : block > 1024 * 1024 ? 1024 * 1024 : block);
}

static GemmBlocking chosen;   // as set by matmul_gemm_set_blocking; fields 0: the defaults

GemmBlocking matmul_gemm_blocking(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, find_default_block);
    const char *name = matmul_simd_name();
    GemmBlocking b = chosen;
    if (b.block_bytes <= 0) b.block_bytes = default_block_bytes;
    if (b.chunk_cols <= 0) b.chunk_cols = strcmp(name, "avx2") == 0 ? GEMM_WHOLE_ROWS : 1024;
    b.chunk_cols = b.chunk_cols < 16 ? 16 : b.chunk_cols & ~15;
    if (b.pack_min_tokens == 0) b.pack_min_tokens = strcmp(name, "avx512") == 0 ? 32 : -1;
    return b;
}

void matmul_gemm_set_blocking(GemmBlocking b) { chosen = b; }

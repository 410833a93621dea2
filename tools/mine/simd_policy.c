// Linked into the learner's engine only (make mine -> build/mine/protostar): where a lab is the
// learner's, its plain C loops run, not the SIMD kernels that would replace them (shared/simd.h).
// tools/mine.sh sets MINE_PLAIN_F32 when M2 is the learner's, MINE_PLAIN_ATTN when M4 is and
// MINE_PLAIN_QUANT when M5 is, and says so in its banner. PS_SIMD in the environment still
// decides when given (PS_SIMD=on: SIMD).
#include "simd.h"

#ifndef MINE_PLAIN_F32
#define MINE_PLAIN_F32 0
#endif
#ifndef MINE_PLAIN_QUANT
#define MINE_PLAIN_QUANT 0
#endif
#ifndef MINE_PLAIN_ATTN
#define MINE_PLAIN_ATTN 0
#endif

// Runs before main(), so no product has chosen its kernel yet.
__attribute__((constructor)) static void your_loops_first(void) {
    if (simd_from_env()) return;
    if (MINE_PLAIN_F32) simd_set_level(SIMD_F32, SIMD_OFF);
    if (MINE_PLAIN_QUANT) simd_set_level(SIMD_QUANT, SIMD_OFF);
    if (MINE_PLAIN_ATTN) simd_set_level(SIMD_ATTN, SIMD_OFF);   // M4: your cached_attention runs
}

// The q4_0 cache's row kernels for arm64 (kv_q4.h): NEON, one query head at a time, as the q8_0
// cache's (kv_q8_neon.c). A block's 16 bytes give its 32 values as signed bytes k4 - 8 (a mask, a
// shift, a subtraction); a key's dot product is then the plain C's: per block, the integer sum of
// the prepared query's int8 times those (sdot, or widening multiplies), and the same float terms
// in the same order. A value block's bytes are widened to f32, 4 at a time, and multiplied-added
// in f32 lanes: within float rounding of the plain C, not bit for bit (fused multiply-adds).
// Compiled on every machine: elsewhere the file is empty. tools/check-arm64.sh runs them under qemu.
#include "kv_q4.h"

#if KV_Q4_NEON
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))
// A block's values 0..15 (LO) and 16..31 (HI) as signed bytes q - 8, from its 16 bytes of nibbles
// at B (kv_q4.h: after the row's scales).
#define BLOCK_VALUES(B, LO, HI)                                                                    \
    const uint8x16_t LO##_packed = vld1q_u8(B);                                                    \
    const int8x16_t LO = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(LO##_packed, vdupq_n_u8(0x0f))), vdupq_n_s8(8)); \
    const int8x16_t HI = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(LO##_packed, 4)), vdupq_n_s8(8))
#define KV_BLOCK(row, b) kv_q4_nibbles_at(row, n, b)
#define KV_SCALE(row, b) q_f16_at(kv_q4_scale_at(row, b))
#include "kv_rows_neon.h"

KV_ROWS_NEON(q4_neon, BLOCK_VALUES)

const KVRowKernels kv_q4_kernels_neon = {"neon", dot_q4_neon, dots_q4_neon, add_q4_neon};
#endif

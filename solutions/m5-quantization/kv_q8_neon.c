// The q8_0 cache's row kernels for arm64 (kv_q8.h): NEON, one query head at a time, as M4's NEON
// kernels. A key's dot product is the plain C's: per block, the integer sum of the prepared
// query's int8 times the key's (sdot, or widening multiplies), then the same float terms in the
// same order. A value's block of 32 int8 is widened to f32, 4 at a time (sxtl twice, scvtf), and
// multiplied-added in f32 lanes: within float rounding of the plain C, not bit for bit (fused
// multiply-adds). Compiled on every machine: elsewhere the file is empty. tools/check-arm64.sh
// runs them under qemu.
#include "kv_q8.h"

#if KV_Q8_NEON
#define ROW(j) ((const void *)((const char *)rows + (j) * row_bytes))
// A block's 32 int8 (at B) as they are.
#define BLOCK_VALUES(B, LO, HI) const int8x16_t LO = vld1q_s8(B), HI = vld1q_s8((B) + 16)
#define KV_BLOCK(row, b) kv_q8_quants_at(row, n, b)
#define KV_SCALE(row, b) q_f16_at(kv_q8_scale_at(row, b))
#include "kv_rows_neon.h"

KV_ROWS_NEON(q8_neon, BLOCK_VALUES)

const KVRowKernels kv_q8_kernels_neon = {"neon", dot_q8_neon, dots_q8_neon, add_q8_neon};
#endif

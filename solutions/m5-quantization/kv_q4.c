// The q4_0 cache format (kv_q4.h): how a row is stored and read back, the plain C row kernels,
// and the choice of the SIMD ones (kv_q4_x86.c, kv_q4_avx512.c, kv_q4_neon.c).
#include "kv_q4.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "quant.h"
#include "quant_simd.h"
#include "simd.h"

// Are x's 32 values all finite? x x 0 is 0 for every finite x and NaN for an infinity or a NaN
// (a loop without branches: the compiler vectorises it, and it runs on every block stored).
static bool block_all_finite(const float *x) {
    float zero = 0.0f;
    for (int i = 0; i < QK4_0; i++) zero += x[i] * 0.0f;
    return zero == 0.0f;
}

static bool simd_now(void);

// n values (a multiple of 32) into a row (kv_q4.h: the scales, then the nibbles) with M5's own
// quantizer, one block at a time (with SIMD on, x86's AVX2 copy of its rounding: the same bytes,
// 112 -> 17 us a token). A block with a value that is not finite would make quantize_row_q4_0
// convert NaN to an int (not defined in C): it gets a NaN scale instead, reads back as NaN, and
// makes attention's result NaN, as an f32 cache holding that value would.
static void store_q4(void *row, const float *x, size_t n) {
#if KV_Q4_X86
    if (simd_now() && kv_q4_store_avx2(row, x, (int)n)) return;   // the same bytes (kv_q4_x86.c)
#endif
    for (int b = 0; b < (int)(n / QK4_0); b++, x += QK4_0) {
        BlockQ4_0 y;
        if (block_all_finite(x)) {
            quantize_row_q4_0(x, &y, QK4_0);
        } else {
            y = (BlockQ4_0){.d = {0x00, 0x7e}};   // f16 quiet NaN, little-endian
            memset(y.qs, 0x88, sizeof y.qs);      // q = 8: zeros, times NaN
        }
        memcpy((uint8_t *)kv_q4_scale_at(row, b), y.d, sizeof y.d);
        memcpy((uint8_t *)kv_q4_nibbles_at(row, (int)n, b), y.qs, sizeof y.qs);
    }
}

// Block b of a row as the weights' BlockQ4_0.
static BlockQ4_0 block_of(const void *row, int n, int b) {
    BlockQ4_0 y;
    memcpy(y.d, kv_q4_scale_at(row, b), sizeof y.d);
    memcpy(y.qs, kv_q4_nibbles_at(row, n, b), sizeof y.qs);
    return y;
}

static void load_q4(float *x, const void *row, size_t n) {
    for (int b = 0; b < (int)(n / QK4_0); b++) {
        const BlockQ4_0 y = block_of(row, (int)n, b);
        dequantize_row_q4_0(&y, x + (size_t)b * QK4_0, QK4_0);
    }
}

// ---- plain C: the reference the SIMD kernels are tested against ----

// A prepared query head . row: per block, (dq x dk) x the exact integer sum of q8[i] x (k4[i] - 8),
// the blocks' terms added in order. Byte i of a block holds value i (low nibble) and i + 16.
static float dot_q4_prepared(const KVQ8Query *q, const void *k, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        const uint8_t *qs = kv_q4_nibbles_at(k, n, b);
        int32_t block = 0;
        for (int i = 0; i < QK4_0 / 2; i++)
            block += q[b].qs[i] * ((qs[i] & 0x0f) - 8) + q[b].qs[i + 16] * ((qs[i] >> 4) - 8);
        const float d = q[b].d * q_f16_at(kv_q4_scale_at(k, b));
        const float term = d * (float)block;   // |block| <= 32 x 127 x 8 < 2^24: exact as a float
        sum += term;   // a statement of its own, so that no compiler fuses it into an FMA
    }
    return sum;
}

static void dots_q4_plain(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                          size_t row_bytes, int n) {
    const KVQ8Query *qp = kv_q8_prepare_heads(q, n_q, n, false);
    for (int h = 0; h < n_q; h++)
        for (int j = 0; j < n_rows; j++)
            scores[(size_t)h * stride + j] =
                dot_q4_prepared(qp + (size_t)h * (n / QK4_0), (const char *)rows + j * row_bytes, n);
}

static float dot_q4_plain(const float *q, const void *row, int n) {
    float score;
    dots_q4_plain(&score, 1, q, 1, 1, row, 0, n);
    return score;
}

// out += w[j] x row j, the weight and the block's scale multiplied first: w x d x (v4[i] - 8).
static void add1_q4_plain(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int j = 0; j < n_rows; j++) {
        const void *v = (const char *)rows + j * row_bytes;
        for (int b = 0; b < n / QK4_0; b++) {
            const float wd = w[j] * q_f16_at(kv_q4_scale_at(v, b));
            const uint8_t *qs = kv_q4_nibbles_at(v, n, b);
            float *o = out + b * QK4_0;
            for (int i = 0; i < QK4_0 / 2; i++) {
                o[i] += wd * (float)((qs[i] & 0x0f) - 8);
                o[i + 16] += wd * (float)((qs[i] >> 4) - 8);
            }
        }
    }
}

static void add_q4_plain(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                         size_t row_bytes, int n) {
    for (int h = 0; h < n_q; h++) add1_q4_plain(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

static const KVRowKernels PLAIN = {"plain C", dot_q4_plain, dots_q4_plain, add_q4_plain};

// ---- the choice ----

const KVRowKernels *kv_q4_kernels_cpu(const char *name) {
#if KV_Q4_X86
    if (!strcmp(name, "avx2") && simd_cpu_avx2_fma_f16c()) return &kv_q4_kernels_avx2;
    if (!strcmp(name, "avx512") && simd_cpu_avx2_fma_f16c() && quant_vnni_supported()) return &kv_q4_kernels_avx512;
#elif KV_Q4_NEON
    if (!strcmp(name, "neon")) return &kv_q4_kernels_neon;
#endif
    (void)name;
    return NULL;
}

static const KVRowKernels *simd_set;   // this CPU's, decided once (NULL: none)
static void pick_simd(void) {
    simd_set = simd_avx512_allowed() ? kv_q4_kernels_cpu("avx512") : NULL;
    if (!simd_set) simd_set = kv_q4_kernels_cpu("avx2");
    if (!simd_set) simd_set = kv_q4_kernels_cpu("neon");
}

const KVRowKernels *kv_q4_kernels_plain(void) { return &PLAIN; }

const KVRowKernels *kv_q4_kernels_simd(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pick_simd);
    return simd_set;
}

// What the cache calls per layer and pass: SIMD while SIMD_QUANT is "on" (make mine keeps it off
// while M5 is the learner's, so the cache then runs these plain loops on the learner's quantizers).
static bool simd_now(void) { return kv_q4_kernels_simd() && simd_level(SIMD_QUANT) == SIMD_ON; }
static const KVRowKernels *kernels_now(void) { return simd_now() ? kv_q4_kernels_simd() : &PLAIN; }

static const KVFormat Q4_0 = {KV_Q4_0, "q4_0", QK4_0, sizeof(BlockQ4_0), store_q4, load_q4, kernels_now};

int kv_q4_register(void) { return kv_format_register(&Q4_0); }

// The q8_0 cache format (kv_q8.h): how a row is stored and read back, the plain C row kernels,
// and the choice of the SIMD ones (kv_q8_x86.c, kv_q8_avx512.c, kv_q8_neon.c).
#include "kv_q8.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "quant_simd.h"
#include "scratch.h"
#include "simd.h"

// Is every one of x's 32 values finite? By their exponent bits (a loop the compiler vectorises:
// it runs on every block of every row the cache stores, and of every query head).
static bool block_finite(const float *x) {
    uint32_t bad = 0;
    for (int i = 0; i < QK8_0; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

static bool simd_now(void);

// n values (a multiple of 32) into a row (kv_q8.h: the scales, then the quants) with M5's own
// quantizer, one block at a time: a block with a value that is not finite would make
// quantize_row_q8_0 convert NaN to int8 (not defined in C), so such a block gets a NaN scale and
// zero quants instead. It reads back as NaN, as an f32 cache would hold it, and attention's result
// is NaN as it would be there.
//
// With the AVX2 kernels, the same bytes come faster from kv_q8_store_avx2 (quant.kv-q8-row
// holds both ways to quantize_row_q8_0's bytes). quantize_row_q8_0's scalar loop took 528 us per
// token of Qwen3-0.6B (2 x 28 rows of 1,024 values; the f16 cache's conversion 8 us), on the one
// thread that writes the cache while the others wait: 8-12% of a step at position 0 at 16 threads
// on the Xeon VM (4.5-7 ms), the size of the q8_0 cache's deficit measured there (5-10%; not
// measured again after this). AVX2: 73-81 us (store_q8 over those rows, best of 50, our AVX2 VM).
static void store_q8(void *row, const float *x, size_t n) {
#if KV_Q8_X86
    if (simd_now() && kv_q8_store_avx2(row, x, (int)n)) return;   // both x86 sets store so
#endif
    for (int b = 0; b < (int)(n / QK8_0); b++, x += QK8_0) {
        BlockQ8_0 y;
        if (block_finite(x)) {
            quantize_row_q8_0(x, &y, QK8_0);
        } else {
            y = (BlockQ8_0){.d = {0x00, 0x7e}};   // f16 quiet NaN, little-endian
        }
        memcpy((uint8_t *)kv_q8_scale_at(row, b), y.d, sizeof y.d);
        memcpy((int8_t *)kv_q8_quants_at(row, (int)n, b), y.qs, sizeof y.qs);
    }
}

static void load_q8(float *x, const void *row, size_t n) {
    for (int b = 0; b < (int)(n / QK8_0); b++) {
        BlockQ8_0 y;   // block b put back together
        memcpy(y.d, kv_q8_scale_at(row, b), sizeof y.d);
        memcpy(y.qs, kv_q8_quants_at(row, (int)n, b), sizeof y.qs);
        dequantize_row_q8_0(&y, x + (size_t)b * QK8_0, QK8_0);
    }
}

// ---- the query, rounded to 8 bits ----

void kv_q8_query(KVQ8Query *y, const float *q, int n, bool simd) {
    static _Thread_local Scratch acts;
    const int blocks = n / QK8_0;
    QuantAct *a = scratch_reserve(&acts, (size_t)blocks * sizeof *a);
    void (*act)(const float *, QuantAct *, int) = simd ? quant_simd_act : quantize_act;
    bool finite = true;
    for (int b = 0; b < blocks; b++) finite &= block_finite(q + b * QK8_0);
    if (finite) act(q, a, n);   // one call for all of them (the usual case)
    for (int b = 0; b < blocks; b++) {
        if (!finite) {   // block by block: a block that is not finite gets d = NaN, qs = 0
            if (block_finite(q + b * QK8_0)) act(q + b * QK8_0, &a[b], QK8_0);
            else a[b] = (QuantAct){.d = NAN};
        }
        for (int i = 0; i < QK8_0; i++)   // -127 .. 127: fits in 8 bits, and so does its magnitude
            y[b].qs[i] = (int8_t)a[b].qs[i], y[b].mag[i] = (uint8_t)abs(a[b].qs[i]);
        y[b].d = a[b].d;
    }
}

// ---- plain C: the reference the SIMD kernels are tested against ----

// A prepared query head . row: per block, (dq x dk) x the exact integer sum of q8[i] x k8[i],
// the blocks' terms added in order.
static float dot_q8_prepared(const KVQ8Query *q, const void *k, int n) {
    float sum = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        const int8_t *qs = kv_q8_quants_at(k, n, b);
        int32_t block = 0;
        for (int i = 0; i < QK8_0; i++) block += q[b].qs[i] * qs[i];
        const float d = q[b].d * q_f16_at(kv_q8_scale_at(k, b));
        const float term = d * (float)block;   // |block| <= 32 x 127 x 127 < 2^24: exact as a float
        sum += term;   // a statement of its own, so that no compiler fuses it into an FMA
    }
    return sum;
}

const KVQ8Query *kv_q8_prepare_heads(const float *q, int n_q, int n, bool simd) {
    static _Thread_local Scratch mem;
    KVQ8Query *y = scratch_reserve(&mem, (size_t)n_q * (n / QK8_0) * sizeof *y);
    kv_q8_query(y, q, n_q * n, simd);   // the heads' blocks follow each other (n % 32 == 0)
    return y;
}

static float dot_q8_plain(const float *q, const void *row, int n) {
    return dot_q8_prepared(kv_q8_prepare_heads(q, 1, n, false), row, n);
}

// out += w[j] x row j, the weight and the block's scale multiplied first: w x d x v8[i].
static void add1_q8_plain(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int j = 0; j < n_rows; j++) {
        const void *v = (const char *)rows + j * row_bytes;
        for (int b = 0; b < n / QK8_0; b++) {
            const float wd = w[j] * q_f16_at(kv_q8_scale_at(v, b));
            const int8_t *qs = kv_q8_quants_at(v, n, b);
            for (int i = 0; i < QK8_0; i++) out[b * QK8_0 + i] += wd * qs[i];
        }
    }
}

static void dots_q8_plain(float *scores, int stride, const float *q, int n_q, int n_rows, const void *rows,
                          size_t row_bytes, int n) {
    const KVQ8Query *qp = kv_q8_prepare_heads(q, n_q, n, false);
    for (int h = 0; h < n_q; h++)
        for (int j = 0; j < n_rows; j++)
            scores[(size_t)h * stride + j] =
                dot_q8_prepared(qp + (size_t)h * (n / QK8_0), (const char *)rows + j * row_bytes, n);
}

static void add_q8_plain(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,
                         size_t row_bytes, int n) {
    for (int h = 0; h < n_q; h++) add1_q8_plain(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);
}

static const KVRowKernels PLAIN = {"plain C", dot_q8_plain, dots_q8_plain, add_q8_plain};

// ---- the choice ----

const KVRowKernels *kv_q8_kernels_cpu(const char *name) {
#if KV_Q8_X86
    const bool avx2 = simd_cpu_avx2_fma_f16c();
    if (!strcmp(name, "avx2")) return avx2 ? &kv_q8_kernels_avx2 : NULL;
    if (!strcmp(name, "avx512")) return avx2 && quant_vnni_supported() ? &kv_q8_kernels_avx512 : NULL;
#elif KV_Q8_NEON
    if (!strcmp(name, "neon")) return &kv_q8_kernels_neon;
#endif
    return NULL;
}

static const KVRowKernels *simd_set;   // this CPU's, decided once (NULL: none)
static void pick_simd(void) {
    simd_set = simd_avx512_allowed() ? kv_q8_kernels_cpu("avx512") : NULL;
    if (!simd_set) simd_set = kv_q8_kernels_cpu("avx2");
    if (!simd_set) simd_set = kv_q8_kernels_cpu("neon");
}

const KVRowKernels *kv_q8_kernels_plain(void) { return &PLAIN; }

const KVRowKernels *kv_q8_kernels_simd(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pick_simd);
    return simd_set;
}

// What the cache calls per layer and pass: SIMD while SIMD_QUANT is "on" (make mine keeps it off
// while M5 is the learner's, so the cache then runs these plain loops).
static bool simd_now(void) { return kv_q8_kernels_simd() && simd_level(SIMD_QUANT) == SIMD_ON; }
static const KVRowKernels *kernels_now(void) { return simd_now() ? kv_q8_kernels_simd() : &PLAIN; }

static const KVFormat Q8_0 = {KV_Q8_0, "q8_0", QK8_0, sizeof(BlockQ8_0), store_q8, load_q8, kernels_now};

int kv_q8_register(void) { return kv_format_register(&Q8_0); }

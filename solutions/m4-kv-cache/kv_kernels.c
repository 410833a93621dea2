// The cache's row kernels (kv_kernels.h): plain C, AVX2 + FMA + F16C, NEON; chosen at run time.
//
// Attention over a long cache is a stream of short dot products (head_dim long, one per cached
// key) and short weighted additions (one per cached value). Each is too short for the compiler's
// loop to matter much, but there are 2 x 28 x 16 x p of them per token: at p = 4096, 3.7 million.
// So each instruction set has its own set, in its own file (kv_kernels_simd.h lists them):
// kv_kernels_x86.c (AVX2, AVX-512) and kv_kernels_neon.c. This file holds the plain C kernels and
// conversions, the reference the SIMD ones are tested against, the choice among the sets, and the
// table of cache formats (kv_kernels.h).
#include "kv_kernels.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_kernels_simd.h"
#include "simd.h"

// ---- conversions in plain C (exact: IEEE round to nearest even, like F16C and NEON) ----

uint16_t kv_half_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));   // NaN stays NaN (quiet)
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   // 65520 and up round to infinity
    if (abs < 0x38800000u) {   // below 2^-14, half's smallest normal: a multiple of 2^-24
        // Adding 0.5 puts the sum's last mantissa bit at 2^-24, and the FPU rounds to nearest
        // even: the low bits of the sum are the subnormal's mantissa (1024 = the smallest normal).
        float a, sum;
        memcpy(&a, &abs, sizeof a);
        sum = a + 0.5f;
        uint32_t bits;
        memcpy(&bits, &sum, sizeof bits);
        return (uint16_t)(sign | (bits - 0x3f000000u));
    }
    // A normal half: rebias the exponent (127 -> 15) and round the mantissa from 23 to 10 bits,
    // to nearest, ties to even (a carry out of the mantissa moves into the exponent, as it should).
    const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

float kv_float_from_half(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0x1f) x = sign | 0x7f800000u | (mant << 13);   // infinity, NaN
    else if (exp == 0) {                                        // zero, subnormal: mant x 2^-24
        const float f = (float)mant * 0x1p-24f;
        memcpy(&x, &f, sizeof x);
        x |= sign;
    } else x = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

// ---- plain C ----

static float dot_f32_plain(const float *q, const void *row, int n) {
    const float *k = row;
    float sum = 0.0f;
    for (int d = 0; d < n; d++) sum += q[d] * k[d];
    return sum;
}
static float dot_f16_plain(const float *q, const void *row, int n) {
    const uint16_t *k = row;
    float sum = 0.0f;
    for (int d = 0; d < n; d++) sum += q[d] * kv_float_from_half(k[d]);
    return sum;
}
static void add1_f32_plain(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int j = 0; j < n_rows; j++) {
        const float *v = (const float *)((const char *)rows + j * row_bytes);
        for (int d = 0; d < n; d++) out[d] += w[j] * v[d];
    }
}
static void add1_f16_plain(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes, int n) {
    for (int j = 0; j < n_rows; j++) {
        const uint16_t *v = (const uint16_t *)((const char *)rows + j * row_bytes);
        for (int d = 0; d < n; d++) out[d] += w[j] * kv_float_from_half(v[d]);
    }
}
KV_HEADS_BY_ONE(dots_f32_plain, add_f32_plain, dot_f32_plain, add1_f32_plain)
KV_HEADS_BY_ONE(dots_f16_plain, add_f16_plain, dot_f16_plain, add1_f16_plain)
static const KVRowKernels PLAIN[2] = {{"plain C", dot_f32_plain, dots_f32_plain, add_f32_plain},
                                      {"plain C", dot_f16_plain, dots_f16_plain, add_f16_plain}};

// The softmax of a tile, in plain C: the loops kv_attention had, one value at a time. libm's expf
// takes one value per call and the running sum waits on each addition: on one core at 4,096 keys
// that was about half of attention's time, so the SIMD sets do 8 or 16 at a time with their own
// e^x (kv_kernels_simd.h) and keep the sum in registers.
static float scale_max_plain(float *w, int n, float scale) {
    for (int j = 0; j < n; j++) w[j] *= scale;
    float m = w[0];
    for (int j = 1; j < n; j++) m = w[j] > m ? w[j] : m;
    return m;
}
static float exp_sum_plain(float *w, int n, float m, float sum) {
    for (int j = 0; j < n; j++) {
        w[j] = kv_softmax_exp(w[j] - m);
        sum += w[j];
    }
    return sum;
}
static void rescale_plain(float *x, int n, float f) {
    for (int d = 0; d < n; d++) x[d] *= f;
}
static const KVSoftmaxKernels PLAIN_SOFTMAX = {"plain C", scale_max_plain, exp_sum_plain, rescale_plain};

// The best this CPU has, decided once (NULL: plain C only).
static const KVRowKernels *best;
static const KVSoftmaxKernels *best_softmax;
static void (*best_to_f16)(uint16_t *dst, const float *src, size_t n);
static void (*best_to_f32)(float *dst, const uint16_t *src, size_t n);
static void pick_best(void) {
#if KV_SIMD_X86
    if (simd_cpu_avx2_fma_f16c()) {
        // make check tests both: PS_SIMD=avx2 keeps AVX-512 off
        const bool avx512 = __builtin_cpu_supports("avx512f") && simd_avx512_allowed();
        best = avx512 ? kv_kernels_avx512 : kv_kernels_avx2;
        best_softmax = avx512 ? &kv_softmax_avx512 : &kv_softmax_avx2;
        best_to_f16 = kv_f32_to_f16_f16c;
        best_to_f32 = kv_f16_to_f32_f16c;
    }
#elif KV_SIMD_NEON
    best = kv_kernels_neon;
    best_softmax = &kv_softmax_neon;
    best_to_f16 = kv_f32_to_f16_neon;
    best_to_f32 = kv_f16_to_f32_neon;
#endif
}
static void pick_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pick_best);
}

// This lab's two sets, f32 and f16, as the SIMD policy allows now.
static const KVRowKernels *this_lab_kernels(KVType type) {
    pick_once();
    const KVRowKernels *set = best && simd_level(SIMD_ATTN) == SIMD_ON ? best : PLAIN;
    return &set[type == KV_F16];
}
const KVSoftmaxKernels *kv_softmax_kernels(void) {
    pick_once();
    return best_softmax && simd_level(SIMD_ATTN) == SIMD_ON ? best_softmax : &PLAIN_SOFTMAX;
}
static const KVRowKernels *f32_kernels(void) { return this_lab_kernels(KV_F32); }
static const KVRowKernels *f16_kernels(void) { return this_lab_kernels(KV_F16); }

// ---- the table of cache formats ----

static void store_f32(void *row, const float *x, size_t n) { memcpy(row, x, n * sizeof *x); }
static void load_f32(float *x, const void *row, size_t n) { memcpy(x, row, n * sizeof *x); }
static void store_f16(void *row, const float *x, size_t n) { kv_f32_to_f16(row, x, n); }
static void load_f16(float *x, const void *row, size_t n) { kv_f16_to_f32(x, row, n); }

static const KVFormat F32 = {KV_F32, "f32", 1, 4, store_f32, load_f32, f32_kernels};
static const KVFormat F16 = {KV_F16, "f16", 1, 2, store_f16, load_f16, f16_kernels};
// Registered at build time: this lab's formats are there before anyone asks.
static const KVFormat *formats[KV_MAX_FORMATS] = {[KV_F32] = &F32, [KV_F16] = &F16};
static pthread_mutex_t formats_lock = PTHREAD_MUTEX_INITIALIZER;

int kv_format_register(const KVFormat *f) {
    if (f->type < KV_EXTENSION || f->type >= KV_MAX_FORMATS || f->block < 1 || f->block_bytes < 1) {
        fprintf(stderr, "kv cache: format '%s' has id %d (a new format takes %d..%d) or an empty block\n", f->name,
                f->type, KV_EXTENSION, KV_MAX_FORMATS - 1);
        return -1;
    }
    pthread_mutex_lock(&formats_lock);
    int status = 0;
    const KVFormat *named = kv_format_named(f->name);
    if ((formats[f->type] && formats[f->type] != f) || (named && named != f)) {
        fprintf(stderr, "kv cache: format '%s' (id %d) clashes with '%s'\n", f->name, f->type,
                formats[f->type] && formats[f->type] != f ? formats[f->type]->name : named->name);
        status = -1;
    } else {
        formats[f->type] = f;
    }
    pthread_mutex_unlock(&formats_lock);
    return status;
}

const KVFormat *kv_format(KVType type) { return type >= 0 && type < KV_MAX_FORMATS ? formats[type] : NULL; }

const KVFormat *kv_format_named(const char *name) {
    for (int t = 0; t < KV_MAX_FORMATS; t++)
        if (formats[t] && !strcmp(formats[t]->name, name)) return formats[t];
    return NULL;
}

void kv_format_names(char *buf, size_t size) {
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int t = 0; t < KV_MAX_FORMATS && used < size; t++)
        if (formats[t]) {
            const int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", formats[t]->name);
            used += w > 0 ? (size_t)w : 0;
        }
}

size_t kv_row_bytes(KVType type, int n) {
    const KVFormat *f = kv_format(type);
    return f && n >= 0 && n % f->block == 0 ? (size_t)(n / f->block) * (size_t)f->block_bytes : 0;
}

const KVRowKernels *kv_row_kernels(KVType type) {
    const KVFormat *f = kv_format(type);
    if (!f) {   // kv_cache_init_as refuses an unknown type: a caller broke the contract
        fprintf(stderr, "kv cache: no format has id %d\n", type);
        abort();
    }
    return f->kernels();
}

// The conversions give the same bits either way, so they use SIMD whatever the policy says.
void kv_f32_to_f16(uint16_t *dst, const float *src, size_t n) {
    pick_once();
    if (best_to_f16) {
        best_to_f16(dst, src, n);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = kv_half_from_float(src[i]);
}

void kv_f16_to_f32(float *dst, const uint16_t *src, size_t n) {
    pick_once();
    if (best_to_f32) {
        best_to_f32(dst, src, n);
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = kv_float_from_half(src[i]);
}

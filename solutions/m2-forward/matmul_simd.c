// The f32 products again, with SIMD: AVX-512 or AVX2 (with FMA) on x86-64, NEON on arm64, chosen
// at run time. matmul() uses them when the SIMD policy (shared/simd.h, family SIMD_F32) is "on":
// not with PS_SIMD=0 or PS_SIMD=exact in the environment, nor after matmul_use_simd(false) (this
// lab's tests call it, to run your loop; so does a learner's build, `make mine`, while this lab is
// yours). PS_SIMD=avx2 leaves out AVX-512.
//
// Why: your loop, `sum += w[c] * x[c]`, is one chain of dependent float additions. Each waits for
// the previous (about 4 cycles), and the compiler may not reorder float additions, so it cannot
// vectorise the loop either: one multiply-add per 4 cycles, about 8 times slower than memory
// delivers f32 weights. These kernels keep 4 vectors of partial sums (64, 32 or 16 floats), each
// its own chain, and add them together at the end of the row. The same products, added in another
// order: the result differs from yours by rounding (test `ops.matmul-simd` bounds the difference),
// and it never depends on the thread count or on how many tokens come at once, since each
// (row, token) dot product is computed whole, always the same way.
// matmul's products run these sums as tiles of rows × tokens (matmul_gemm.c: one vector of sums
// per row and token, the same order alone or in a tile); attention's run the dot products below.
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1

// dot_avx512 and dot_avx2 (and dot_neon below) are the same loop written once per instruction set:
// intrinsics name their vector width, so the twins cannot share one body.
__attribute__((target("avx512f"))) static float dot_avx512(const float *w, const float *x, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 64 <= n; c += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c), _mm512_loadu_ps(x + c), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c + 16), _mm512_loadu_ps(x + c + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c + 32), _mm512_loadu_ps(x + c + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c + 48), _mm512_loadu_ps(x + c + 48), a3);
    }
    for (; c + 16 <= n; c += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c), _mm512_loadu_ps(x + c), a0);
    if (c < n) {   // the last n - c < 16: masked loads read nothing past the row
        const __mmask16 m = (__mmask16)((1u << (n - c)) - 1);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + c), _mm512_maskz_loadu_ps(m, x + c), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *w, const float *x, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 32 <= n; c += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + c + 8), _mm256_loadu_ps(x + c + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + c + 16), _mm256_loadu_ps(x + c + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + c + 24), _mm256_loadu_ps(x + c + 24), a3);
    }
    for (; c + 8 <= n; c += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c), a0);
    __m256 v = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    float sum = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    for (; c < n; c++) sum += w[c] * x[c];
    return sum;
}

#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define HAVE_NEON 1

static float dot_neon(const float *w, const float *x, int n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 16 <= n; c += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + c), vld1q_f32(x + c));
        a1 = vfmaq_f32(a1, vld1q_f32(w + c + 4), vld1q_f32(x + c + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(w + c + 8), vld1q_f32(x + c + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(w + c + 12), vld1q_f32(x + c + 12));
    }
    for (; c + 4 <= n; c += 4) a0 = vfmaq_f32(a0, vld1q_f32(w + c), vld1q_f32(x + c));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; c < n; c++) sum += w[c] * x[c];
    return sum;
}
#endif

typedef float (*DotFn)(const float *w, const float *x, int n);

// The best kernel this CPU has (NULL: none), decided once: it runs before every product and
// every attention head, and neither the CPU nor the environment changes.
static DotFn best;
static void pick_best(void) {
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && simd_avx512_allowed()) best = dot_avx512;   // make check tests both
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = dot_avx2;
#elif HAVE_NEON
    best = dot_neon;
#endif
}

// The kernel to use now: NULL when there is none or SIMD is switched off (that can change).
static DotFn kernel(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pick_best);
    return simd_level(SIMD_F32) == SIMD_ON ? best : NULL;
}

const char *matmul_simd_name(void) {
    const DotFn k = kernel();
#if HAVE_X86
    if (k == dot_avx512) return "avx512";
    if (k == dot_avx2) return "avx2";
#elif HAVE_NEON
    if (k == dot_neon) return "neon";
#endif
    return k ? "simd" : "plain C";
}

// The products are tiles of several rows times several tokens (matmul_gemm.c), not one dot product
// after another: a prompt's tokens share each weight while it sits in a register.
bool matmul_simd_rows(float *out, const float *x, const float *W, int rows, int cols, int n_tokens, int row_begin,
                      int row_end) {
    return kernel() && matmul_gemm_rows(out, x, W, false, rows, cols, n_tokens, row_begin, row_end);
}

// Attention's q . k products are dot products too, head_dim long, one per cached position: the
// same kernel, and the rest of your attention_head() unchanged.
bool attention_head_simd(float *oh, const float *qh, const float *k, const float *v, int n_keys, int kv_stride,
                         float scale, int head_dim, float *scores) {
    const DotFn dot = kernel();
    if (!dot) return false;
    for (int j = 0; j < n_keys; j++) scores[j] = dot(qh, k + (size_t)j * kv_stride, head_dim) * scale;
    softmax(scores, n_keys);
    for (int d = 0; d < head_dim; d++) oh[d] = 0.0f;
    for (int j = 0; j < n_keys; j++) {   // independent lanes: the compiler vectorises this one itself
        const float *vj = v + (size_t)j * kv_stride, s = scores[j];
        for (int d = 0; d < head_dim; d++) oh[d] += s * vj[d];
    }
    return true;
}

void matmul_use_simd(bool on) { simd_set_level(SIMD_F32, on ? SIMD_ON : SIMD_OFF); }

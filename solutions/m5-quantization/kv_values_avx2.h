// The value half of the AVX2 row kernels of M5's two caches (kv_q8_x86.c, kv_q4_x86.c), written
// once: out[h x n + d] += sum over j of w[h x stride + j] x row j's value d, one query head or two
// at a time. The formats differ in how a block's 32 values become 4 registers of 8 floats,
// WIDEN(block, x0, x1, x2, x3), and in where a row keeps its blocks; the including file defines
// X86_TARGET, ROW(j) (row j of `rows`), KV_BLOCK(row, b) (what WIDEN takes for block b of a row
// of n values) and KV_SCALE(row, b) (that block's scale as a float). A macro and not a function
// taking the widening as an argument: the 4 registers must stay named variables (gcc -O2 kept
// arrays of them in memory, half the speed).
#ifndef PS_KV_VALUES_AVX2_H
#define PS_KV_VALUES_AVX2_H

// add1_NAME, add2_NAME (one head, two heads) and add_NAME (the row kernels' add_rows: the query
// heads of a group two at a time, a last odd one alone).
#define KV_VALUES_AVX2(NAME, WIDEN)                                                                                  \
    /* A block of 32 outputs of one head (two) stays in 4 (8) registers over all the rows. */                        \
    X86_TARGET static void add1_##NAME(float *out, const float *w, int n_rows, const void *rows, size_t row_bytes,   \
                                       int n) {                                                                      \
        for (int b = 0; b < n / 32; b++) {                                                                           \
            float *o = out + b * 32;                                                                                 \
            __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),               \
                   a3 = _mm256_loadu_ps(o + 24);                                                                     \
            for (int j = 0; j < n_rows; j++) {                                                                       \
                WIDEN(KV_BLOCK(ROW(j), b), x0, x1, x2, x3);                                                          \
                const __m256 wd = _mm256_set1_ps(w[j] * KV_SCALE(ROW(j), b));                                        \
                a0 = _mm256_fmadd_ps(wd, x0, a0), a1 = _mm256_fmadd_ps(wd, x1, a1);                                  \
                a2 = _mm256_fmadd_ps(wd, x2, a2), a3 = _mm256_fmadd_ps(wd, x3, a3);                                  \
            }                                                                                                        \
            _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1);                                                    \
            _mm256_storeu_ps(o + 16, a2), _mm256_storeu_ps(o + 24, a3);                                              \
        }                                                                                                            \
    }                                                                                                                \
    X86_TARGET static void add2_##NAME(float *out, const float *w, int stride, int n_rows, const void *rows,          \
                                       size_t row_bytes, int n) {                                                    \
        float *out1 = out + n;                                                                                       \
        const float *w1 = w + stride;                                                                                \
        for (int b = 0; b < n / 32; b++) {                                                                           \
            float *o = out + b * 32, *p = out1 + b * 32;                                                             \
            __m256 a0 = _mm256_loadu_ps(o), a1 = _mm256_loadu_ps(o + 8), a2 = _mm256_loadu_ps(o + 16),               \
                   a3 = _mm256_loadu_ps(o + 24);                                                                     \
            __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8), b2 = _mm256_loadu_ps(p + 16),               \
                   b3 = _mm256_loadu_ps(p + 24);                                                                     \
            for (int j = 0; j < n_rows; j++) {                                                                       \
                WIDEN(KV_BLOCK(ROW(j), b), x0, x1, x2, x3);                                                          \
                const float d = KV_SCALE(ROW(j), b);                                                                 \
                const __m256 wa = _mm256_set1_ps(w[j] * d), wb = _mm256_set1_ps(w1[j] * d);                          \
                a0 = _mm256_fmadd_ps(wa, x0, a0), b0 = _mm256_fmadd_ps(wb, x0, b0);                                  \
                a1 = _mm256_fmadd_ps(wa, x1, a1), b1 = _mm256_fmadd_ps(wb, x1, b1);                                  \
                a2 = _mm256_fmadd_ps(wa, x2, a2), b2 = _mm256_fmadd_ps(wb, x2, b2);                                  \
                a3 = _mm256_fmadd_ps(wa, x3, a3), b3 = _mm256_fmadd_ps(wb, x3, b3);                                  \
            }                                                                                                        \
            _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1);                                                    \
            _mm256_storeu_ps(o + 16, a2), _mm256_storeu_ps(o + 24, a3);                                              \
            _mm256_storeu_ps(p, b0), _mm256_storeu_ps(p + 8, b1);                                                    \
            _mm256_storeu_ps(p + 16, b2), _mm256_storeu_ps(p + 24, b3);                                              \
        }                                                                                                            \
    }                                                                                                                \
    X86_TARGET static void add_##NAME(float *out, const float *w, int stride, int n_q, int n_rows, const void *rows,   \
                                      size_t row_bytes, int n) {                                                     \
        int h = 0;                                                                                                   \
        for (; h + 2 <= n_q; h += 2)                                                                                 \
            add2_##NAME(out + (size_t)h * n, w + (size_t)h * stride, stride, n_rows, rows, row_bytes, n);            \
        if (h < n_q) add1_##NAME(out + (size_t)h * n, w + (size_t)h * stride, n_rows, rows, row_bytes, n);          \
    }

#endif

// bench_gemm: M2's prefill products (matmul_gemm.c) alone, on Qwen3-0.6B's seven shapes of a layer,
// with random weights (no model needed).
//
//     build/tools/bench_gemm [--tokens N] [--parts 1,4,16] [--threads 1,2] [--formats f32,bf16]
//                            [--reps N] [--cpu] [--block-kib 256,1024] [--chunk 1024,3072]
//                            [--pack-min 0,32] [--each] [--peak]
//
// --parts P: the products split into P equal slices of rows (matmul_gemm_part: what each of P
// threads takes with PS_MATMUL_CHUNKS=0), but each slice computed ALONE, one after another on this thread: what one thread of a P-thread
// run does, measured on a machine with fewer cores than P. Printed: the GFLOP/s of the slices
// (their work over their summed time: how fast a core runs a slice that small) and the slowest
// slice's share of the time (1/P when the slices are equal).
// --threads T: the products through matmul() on T threads of the pool (wall time, or --cpu).
// The best of --reps runs (default 5) of the seven products.
// --each: with --threads, each of the seven products timed alone too (which shape is slow).
// --peak: first this core's multiply-add peak with the same vectors (AVX-512, AVX2 or NEON: 12
// independent chains of fused multiply-adds, nothing loaded), and each 1-thread or one-slice
// figure as a share of it: how far the tiles are from what the core can compute.
// --block-kib, --chunk, --pack-min: the GEMM's blocking (matmul_gemm.h: KiB of weights per row
// block, columns per chunk, from how many tokens a product's rows are packed, 0 for never), every
// combination of the lists measured in turn; a list left out, the default (printed first).
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "forward.h"
#include "matmul_gemm.h"
#include "thread_pool.h"
#include "timing.h"
#include "xalloc.h"

#define MAX_LIST 16
#define MAX_REPS 31
#define N_SHAPES 7

// Qwen3-0.6B's products of one layer: q, k, v, o, gate, up, down (rows x cols).
static const int SHAPES[N_SHAPES][2] = {{2048, 1024}, {1024, 1024}, {1024, 1024}, {1024, 2048},
                                        {3072, 1024}, {3072, 1024}, {1024, 3072}};

typedef struct {
    int n;
    int v[MAX_LIST];
} IntList;

static bool parse_ints(const char *flag, const char *text, IntList *l) {
    l->n = 0;
    for (const char *p = text; *p;) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 65536 || l->n == MAX_LIST || (*end && *end != ','))
            return fprintf(stderr, "bench_gemm: %s takes numbers 0-65536 separated by commas, not '%s'\n", flag, text),
                   false;
        l->v[l->n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return l->n > 0;
}

// ---- --peak: the core's multiply-add rate, with the kernels' vectors ----
#define PEAK_STEPS 20000000L   // x 12 chains: about a tenth of a second per measurement
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// 12 chains: each fused multiply-add waits for its chain's last (4 cycles on recent cores), and two
// units take one each per cycle, so 8 or more keep both busy.
#define FMA_CHAINS(VEC, SET1, FMA, LANES)                                                          \
    VEC a[12], m = SET1(0.999f), c = SET1(1e-4f);                                                  \
    for (int i = 0; i < 12; i++) a[i] = SET1((float)i);                                             \
    const double start = bench_now();                                                              \
    for (long n = 0; n < PEAK_STEPS; n++)                                                          \
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = FMA(a[i], m, c);              \
    const double t = bench_now() - start;                                                          \
    float keep[LANES], sum = 0;                                                                    \
    for (int i = 0; i < 12; i++) memcpy(keep, &a[i], sizeof keep), sum += keep[0];                 \
    *sink = sum;                                                                                   \
    return 2.0 * (LANES) * 12 * PEAK_STEPS / t * 1e-9;
__attribute__((target("avx512f"))) static double peak_avx512(float *sink) {
    FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}
__attribute__((target("avx2,fma"))) static double peak_avx2(float *sink) {
    FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
static double peak_neon(float *sink) {
    float32x4_t a[12];
    const float32x4_t m = vdupq_n_f32(0.999f), c = vdupq_n_f32(1e-4f);
    for (int i = 0; i < 12; i++) a[i] = vdupq_n_f32((float)i);
    const double start = bench_now();
    for (long n = 0; n < PEAK_STEPS; n++)
        for (int i = 0; i < 12; i++) a[i] = vfmaq_f32(c, a[i], m);
    const double t = bench_now() - start;
    float sum = 0;
    for (int i = 0; i < 12; i++) sum += vgetq_lane_f32(a[i], 0);
    *sink = sum;
    return 2.0 * 4 * 12 * PEAK_STEPS / t * 1e-9;
}
#endif

// GFLOP/s of one core at the kernels' vector width (matmul_simd_name()), the best of 3; 0 when the
// kernels are plain C.
static double core_peak(void) {
    const char *isa = matmul_simd_name();
    float sink = 0;
    double best_rate = 0;
    for (int r = 0; r < 3; r++) {
        double g = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        if (!strcmp(isa, "avx512")) g = peak_avx512(&sink);
        else if (!strcmp(isa, "avx2")) g = peak_avx2(&sink);
#elif defined(__aarch64__) && defined(__ARM_NEON)
        if (!strcmp(isa, "neon")) g = peak_neon(&sink);
#endif
        best_rate = g > best_rate ? g : best_rate;
    }
    if (sink == 12345.0f) printf(" ");   // the chains' results are used: the loops stay
    return best_rate;
}
static double peak_gflops;   // --peak: core_peak(), else 0

// Values in [-1, 1) from a hash of i: the same inputs every run.
static float value_at(size_t i) { return (float)((i * 2654435761u) >> 12 & 4095) / 2048.0f - 1.0f; }

typedef struct {
    Mat f32[N_SHAPES], bf16[N_SHAPES];
    float *x, *out;
} Inputs;

// On a cache line, as the engine's activations and scratch are (xalloc.h's malloc_lines): what
// is timed is what the engine runs.
static void *must_alloc(size_t bytes) {
    void *p = malloc_lines(bytes);
    if (!p) fprintf(stderr, "bench_gemm: out of memory\n"), exit(1);
    return p;
}

static void make_inputs(Inputs *in, int n_tokens) {
    for (int s = 0; s < N_SHAPES; s++) {
        const int rows = SHAPES[s][0], cols = SHAPES[s][1];
        const size_t n = (size_t)rows * cols;
        float *f = must_alloc(n * sizeof *f);
        uint16_t *h = must_alloc(n * sizeof *h);
        for (size_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &(float){value_at(i + (size_t)s * 7777) * 0.05f}, sizeof bits);
            h[i] = (uint16_t)(bits >> 16);
            bits = (uint32_t)h[i] << 16;   // f32 = the bf16 widened: both formats compute the same
            memcpy(&f[i], &bits, sizeof bits);
        }
        in->f32[s] = (Mat){DT_F32, rows, cols, f};
        in->bf16[s] = (Mat){DT_BF16, rows, cols, h};
    }
    in->x = must_alloc((size_t)n_tokens * 3072 * sizeof *in->x);
    for (size_t i = 0; i < (size_t)n_tokens * 3072; i++) in->x[i] = value_at(i);
    in->out = must_alloc((size_t)n_tokens * 3072 * sizeof *in->out);
}

static double flops(int n_tokens) {
    double f = 0;
    for (int s = 0; s < N_SHAPES; s++) f += 2.0 * SHAPES[s][0] * SHAPES[s][1] * n_tokens;
    return f;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double best(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[0];   // the best: on a shared machine the others measure the neighbours
}

// Seconds of the seven products as P slices one after another; *slowest: the time of each
// product's slowest slice, summed.
static double sliced_once(const Mat *mats, const Inputs *in, int n_tokens, int parts, double *slowest) {
    double total = 0;
    *slowest = 0;
    for (int s = 0; s < N_SHAPES; s++) {
        const Mat *w = &mats[s];
        double max_part = 0;
        for (int p = 0; p < parts; p++) {
            int r0, r1;
            matmul_gemm_part(w->rows, p, parts, &r0, &r1);
            const double start = bench_now();
            if (!matmul_gemm_rows(in->out, in->x, w->data, w->dtype == DT_BF16, w->rows, w->cols, n_tokens, r0, r1))
                fprintf(stderr, "bench_gemm: no SIMD kernel on this machine\n"), exit(1);
            const double dt = bench_now() - start;
            total += dt;
            if (dt > max_part) max_part = dt;
        }
        *slowest += max_part;
    }
    return total;
}

// The best of reps (after a warm-up: first touches of the outputs and scratch); *slowest:
// the slowest slices' share of the time.
static double sliced(const Mat *mats, const Inputs *in, int n_tokens, int parts, int reps, double *slowest) {
    double t[MAX_REPS], worst[MAX_REPS];
    sliced_once(mats, in, n_tokens, parts, &worst[0]);
    for (int r = 0; r < reps; r++) t[r] = sliced_once(mats, in, n_tokens, parts, &worst[r]);
    const double total = best(t, reps);
    *slowest = best(worst, reps) / total;
    return total;
}

static double threaded(const Mat *mats, const Inputs *in, int n_tokens, int threads, int reps) {
    pool_set_threads(threads);
    double t[MAX_REPS];
    for (int s = 0; s < N_SHAPES; s++) matmul(in->out, in->x, &mats[s], n_tokens);   // warm-up
    for (int r = 0; r < reps; r++) {
        const double start = bench_now();
        for (int s = 0; s < N_SHAPES; s++) matmul(in->out, in->x, &mats[s], n_tokens);
        t[r] = bench_now() - start;
    }
    return best(t, reps);
}

// Each product alone on `threads` threads: the best of reps, printed as "rows x cols" and GFLOP/s.
static void each_product(const char *how, const Mat *mats, const Inputs *in, int n_tokens, int threads, int reps) {
    pool_set_threads(threads);
    printf("%s  %2d threads, each product:", how, threads);
    for (int s = 0; s < N_SHAPES; s++) {
        double t[MAX_REPS];
        matmul(in->out, in->x, &mats[s], n_tokens);   // warm-up
        for (int r = 0; r < reps; r++) {
            const double start = bench_now();
            matmul(in->out, in->x, &mats[s], n_tokens);
            t[r] = bench_now() - start;
        }
        printf("  %dx%d %.1f", SHAPES[s][0], SHAPES[s][1], 2.0 * SHAPES[s][0] * SHAPES[s][1] * n_tokens / best(t, reps) * 1e-9);
    }
    printf(" GFLOP/s\n");
}

// The measurements of one format with the blocking in use.
static void measure(const char *name, const Mat *mats, const Inputs *in, int n_tokens, const IntList *parts,
                    const IntList *threads, int reps, bool each) {
    const GemmBlocking b = matmul_gemm_blocking();
    char how[96], chunk[24] = "whole rows", packing[24] = "no pack";
    if (b.chunk_cols < 65536) snprintf(chunk, sizeof chunk, "%d cols", b.chunk_cols);
    if (b.pack_min_tokens > 0) snprintf(packing, sizeof packing, "pack>=%d", b.pack_min_tokens);
    snprintf(how, sizeof how, "%-4s %4d KiB, %-10s, %-8s", name, b.block_bytes / 1024, chunk, packing);
    for (int i = 0; i < parts->n; i++) {
        double slowest;
        const double s = sliced(mats, in, n_tokens, parts->v[i], reps, &slowest);
        printf("%s  %2d slices, one at a time: %8.2f ms  %6.2f GFLOP/s  slowest slice %.3f of the time (equal: %.3f)",
               how, parts->v[i], s * 1e3, flops(n_tokens) / s * 1e-9, slowest, 1.0 / parts->v[i]);
        if (peak_gflops > 0) printf("  %.0f%% of peak", 100.0 * flops(n_tokens) / s * 1e-9 / peak_gflops);
        printf("\n");
    }
    for (int i = 0; i < threads->n; i++) {
        const double s = threaded(mats, in, n_tokens, threads->v[i], reps);
        printf("%s  %2d threads:              %8.2f ms  %6.2f GFLOP/s", how, threads->v[i], s * 1e3,
               flops(n_tokens) / s * 1e-9);
        if (peak_gflops > 0) printf("  %.0f%% of %d cores' peak", 100.0 * flops(n_tokens) / s * 1e-9 / (peak_gflops * threads->v[i]),
                                    threads->v[i]);
        printf("\n");
        if (each) each_product(how, mats, in, n_tokens, threads->v[i], reps);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    int n_tokens = 128, reps = 5;
    IntList parts = {0}, threads = {0}, block_kib = {0}, chunk = {0}, pack = {0};
    const char *formats = "f32,bf16";
    bool each = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cpu")) bench_cpu_clock = true;
        else if (!strcmp(a, "--each")) each = true;
        else if (!strcmp(a, "--peak")) peak_gflops = -1;   // measured below, once the options are read
        else if (!v) return fprintf(stderr, "bench_gemm: unknown or incomplete option '%s' (see the file's head)\n", a), 2;
        else if (!strcmp(a, "--tokens") && (n_tokens = atoi(v)) >= 1 && n_tokens <= 4096) i++;
        else if (!strcmp(a, "--reps") && (reps = atoi(v)) >= 1 && reps <= MAX_REPS) i++;
        else if (!strcmp(a, "--parts") && parse_ints(a, v, &parts)) i++;
        else if (!strcmp(a, "--threads") && parse_ints(a, v, &threads)) i++;
        else if (!strcmp(a, "--block-kib") && parse_ints(a, v, &block_kib)) i++;
        else if (!strcmp(a, "--chunk") && parse_ints(a, v, &chunk)) i++;
        else if (!strcmp(a, "--pack-min") && parse_ints(a, v, &pack)) i++;
        else if (!strcmp(a, "--formats")) formats = argv[++i];
        else return fprintf(stderr, "bench_gemm: bad option or value '%s %s' (see the file's head)\n", a, v), 2;
    }
    for (int i = 0; i < parts.n; i++)
        if (parts.v[i] < 1) return fprintf(stderr, "bench_gemm: --parts takes numbers from 1\n"), 2;
    for (int i = 0; i < threads.n; i++)
        if (threads.v[i] < 1) return fprintf(stderr, "bench_gemm: --threads takes numbers from 1\n"), 2;
    if (!parts.n && !threads.n) parts = (IntList){3, {1, 4, 16}};
    if (peak_gflops < 0) {
        peak_gflops = core_peak();
        printf("bench_gemm: one core's multiply-add peak with %s vectors: %.1f GFLOP/s%s\n", matmul_simd_name(),
               peak_gflops, peak_gflops > 0 ? "" : " (plain C kernels: no peak measured)");
    }
    Inputs in;
    make_inputs(&in, n_tokens);
    const GemmBlocking d = matmul_gemm_blocking();
    printf("bench_gemm: layer products of Qwen3-0.6B's shapes, %d tokens, kernels %s, best of %d (%s time); "
           "defaults: blocks of %d KiB, chunks of %d columns (%d: whole rows), rows packed from %d tokens "
           "(-1: never)\n", n_tokens, matmul_simd_name(), reps, bench_cpu_clock ? "CPU" : "wall", d.block_bytes / 1024,
           d.chunk_cols, GEMM_WHOLE_ROWS, d.pack_min_tokens);
    for (int f = 0; f < 2; f++) {
        const char *name = f ? "bf16" : "f32";
        if (!strstr(formats, name)) continue;
        for (int ib = 0; ib < (block_kib.n ? block_kib.n : 1); ib++)
            for (int ic = 0; ic < (chunk.n ? chunk.n : 1); ic++)
                for (int ip = 0; ip < (pack.n ? pack.n : 1); ip++) {
                    // a list not given: the default (0); --pack-min 0: never (-1)
                    const int packing = pack.n ? (pack.v[ip] ? pack.v[ip] : -1) : 0;
                    const GemmBlocking b = {block_kib.n ? block_kib.v[ib] * 1024 : 0, chunk.n ? chunk.v[ic] : 0, packing};
                    matmul_gemm_set_blocking(b);
                    measure(name, f ? in.bf16 : in.f32, &in, n_tokens, &parts, &threads, reps, each);
                }
    }
    return 0;
}

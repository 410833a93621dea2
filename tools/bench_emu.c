// bench_emu: how fast the MSL CPU emulator runs the two kernels that dominate M7's tests: a
// Q8_0 matrix-vector product (1024 x 3072, a Qwen3-0.6B projection) and one decode step of
// attention (16 heads x 128 dims x 512 positions). Each result is first checked against plain C.
// Run by `make bench-emu` (part of `make bench`). Threads: $MSL_THREADS (default: all cores).
// Prints the median wall time of 9 dispatches and their median CPU time (all workers).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtl.h"
#include "timing.h"

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_emu: %s: %s\n", what, mtl_error());
    exit(1);
}

static uint32_t rng = 1;
static float frand(void) {  // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static uint16_t to_half(float f) {  // f is small and normal here: truncating is good enough
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) < 0x38800000) return (uint16_t)(u >> 16 & 0x8000);
    return (uint16_t)((u >> 16 & 0x8000) | (((u >> 23 & 0xff) - 112) << 10) | (u >> 13 & 0x3ff));
}
static float from_half(uint16_t h) {
    int e = h >> 10 & 31, m = h & 1023;
    float v = e ? ldexpf((float)(1024 + m), e - 25) : ldexpf((float)m, -24);
    return h & 0x8000 ? -v : v;
}

typedef struct { MtlPipeline *p; MtlBuffer *b[5]; const void *bytes[5]; size_t nbytes[5];
                 MtlSize groups, threads; } job;

// Median wall time of a dispatch, and in *cpu the median CPU time of all workers together: on a
// busy machine the wall time jumps around, while the CPU time still shows what the work costs.
static double run(MtlContext *ctx, const job *j, int reps, double *cpu) {
    double t[32], c[32];
    for (int r = 0; r < reps; r++) {
        MtlCmd *cmd = mtl_cmd_new(ctx);
        mtl_set_pipeline(cmd, j->p);
        for (int i = 0; i < 5; i++) {
            if (j->b[i]) mtl_set_buffer(cmd, i, j->b[i], 0);
            if (j->bytes[i]) mtl_set_bytes(cmd, i, j->bytes[i], j->nbytes[i]);
        }
        mtl_dispatch_groups(cmd, j->groups, j->threads);
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (mtl_commit_wait(cmd)) die("dispatch");
        t[r] = clock_s(CLOCK_MONOTONIC) - t0;
        c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        mtl_cmd_free(cmd);
    }
    *cpu = ps_median(c, reps);
    return ps_median(t, reps);
}

static void report(const char *name, MtlContext *ctx, const job *j) {
    double cpu, wall = run(ctx, j, 9, &cpu);
    printf("bench emu %-28s %8.2f ms  (cpu %.2f ms)\n", name, wall * 1e3, cpu * 1e3);
}

static MtlPipeline *pipeline(MtlContext *ctx, const char *file, const char *name) {
    MtlLibrary *lib = mtl_library_new(ctx, file);
    MtlPipeline *p = lib ? mtl_pipeline_new(lib, name) : NULL;
    if (!p) die(name);
    mtl_library_free(lib);
    return p;
}

static void check(const char *what, const float *got, const float *want, int n, float tol) {
    for (int i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])))) {
            fprintf(stderr, "bench_emu: %s wrong at %d: %g vs %g\n", what, i, got[i], want[i]);
            exit(1);
        }
}

static void bench_q8(MtlContext *ctx) {
    enum { COLS = 1024, ROWS = 3072, NB = COLS / 32, ROWS_PER_TG = 4 };
    typedef struct { uint16_t d; int8_t qs[32]; } block;  // 34 bytes, as in the shader
    MtlBuffer *bw = mtl_buffer_new(ctx, sizeof(block) * ROWS * NB);
    MtlBuffer *bx = mtl_buffer_new(ctx, sizeof(float) * COLS), *by = mtl_buffer_new(ctx, 4 * ROWS);
    if (!bw || !bx || !by) die("buffers");
    block *w = mtl_buffer_ptr(bw);
    float *x = mtl_buffer_ptr(bx), *want = malloc(4 * ROWS);
    for (int i = 0; i < COLS; i++) x[i] = frand();
    for (int r = 0; r < ROWS; r++) {
        want[r] = 0;
        for (int b = 0; b < NB; b++) {
            block *blk = &w[r * NB + b];
            blk->d = to_half(0.01f + 0.001f * (float)(b % 7));
            float acc = 0;
            for (int i = 0; i < 32; i++) {
                blk->qs[i] = (int8_t)(frand() * 127.0f);
                acc += x[b * 32 + i] * blk->qs[i];
            }
            want[r] += acc * from_half(blk->d);
        }
    }
    uint32_t cols = COLS, rows = ROWS;
    job j = {pipeline(ctx, "shared/msl/bench/bench_q8.metal", "matvec_q8_0"), {bw, bx, by, 0, 0},
             {0, 0, 0, &cols, &rows}, {0, 0, 0, 4, 4}, MTL_SIZE(ROWS / ROWS_PER_TG, 1, 1),
             MTL_SIZE(32 * ROWS_PER_TG, 1, 1)};
    double cpu;
    run(ctx, &j, 1, &cpu);
    check("q8_0 matvec", mtl_buffer_ptr(by), want, ROWS, 1e-3f);
    report("q8_0_matvec_1024x3072", ctx, &j);
    free(want);
    mtl_pipeline_free(j.p);
    mtl_buffer_free(bw), mtl_buffer_free(bx), mtl_buffer_free(by);
}

static void bench_attn(MtlContext *ctx) {
    enum { HEADS = 16, DIM = 128, NPOS = 512, TG = 128 };
    size_t kv = (size_t)HEADS * NPOS * DIM;
    MtlBuffer *bq = mtl_buffer_new(ctx, 4 * HEADS * DIM), *bk = mtl_buffer_new(ctx, 2 * kv),
               *bv = mtl_buffer_new(ctx, 2 * kv), *bo = mtl_buffer_new(ctx, 4 * HEADS * DIM);
    if (!bq || !bk || !bv || !bo) die("buffers");
    float *q = mtl_buffer_ptr(bq), *want = calloc(HEADS * DIM, 4), *s = malloc(4 * NPOS);
    uint16_t *k = mtl_buffer_ptr(bk), *v = mtl_buffer_ptr(bv);
    for (int i = 0; i < HEADS * DIM; i++) q[i] = frand();
    for (size_t i = 0; i < kv; i++) k[i] = to_half(frand()), v[i] = to_half(frand());
    for (int h = 0; h < HEADS; h++) {
        float m = -INFINITY, sum = 0;
        for (int p = 0; p < NPOS; p++) {
            float d = 0;
            for (int i = 0; i < DIM; i++) d += q[h * DIM + i] * from_half(k[((size_t)h * NPOS + p) * DIM + i]);
            s[p] = d / sqrtf(DIM);
            m = fmaxf(m, s[p]);
        }
        for (int p = 0; p < NPOS; p++) sum += s[p] = expf(s[p] - m);
        for (int p = 0; p < NPOS; p++)
            for (int i = 0; i < DIM; i++)
                want[h * DIM + i] += s[p] / sum * from_half(v[((size_t)h * NPOS + p) * DIM + i]);
    }
    uint32_t npos = NPOS;
    job j = {pipeline(ctx, "shared/msl/bench/bench_attn.metal", "attn_decode"), {bq, bk, bv, bo, 0},
             {0, 0, 0, 0, &npos}, {0, 0, 0, 0, 4}, MTL_SIZE(HEADS, 1, 1), MTL_SIZE(TG, 1, 1)};
    double cpu;
    run(ctx, &j, 1, &cpu);
    check("attention", mtl_buffer_ptr(bo), want, HEADS * DIM, 1e-4f);
    report("attention_16x128x512", ctx, &j);
    free(want), free(s);
    mtl_pipeline_free(j.p);
    mtl_buffer_free(bq), mtl_buffer_free(bk), mtl_buffer_free(bv), mtl_buffer_free(bo);
}

int main(void) {
    MtlContext *ctx = mtl_context_new();
    if (!ctx) die("context");
    bench_q8(ctx);
    bench_attn(ctx);
    mtl_context_free(ctx);
    return 0;
}

// Runs one kernel of shaders/*.metal once, with small made-up inputs, on the emulator; used by
// test_msl_mutations.sh with a mutant of the shader (one threadgroup_barrier removed) built by
// `mslpp -check`. It prints the emulator's report and exits 0 when the dispatch failed with one
// (the checker caught the bug), 1 when it ran cleanly, 2 when it knows no recipe for the kernel.
//
//   msl_mutant_driver shaders/rmsnorm.metal rmsnorm_f32
//
// A recipe gives the shapes the kernel is dispatched with in solutions/m6-metal/gpu_ops.c, on
// sizes that need several SIMD-groups per threadgroup and a partial last SIMD-group of work.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtl.h"
#include "solutions/m6-metal/kernel_params.h"

static MtlContext *ctx;

static MtlBuffer *random_buffer(size_t n) {
    MtlBuffer *b = mtl_buffer_new(ctx, n * sizeof(float));
    if (!b) return NULL;
    float *f = mtl_buffer_ptr(b);
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) f[i] = (float)((s = s * 1103515245u + 12345u) >> 8 & 0xffff) / 32768.0f - 1.0f;
    return b;
}

static int run_rmsnorm(MtlCmd *c) {
    enum { ROWS = 2, N = 200 };
    RmsnormParams p = {N, 1e-6f};
    MtlBuffer *b[] = {random_buffer(ROWS * N), random_buffer(N), random_buffer(ROWS * N)};
    for (int i = 0; i < 3; i++) mtl_set_buffer(c, i, b[i], 0);
    mtl_set_bytes(c, 3, &p, sizeof p);
    mtl_dispatch_groups(c, MTL_SIZE(ROWS, 1, 1), MTL_SIZE(224, 1, 1));
    return 0;
}

static int run_attention(MtlCmd *c) {
    enum { HEADS = 4, KV = 2, DIM = 64, KEYS = 50 };
    AttentionParams p = {KEYS, KV * DIM, HEADS, KV, DIM, 0.125f};
    MtlBuffer *b[] = {random_buffer(HEADS * DIM), random_buffer(KEYS * KV * DIM),
                      random_buffer(KEYS * KV * DIM), random_buffer(HEADS * DIM)};
    for (int i = 0; i < 4; i++) mtl_set_buffer(c, i, b[i], 0);
    mtl_set_bytes(c, 4, &p, sizeof p);
    mtl_set_threadgroup_memory(c, 0, (KEYS + 3) / 4 * 4 * sizeof(float));
    mtl_dispatch_groups(c, MTL_SIZE(HEADS, 1, 1), MTL_SIZE(96, 1, 1));
    return 0;
}

static const struct {
    const char *kernel;
    int (*encode)(MtlCmd *c);
} recipes[] = {{"rmsnorm_f32", run_rmsnorm}, {"attention_f32", run_attention}};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: msl_mutant_driver SOURCE.metal KERNEL\n");
        return 2;
    }
    int r = -1;
    for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++)
        if (!strcmp(recipes[i].kernel, argv[2])) r = (int)i;
    if (r < 0) {
        printf("no recipe for kernel '%s' (add one to tools/tests/msl_mutant_driver.c)\n", argv[2]);
        return 2;
    }
    ctx = mtl_context_new();
    MtlLibrary *lib = ctx ? mtl_library_new(ctx, argv[1]) : NULL;
    MtlPipeline *p = lib ? mtl_pipeline_new(lib, argv[2]) : NULL;
    if (!p) {
        printf("%s\n", mtl_error());
        return 2;
    }
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, p);
    recipes[r].encode(c);
    int rc = mtl_commit_wait(c);
    printf("%s\n", rc ? mtl_error() : "ran without a report");
    return rc ? 0 : 1;
}

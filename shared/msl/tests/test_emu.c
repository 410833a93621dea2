// The MSL emulator's own suite: every kernel in shared/msl/tests/*.metal against a plain C
// reference, through the same mtl.h calls the labs use. Built twice by shared/msl/msl.mk: as
// build/msl/test_emu, and with -DMSL_CHECKING against the checking build of the kernels (race
// detector on) as build/msl/test_emu_check.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "msl/msl_rt.h"
#include "mtl.h"
#include "test_emu.h"

#define BASIC "shared/msl/tests/emu_basic.metal"
#define SYNC "shared/msl/tests/emu_sync.metal"
#define RACY "shared/msl/tests/emu_racy.metal"

MtlContext *ctx;

// Everything the helpers allocate is freed at exit, so that LeakSanitizer reports only real
// leaks (the emulator's), not the tests' own.
static void *owned[256];
static int nowned;
static void (*owned_free[256])(void *);
static void free_owned(void) {
    while (nowned > 0) nowned--, owned_free[nowned](owned[nowned]);
    mtl_context_free(ctx);
}
static void *own(void *p, void (*fn)(void *)) {
    if (nowned == 0) atexit(free_owned);
    PS_CHECK(nowned < 256, "too many test allocations");
    owned[nowned] = p;
    owned_free[nowned++] = fn;
    return p;
}
static void free_buffer(void *b) { mtl_buffer_free(b); }
static void free_pipeline(void *p) { mtl_pipeline_free(p); }

MtlPipeline *emu_pipeline(const char *file, const char *kernel) {
    if (!ctx) ctx = mtl_context_new();
    PS_CHECK(ctx != NULL, "%s", mtl_error());
    MtlLibrary *lib = mtl_library_new(ctx, file);
    PS_CHECK(lib != NULL, "%s", mtl_error());
    MtlPipeline *p = mtl_pipeline_new(lib, kernel);
    PS_CHECK(p != NULL, "%s", mtl_error());
    mtl_library_free(lib);  // a pipeline does not need its library any more (as in Metal)
    return own(p, free_pipeline);
}

MtlBuffer *emu_buffer(const void *data, size_t bytes) {
    if (!ctx) ctx = mtl_context_new();
    MtlBuffer *b = mtl_buffer_new(ctx, bytes);
    PS_CHECK(b != NULL, "%s", mtl_error());
    if (data) memcpy(mtl_buffer_ptr(b), data, bytes);
    return own(b, free_buffer);
}

// Binds bufs[i] to buffer(i), dispatches groups x threads (1-D unless given), runs it.
int emu_run(MtlPipeline *p, MtlBuffer **bufs, int n, MtlSize groups, MtlSize threads) {
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, p);
    for (int i = 0; i < n; i++)
        if (bufs[i]) mtl_set_buffer(c, i, bufs[i], 0);
    mtl_dispatch_groups(c, groups, threads);
    int rc = mtl_commit_wait(c);
    mtl_cmd_free(c);
    return rc;
}

float *emu_random(size_t n, unsigned seed) {
    float *x = own(malloc(n * sizeof *x), free);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return x;
}

static void t_scale_add(void) {
    enum { N = 1000 };  // not a multiple of the threadgroup size: the tail threads return
    float *x = emu_random(N, 1), want[N];
    struct { uint32_t n; float scale; } params = {N, 0.5f};
    MtlBuffer *bx = emu_buffer(x, sizeof(float) * N), *by = emu_buffer(NULL, sizeof want);
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, emu_pipeline(BASIC, "scale_add"));
    mtl_set_buffer(c, 0, bx, 0);
    mtl_set_buffer(c, 1, by, 0);
    mtl_set_bytes(c, 2, &params, sizeof params);
    mtl_dispatch_threads(c, MTL_SIZE(N, 1, 1), MTL_SIZE(64, 1, 1));
    PS_CHECK(mtl_commit_wait(c) == 0, "%s", mtl_error());
    mtl_cmd_free(c);
    for (int i = 0; i < N; i++) want[i] = x[i] * 0.5f + 1.0f;
    PS_CHECK_CLOSE("scale_add", mtl_buffer_ptr(by), want, N, 0, 0);
}

static void t_tg_reduce(void) {
    enum { N = 3001, TG = 256, GROUPS = 4 };  // ragged: N is not a multiple of anything
    float *x = emu_random(N, 2), want[GROUPS] = {0};
    for (int i = 0; i < N; i++) want[(i / TG) % GROUPS] += x[i];  // thread i's group strides 4*TG
    uint32_t n = N;
    MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * N), emu_buffer(NULL, sizeof want),
                       emu_buffer(&n, 4)};
    PS_CHECK(emu_run(emu_pipeline(BASIC, "tg_reduce"), b, 3, MTL_SIZE(GROUPS, 1, 1),
                     MTL_SIZE(TG, 1, 1)) == 0, "%s", mtl_error());
    PS_CHECK_CLOSE("tg_reduce", mtl_buffer_ptr(b[1]), want, GROUPS, 1e-4, 1e-5);
}

static void t_simd_rowsum(void) {
    enum { ROWS = 7, COLS = 45 };  // 45 columns: the second pass of the lanes is partial
    float *x = emu_random(ROWS * COLS, 3), want[ROWS] = {0};
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) want[r] += x[r * COLS + c];
    uint32_t cols = COLS;
    MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * ROWS * COLS), emu_buffer(NULL, sizeof want),
                       emu_buffer(&cols, 4)};
    PS_CHECK(emu_run(emu_pipeline(BASIC, "simd_rowsum"), b, 3, MTL_SIZE(1, ROWS, 1),
                     MTL_SIZE(32, 1, 1)) == 0, "%s", mtl_error());
    PS_CHECK_CLOSE("simd_rowsum", mtl_buffer_ptr(b[1]), want, ROWS, 1e-5, 1e-5);
}

static void t_barrier_helper(void) {
    enum { TG = 96, GROUPS = 3, N = TG * GROUPS };
    float *x = emu_random(N, 4), want[N];
    for (int i = 0; i < N; i++) want[i] = x[(i / TG) * TG + (i % TG + 2) % TG];
    MtlBuffer *bx = emu_buffer(x, sizeof want), *by = emu_buffer(NULL, sizeof want);
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, emu_pipeline(SYNC, "rotate_twice"));
    mtl_set_buffer(c, 0, bx, 0);
    mtl_set_buffer(c, 1, by, 0);
    mtl_set_threadgroup_memory(c, 0, TG * sizeof(float));
    mtl_dispatch_groups(c, MTL_SIZE(GROUPS, 1, 1), MTL_SIZE(TG, 1, 1));
    PS_CHECK(mtl_commit_wait(c) == 0, "%s", mtl_error());
    mtl_cmd_free(c);
    PS_CHECK_CLOSE("rotate_twice", mtl_buffer_ptr(by), want, N, 0, 0);
}

static void t_simd_mix(void) {
    enum { TG = 48, N = TG * 2 };  // 48 threads: SIMD-groups of 32 and 16 lanes
    float *x = emu_random(N, 5), want[N * 4];
    for (int i = 0; i < N; i++) {
        int base = i / TG * TG + (i % TG) / 32 * 32, lanes = (i % TG) < 32 ? 32 : TG - 32;
        int lane = i - base;
        float same = 0, prefix = 0, mx = -INFINITY;
        for (int l = 0; l < lanes; l++) {
            if ((l % 3 == 0) == (lane % 3 == 0)) same += (lane % 3 == 0 ? 1.0f : 2.0f) * x[base + l];
            if (l < lane) prefix += x[base + l];
            mx = fmaxf(mx, x[base + l]);
        }
        want[i * 4 + 0] = same;
        want[i * 4 + 1] = prefix;
        want[i * 4 + 2] = lane + 1 < lanes ? x[i + 1] : x[i];  // shuffle_down keeps the top lane
        want[i * 4 + 3] = x[base] + mx;
    }
    MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * N), emu_buffer(NULL, sizeof want)};
    PS_CHECK(emu_run(emu_pipeline(SYNC, "simd_mix"), b, 2, MTL_SIZE(2, 1, 1),
                     MTL_SIZE(TG, 1, 1)) == 0, "%s", mtl_error());
    PS_CHECK_CLOSE("simd_mix (sum, prefix, shuffle_down, broadcast+max)", mtl_buffer_ptr(b[1]),
                   want, N * 4, 1e-5, 1e-5);
}

static void t_grid2d(void) {
    enum { W = 30, H = 21 };  // not multiples of 4x8: edge threadgroups are smaller
    uint32_t width = W;
    MtlBuffer *out = emu_buffer(NULL, sizeof(uint32_t) * 4 * W * H);
    memset(mtl_buffer_ptr(out), 0xff, sizeof(uint32_t) * 4 * W * H);
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, emu_pipeline(SYNC, "grid2d"));
    mtl_set_buffer(c, 0, out, 0);
    mtl_set_bytes(c, 1, &width, 4);
    mtl_dispatch_threads(c, MTL_SIZE(W, H, 1), MTL_SIZE(4, 8, 1));
    PS_CHECK(mtl_commit_wait(c) == 0, "%s", mtl_error());
    mtl_cmd_free(c);
    const uint32_t *o = mtl_buffer_ptr(out);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            const uint32_t *e = o + 4 * (y * W + x);
            uint32_t w = x / 4 == W / 4 ? W % 4 : 4, h = y / 8 == H / 8 ? H % 8 : 8;
            PS_CHECK(e[0] == x && e[1] == y && e[2] == 1 && e[3] == w * h,
                     "(%u,%u): got pos (%u,%u) consistent=%u group size %u, want %u", x, y,
                     e[0], e[1], e[2], e[3], w * h);
        }
}

void emu_check_tg_sum(uint32_t n, uint32_t threads, unsigned seed, const char *what) {
    float *x = emu_random(n, seed), want = 0;
    for (uint32_t i = 0; i < n; i++) want += x[i];
    MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * n), emu_buffer(NULL, 4), emu_buffer(&n, 4)};
    PS_CHECK(emu_run(emu_pipeline(SYNC, "simd_tg_sum"), b, 3, MTL_SIZE(1, 1, 1),
                     MTL_SIZE(threads, 1, 1)) == 0, "%s", mtl_error());
    PS_CHECK_CLOSE(what, mtl_buffer_ptr(b[1]), &want, 1, 1e-3, 1e-5);
}

// 200 threads: 7 SIMD-groups, the last one of 8 lanes.
static void t_simd_tg_sum(void) { emu_check_tg_sum(5000, 200, 6, "simd_tg_sum"); }

// The same correct kernel gives the same answer under every schedule.
static void t_schedules(void) {
    float got[3][4];
    for (int s = 0; s < 3; s++) {
        msl_set_schedule((msl_schedule)s, 7);
        enum { N = 3001 };
        float *x = emu_random(N, 2);
        uint32_t n = N;
        MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * N), emu_buffer(NULL, 16), emu_buffer(&n, 4)};
        PS_CHECK(emu_run(emu_pipeline(BASIC, "tg_reduce"), b, 3, MTL_SIZE(4, 1, 1),
                         MTL_SIZE(256, 1, 1)) == 0, "%s", mtl_error());
        memcpy(got[s], mtl_buffer_ptr(b[1]), 16);
    }
    PS_CHECK(!memcmp(got[0], got[1], 16) && !memcmp(got[0], got[2], 16),
             "forward, reverse and random schedules disagree on a race-free kernel");
}

static const PsTest TESTS[] = {
    {EMU_NAME("plain.scale_add"), t_scale_add, "book/appendix-emulator.md", 0},
    {EMU_NAME("tg.reduce_ragged"), t_tg_reduce, "book/appendix-emulator.md", 0},
    {EMU_NAME("simd.rowsum_partial"), t_simd_rowsum, "book/appendix-emulator.md", 0},
    {EMU_NAME("tg.barrier_in_helper"), t_barrier_helper, "book/appendix-emulator.md", 0},
    {EMU_NAME("simd.divergent_partial"), t_simd_mix, "book/appendix-emulator.md", 0},
    {EMU_NAME("grid.2d_edges"), t_grid2d, "book/appendix-emulator.md", 0},
    {EMU_NAME("simd.tg_two_level_sum"), t_simd_tg_sum, "book/appendix-emulator.md", 0},
    {EMU_NAME("sched.same_result"), t_schedules, "book/appendix-emulator.md", 0},
    EMU_MORE_TESTS
};

int main(int argc, char **argv) { return ps_main("emu", TESTS, PS_COUNT(TESTS), argc, argv); }

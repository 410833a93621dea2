// The catalogue of wrong kernels (emu_bugs.metal): the checking build reports each one with its
// kernel, its variable and its .metal lines; the normal build still runs them (a GPU would too,
// with undefined results). Valid forms give the right answer in both builds.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "msl/msl_rt.h"
#include "mtl.h"
#include "test_emu.h"

#define BUGS "shared/msl/tests/emu_bugs.metal"

// Runs kernel in `groups` threadgroups, with one buffer of 64 floats and `tg_bytes` of
// threadgroup(0) memory.
static int run_groups(const char *kernel, int groups, int threads, size_t tg_bytes, float *out) {
    MtlBuffer *y = emu_buffer(NULL, 64 * sizeof(float));
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, emu_pipeline(BUGS, kernel));
    mtl_set_buffer(c, 0, y, 0);
    if (tg_bytes) mtl_set_threadgroup_memory(c, 0, tg_bytes);
    mtl_dispatch_groups(c, MTL_SIZE(groups, 1, 1), MTL_SIZE(threads, 1, 1));
    int rc = mtl_commit_wait(c);
    mtl_cmd_free(c);
    if (out) memcpy(out, mtl_buffer_ptr(y), 64 * sizeof(float));
    return rc;
}
static int run_bug(const char *kernel, int threads, size_t tg_bytes, float *out) {
    return run_groups(kernel, 1, threads, tg_bytes, out);
}

// The checking build must fail the dispatch with a report holding every one of `want` (a
// NULL-terminated list); the normal build must run it, except a barrier divergence, which stops
// the normal build too (its scheduler cannot go on).
static void expect_report_n(const char *kernel, int groups, int threads, size_t tg_bytes,
                            const char *const *want) {
    int rc = run_groups(kernel, groups, threads, tg_bytes, NULL);
#ifdef MSL_CHECKING
    int checking = 1;
#else
    int checking = !strncmp(kernel, "diverge", 7);  // the scheduler cannot go on: both builds
#endif
    if (checking) {
        PS_CHECK(rc == -1, "%s: the build reported nothing", kernel);
        for (int i = 0; want[i]; i++)
            PS_CHECK(strstr(mtl_error(), want[i]) != NULL, "%s: the report lacks \"%s\": %s",
                     kernel, want[i], mtl_error());
    } else {
        PS_CHECK(rc == 0, "%s: the normal build failed: %s", kernel, mtl_error());
    }
}

static void expect_report(const char *kernel, int threads, size_t tg_bytes, const char *const *want) {
    expect_report_n(kernel, 1, threads, tg_bytes, want);
}

void t_bug_races(void) {
    expect_report("race_helper", 64, 0, (const char *const[]){
        "kernel 'race_helper'", "race on 'partial'", "line 10", "line 11", NULL});
    expect_report("race_tgbuf_float4", 32, 32 * 16, (const char *const[]){
        "kernel 'race_tgbuf_float4'", "race on 'buf'", "line 22", "line 23", NULL});
    expect_report("race_struct_ptr", 64, 0, (const char *const[]){
        "kernel 'race_struct_ptr'", "race on 'pairs'", "line 30", "line 31", NULL});
    expect_report("race_mem_none", 64, 0, (const char *const[]){
        "kernel 'race_mem_none'", "race on 'sh'", "line 37", "line 39", NULL});
}

void t_bug_divergence(void) {
    expect_report("diverge_helper", 64, 0, (const char *const[]){
        "kernel 'diverge_helper'", "barrier divergence", "line 43", "not the same time round", NULL});
    expect_report("diverge_continue", 64, 0, (const char *const[]){
        "kernel 'diverge_continue'", "barrier divergence", "line 57", NULL});
    expect_report("diverge_simd_barrier", 32, 0, (const char *const[]){
        "kernel 'diverge_simd_barrier'", "simdgroup_barrier divergence", "line 64", NULL});
}

void t_bug_simd_iterations(void) {
    float y[64];
    PS_CHECK(run_bug("simd_sum_iterations", 32, 0, y) == 0, "%s", mtl_error());
    for (int i = 0; i < 32; i++)
        PS_CHECK(y[i] == 16.0f, "lane %d: simd_sum over %g lanes, want the 16 of its iteration", i, y[i]);
}

void t_bug_tg_lengths(void) {
    PS_CHECK(run_bug("tg_too_small", 32, 40, NULL) == -1 && strstr(mtl_error(), "multiple of 16"),
             "a threadgroup length of 40 bytes was accepted: %s", mtl_error());
    expect_report("tg_too_small", 64, 128, (const char *const[]){
        "kernel 'tg_too_small'", "out of bounds", "'scores'", "line 82", NULL});
}

void t_bug_lanes(void) {
    expect_report("lane_missing", 8, 0, (const char *const[]){
        "kernel 'lane_missing'", "simd_broadcast at line 89", "reads lane 20", NULL});
}

// Only the checking build runs it: the normal build would really write past the buffer.
void t_bug_device_bounds(void) {
#ifdef MSL_CHECKING
    expect_report("dev_overrun", 8, 0, (const char *const[]){
        "kernel 'dev_overrun'", "device memory access out of bounds",
        "bytes 256..259 of 'y' (buffer(0)), which has 256", "line 106", NULL});
#endif
}

void t_bug_device_races(void) {
    expect_report("dev_race_neighbour", 32, 0, (const char *const[]){
        "kernel 'dev_race_neighbour'", "device memory race on 'y'", "line 111", "line 112", NULL});
    expect_report_n("dev_race_groups", 2, 32, 0, (const char *const[]){
        "kernel 'dev_race_groups'", "device memory race on 'y'", "line 119", "line 121",
        "of threadgroup #0", "of threadgroup #1", NULL});
    float y[64];
    PS_CHECK(run_bug("dev_barrier_ok", 32, 0, y) == 0, "%s", mtl_error());
    for (int i = 0; i < 32; i++) {
        float want = (float)(i == 31 ? 0 : i + 1);
        PS_CHECK(y[i] == want, "y[%d] = %g, want %g", i, y[i], want);
    }
}

void t_valid_forms(void) {
    float y[64];
    PS_CHECK(run_bug("valid_scalar_ptr", 64, 0, y) == 0, "%s", mtl_error());
    for (int i = 0; i < 64; i++)
        PS_CHECK(y[i] == (float)(i < 32 ? i + 32 : i - 32) + 0.5f, "y[%d] = %g", i, y[i]);
}

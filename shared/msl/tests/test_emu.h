// Shared helpers of the emulator suite (test_emu.c) and the tests in test_emu_more.c.
#ifndef TEST_EMU_H
#define TEST_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "mtl.h"

extern MtlContext *ctx;
MtlPipeline *emu_pipeline(const char *file, const char *kernel);  // fails the test if missing
MtlBuffer *emu_buffer(const void *data, size_t bytes);            // data may be NULL (zeros)
int emu_run(MtlPipeline *p, MtlBuffer **bufs, int n, MtlSize groups, MtlSize threads);
float *emu_random(size_t n, unsigned seed);                         // values in [-1, 1]
// Runs emu_sync.metal's simd_tg_sum (SIMD-group sums, then a threadgroup's) over n random values
// (emu_random(n, seed)) with one threadgroup of `threads`, and checks the total against a plain sum.
void emu_check_tg_sum(uint32_t n, uint32_t threads, unsigned seed, const char *what);

void t_simd_votes(void);
void t_half_roundtrip(void);
void t_half_math(void);
void t_atomics(void);
void t_race_missing_barrier(void);
void t_race_reduce(void);
void t_barrier_divergence(void);
void t_api_errors(void);
void t_big_threadgroup(void);
void t_selectors(void);
void t_bug_races(void);
void t_bug_divergence(void);
void t_bug_simd_iterations(void);
void t_bug_tg_lengths(void);
void t_bug_lanes(void);
void t_valid_forms(void);
void t_bug_device_bounds(void);
void t_bug_device_races(void);

// The checking build runs the same tests under the name check.<test>.
#ifdef MSL_CHECKING
#define EMU_NAME(n) "check." n
#else
#define EMU_NAME(n) n
#endif

#define EMU_MORE_TESTS                                                                           \
    {EMU_NAME("simd.votes_divergent"), t_simd_votes, "book/appendix-emulator.md", 0},                     \
    {EMU_NAME("types.half_bfloat_convert"), t_half_roundtrip, "book/appendix-emulator.md", 0},            \
    {EMU_NAME("types.half_vector_math"), t_half_math, "book/appendix-emulator.md", 0},                    \
    {EMU_NAME("atomics.histogram"), t_atomics, "book/appendix-emulator.md", 0},                           \
    {EMU_NAME("bugs.missing_barrier"), t_race_missing_barrier, "book/appendix-emulator.md", 0},           \
    {EMU_NAME("bugs.racy_reduce"), t_race_reduce, "book/appendix-emulator.md", 0},                        \
    {EMU_NAME("bugs.barrier_divergence"), t_barrier_divergence, "book/appendix-emulator.md", 0},          \
    {EMU_NAME("api.errors"), t_api_errors, "book/appendix-emulator.md", 0},                               \
    {EMU_NAME("tg.1024_threads"), t_big_threadgroup, "book/appendix-emulator.md", 0},                     \
    {EMU_NAME("macos.selectors"), t_selectors, "book/appendix-emulator.md", 0},                           \
    {EMU_NAME("bugs.races_everywhere"), t_bug_races, "book/appendix-emulator.md", 0},                     \
    {EMU_NAME("bugs.divergence_dynamic"), t_bug_divergence, "book/appendix-emulator.md", 0},              \
    {EMU_NAME("simd.sum_per_iteration"), t_bug_simd_iterations, "book/appendix-emulator.md", 0},         \
    {EMU_NAME("bugs.tg_lengths"), t_bug_tg_lengths, "book/appendix-emulator.md", 0},                      \
    {EMU_NAME("bugs.missing_lane"), t_bug_lanes, "book/appendix-emulator.md", 0},                         \
    {EMU_NAME("tg.scalar_and_pointer"), t_valid_forms, "book/appendix-emulator.md", 0},            \
    {EMU_NAME("bugs.device_bounds"), t_bug_device_bounds, "book/appendix-emulator.md", 0},        \
    {EMU_NAME("bugs.device_races"), t_bug_device_races, "book/appendix-emulator.md", 0},

#endif

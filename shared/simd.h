// Which SIMD kernels may run: one policy, read from the environment once, for every lab that has
// kernels with SIMD intrinsics (M2's f32 dot products, M5's quantized products).
//
// Each lab's plain C loops are what its tests check first; the SIMD kernels are optimisations that
// replace them at run time. The families can be switched separately, so a learner's build can run
// the learner's own M2 loops while M5's kernels use SIMD, or the other way round.
// (SIMD_ATTN is "exact" nowhere: its key blocks add in another order, so "exact" turns it off.)
//
// PS_SIMD in the environment sets both families once, at first use:
//   unset, "1", "on"  every SIMD kernel this CPU has, AVX-512 included (the default)
//   "0", "off"        the plain C loops
//   "exact"           only kernels that give the plain loops' bits exactly (M5's AVX2/NEON ones)
//   "avx2"            like "on" without the AVX-512 kernels: on an AVX-512 CPU, what a machine
//                     with AVX2 only would run (make check tests both there)
//   "avx512"          the same as "on" (the name under which they were first tested)
#ifndef PS_SIMD_H
#define PS_SIMD_H

#include <stdbool.h>

// M2's f32 kernels, M5's quantized kernels, M4's attention over the cache (threaded key blocks)
typedef enum { SIMD_F32, SIMD_QUANT, SIMD_ATTN, SIMD_FAMILIES } SimdFamily;
typedef enum { SIMD_OFF, SIMD_EXACT, SIMD_ON } SimdLevel;

SimdLevel simd_level(SimdFamily f);
void simd_set_level(SimdFamily f, SimdLevel level);
bool simd_from_env(void);        // did PS_SIMD choose? (then a program should not override it)
bool simd_avx512_allowed(void);  // false only with PS_SIMD=avx2
// Does this CPU have AVX2, FMA and F16C (x86-64; false elsewhere)? What the kernels that convert
// f16 values in registers need (M4's f16 cache, M5's q8_0 cache scales). F16C is read from CPUID
// itself: clang's __builtin_cpu_supports does not know the name.
bool simd_cpu_avx2_fma_f16c(void);
const char *simd_level_name(SimdLevel level);   // "off", "exact", "on"

#endif

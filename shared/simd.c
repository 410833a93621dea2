// The SIMD policy (simd.h): PS_SIMD read once, then a level per family that code may change.
#include "simd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

static _Atomic int levels[SIMD_FAMILIES];   // read by every worker thread, before every product
static bool env_given, env_avx2;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void) {
    const char *env = getenv("PS_SIMD");
    SimdLevel level = SIMD_ON;
    env_given = env && *env;
    if (env_given && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0)) level = SIMD_OFF;
    else if (env_given && strcmp(env, "exact") == 0) level = SIMD_EXACT;
    // "avx2" leaves out the AVX-512 kernels (M2's 4x6 tiles, M5's VNNI kernels), so that an
    // AVX-512 machine can test and time what an AVX2-only one runs.
    env_avx2 = env_given && strcmp(env, "avx2") == 0;
    for (int f = 0; f < SIMD_FAMILIES; f++) atomic_store(&levels[f], level);
}

SimdLevel simd_level(SimdFamily f) {
    pthread_once(&env_once, read_env);
    return (SimdLevel)atomic_load_explicit(&levels[f], memory_order_relaxed);
}

void simd_set_level(SimdFamily f, SimdLevel level) {
    pthread_once(&env_once, read_env);   // so a later first read cannot undo this
    atomic_store(&levels[f], level);
}

bool simd_from_env(void) {
    pthread_once(&env_once, read_env);
    return env_given;
}

bool simd_avx512_allowed(void) {
    pthread_once(&env_once, read_env);
    return !env_avx2;
}

const char *simd_level_name(SimdLevel level) {
    return level == SIMD_OFF ? "off" : level == SIMD_EXACT ? "exact" : "on";
}

bool simd_cpu_avx2_fma_f16c(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    unsigned eax, ebx, ecx, edx;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
    return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

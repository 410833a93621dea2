// More of the emulator suite: number formats, atomics, the bug-finding features, API errors,
// and the check that the macOS backend only sends selectors Apple documents.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "msl/msl_rt.h"
#include "test_emu.h"

#define TYPES "shared/msl/tests/emu_types.metal"
#define SYNC "shared/msl/tests/emu_sync.metal"
#define RACY "shared/msl/tests/emu_racy.metal"

// ---- reference conversions, written differently from the shim's on purpose ----
static double ref_half(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}
static uint16_t nearest_of(double a, uint16_t lo, double vlo, double vhi) {
    // lo and lo + 1 bracket a: the nearer one, ties to the even pattern
    if (a - vlo < vhi - a || (a - vlo == vhi - a && lo % 2 == 0)) return lo;
    return (uint16_t)(lo + 1);
}
static uint16_t ref_to_half(float x) {
    double a = fabs((double)x);
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (a >= 65520.0) return sign | 0x7c00;  // rounds past the largest half, 65504
    unsigned lo = 0, hi = 0x7bff;            // largest pattern whose value is <= a
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;
        if (ref_half((uint16_t)mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    if (lo == 0x7bff) return sign | 0x7bff;
    return sign | nearest_of(a, (uint16_t)lo, ref_half((uint16_t)lo), ref_half((uint16_t)(lo + 1)));
}
static double ref_bfloat(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t ref_to_bfloat(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000), lo = (uint16_t)(u >> 16 & 0x7fff);
    double a = fabs((double)x);
    return sign | nearest_of(a, lo, ref_bfloat(lo), ref_bfloat((uint16_t)(lo + 1)));
}

// simd_min/max/sum/product in divergent branches, then ballot/all/any over the whole group, under
// every schedule: 48 threads per threadgroup, so the second SIMD-group has 16 lanes.
void t_simd_votes(void) {
    enum { TG = 48, N = TG * 3 };
    float *x = emu_random(N, 11), want[N * 4];
    uint32_t want_votes[N * 4];
    for (int i = 0; i < N; i++) {
        int base = i / TG * TG + (i % TG) / 32 * 32, lanes = (i % TG) < 32 ? 32 : TG - 32;
        int odd = (i - base) & 1;
        float a = odd ? INFINITY : -INFINITY, b = odd ? 1.0f : 0.0f;
        uint32_t bits = 0, all = 1, any = 0;
        for (int l = 0; l < lanes; l++) {
            float v = x[base + l];
            if (v > 0) bits |= 1u << l, any = 1;
            else all = 0;
            if ((l & 1) != odd) continue;
            a = odd ? fminf(a, v) : fmaxf(a, v);
            b = odd ? b * (1.0f + 0.1f * v) : b + v;
        }
        float *w = &want[i * 4];
        w[0] = a, w[1] = b, w[2] = 1.0f, w[3] = 0.0f;  // |x| <= 1: all > -2, none > 2
        uint32_t *wv = &want_votes[i * 4];
        wv[0] = bits, wv[1] = all, wv[2] = any, wv[3] = 0;
    }
    for (int s = 0; s < 3; s++) {
        msl_set_schedule((msl_schedule)s, 3);
        MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * N), emu_buffer(NULL, sizeof want),
                           emu_buffer(NULL, sizeof want_votes)};
        int rc = emu_run(emu_pipeline(SYNC, "simd_votes"), b, 3, MTL_SIZE(N / TG, 1, 1),
                         MTL_SIZE(TG, 1, 1));
        msl_set_schedule(MSL_SCHED_FORWARD, 0);
        PS_CHECK(rc == 0, "%s", mtl_error());
        PS_CHECK_CLOSE("simd_votes (min/max, product/sum, all, any)", mtl_buffer_ptr(b[1]), want,
                       N * 4, 1e-5, 1e-5);
        PS_CHECK(!memcmp(mtl_buffer_ptr(b[2]), want_votes, sizeof want_votes),
                 "simd_ballot/simd_all/simd_any differ from the C reference (schedule %d)", s);
    }
}

void t_half_roundtrip(void) {
    enum { N = 65536 };
    static uint16_t bits[N];
    static float vals[N];
    unsigned seed = 9;
    for (int i = 0; i < N; i++) {
        bits[i] = (uint16_t)i;
        seed = seed * 1664525u + 1013904223u;
        int kind = i % 4;
        if (kind == 0) vals[i] = ldexpf((float)(seed >> 8) / 16777216.0f, (int)(seed % 48) - 30);
        else if (kind == 1) vals[i] = (float)ref_half((uint16_t)(i & 0x7bfe)) * 0.5f +
                                      (float)ref_half((uint16_t)((i & 0x7bfe) + 1)) * 0.5f;  // ties
        else if (kind == 2) vals[i] = (float)(seed % 140000) - 70000.0f;  // overflow region too
        else vals[i] = ldexpf((float)(seed % 5000), -34);                   // half subnormals
        if (seed & 1) vals[i] = -vals[i];
    }
    MtlBuffer *b[] = {emu_buffer(bits, N * 2), emu_buffer(NULL, N * 4), emu_buffer(vals, N * 4),
                       emu_buffer(NULL, N * 2), emu_buffer(NULL, N * 2)};
    PS_CHECK(emu_run(emu_pipeline(TYPES, "half_roundtrip"), b, 5, MTL_SIZE(N / 256, 1, 1),
                     MTL_SIZE(256, 1, 1)) == 0, "%s", mtl_error());
    const float *as_float = mtl_buffer_ptr(b[1]);
    const uint16_t *h = mtl_buffer_ptr(b[3]), *bf = mtl_buffer_ptr(b[4]);
    for (int i = 0; i < N; i++) {
        double want = ref_half((uint16_t)i);
        PS_CHECK(isnan(want) ? isnan(as_float[i]) : as_float[i] == want,
                 "half 0x%04x -> float: got %.9g, want %.9g", i, as_float[i], want);
        PS_CHECK(h[i] == ref_to_half(vals[i]), "float %.9g -> half: got 0x%04x, want 0x%04x",
                 vals[i], h[i], ref_to_half(vals[i]));
        PS_CHECK(bf[i] == ref_to_bfloat(vals[i]), "float %.9g -> bfloat: got 0x%04x, want 0x%04x",
                 vals[i], bf[i], ref_to_bfloat(vals[i]));
    }
}

void t_half_math(void) {
    enum { N = 64 };
    uint16_t a[N * 4];
    float want[N * 4];
    float *r = emu_random(N * 4, 11);
    for (int i = 0; i < N * 4; i++) a[i] = ref_to_half(r[i] * 3000.0f);
    for (int i = 0; i < N; i++) {
        double v[4];
        for (int k = 0; k < 4; k++)  // a * 2 is exact; + 1 rounds to half
            v[k] = ref_half(ref_to_half((float)(ref_half(a[i * 4 + k]) * 2.0 + 1.0)));
        want[i * 4 + 0] = (float)v[0] + (float)v[1];
        want[i * 4 + 1] = (float)v[0] + (float)v[1] + (float)v[2] + (float)v[3];
        want[i * 4 + 2] = (float)fmax(v[2], v[3]);
        want[i * 4 + 3] = 16 + 8 * 100 + 8 * 10000;  // sizeof float3, half3, half4
    }
    MtlBuffer *b[] = {emu_buffer(a, sizeof a), emu_buffer(NULL, sizeof want)};
    PS_CHECK(emu_run(emu_pipeline(TYPES, "half_math"), b, 2, MTL_SIZE(2, 1, 1),
                     MTL_SIZE(32, 1, 1)) == 0, "%s", mtl_error());
    PS_CHECK_CLOSE("half_math", mtl_buffer_ptr(b[1]), want, N * 4, 0, 1e-6);
}

void t_atomics(void) {
    enum { N = 10007 };
    uint32_t x[N], want[16] = {0};
    for (uint32_t i = 0; i < N; i++) x[i] = i * 2654435761u >> 7, want[x[i] % 16]++;
    MtlBuffer *b[] = {emu_buffer(x, sizeof x), emu_buffer(NULL, sizeof want)};
    MtlCmd *c = mtl_cmd_new(ctx);
    mtl_set_pipeline(c, emu_pipeline(TYPES, "histogram"));
    mtl_set_buffer(c, 0, b[0], 0);
    mtl_set_buffer(c, 1, b[1], 0);
    mtl_dispatch_threads(c, MTL_SIZE(N, 1, 1), MTL_SIZE(64, 1, 1));
    PS_CHECK(mtl_commit_wait(c) == 0, "%s", mtl_error());
    mtl_cmd_free(c);
    PS_CHECK(!memcmp(mtl_buffer_ptr(b[1]), want, sizeof want), "histogram counts differ");
}

// A racy kernel: the checking build must name the race; the normal build must still give a
// visibly wrong answer under some schedule (threadgroup memory starts as NaN).
static void racy(const char *kernel, int tg, const float *want_ok, int nout) {
    float *x = emu_random((size_t)tg, 12);
    MtlBuffer *b[] = {emu_buffer(x, sizeof(float) * (size_t)tg),
                       emu_buffer(NULL, sizeof(float) * (size_t)nout)};
    MtlPipeline *p = emu_pipeline(RACY, kernel);
#ifdef MSL_CHECKING
    (void)want_ok;
    int rc = emu_run(p, b, 2, MTL_SIZE(1, 1, 1), MTL_SIZE(tg, 1, 1));
    const char *e = mtl_error();
    PS_CHECK(rc == -1 && msl_race_count() > 0, "the race checker did not flag %s", kernel);
    PS_CHECK(strstr(e, "race") && strstr(e, kernel) && strstr(e, "thread") && strstr(e, "line"),
             "race message lacks kernel, thread ids or line: %s", e);
#else
    int caught = 0;
    for (int s = 0; s < 2; s++) {
        msl_set_schedule(s ? MSL_SCHED_REVERSE : MSL_SCHED_FORWARD, 0);
        PS_CHECK(emu_run(p, b, 2, MTL_SIZE(1, 1, 1), MTL_SIZE(tg, 1, 1)) == 0, "%s", mtl_error());
        const float *y = mtl_buffer_ptr(b[1]);
        for (int i = 0; i < nout; i++)
            if (!(fabsf(y[i] - want_ok[i]) <= 1e-5f)) caught = 1;
    }
    PS_CHECK(caught, "%s: neither schedule exposed the missing barrier", kernel);
#endif
}

void t_race_missing_barrier(void) {
    float *x = emu_random(64, 12), want[64];
    for (int i = 0; i < 64; i++) want[i] = x[(i + 1) % 64];
    racy("racy_neighbour", 64, want, 64);
#ifdef MSL_CHECKING
    PS_CHECK(strstr(mtl_error(), "shared_vals") != NULL, "race message lacks the variable: %s",
             mtl_error());
#endif
}

void t_race_reduce(void) {
    float *x = emu_random(64, 12), want = 0;
    for (int i = 0; i < 64; i++) want += x[i];
    racy("racy_reduce", 64, &want, 1);
}

void t_barrier_divergence(void) {
    MtlBuffer *b[] = {emu_buffer(NULL, 64 * 4)};
    int rc = emu_run(emu_pipeline(RACY, "early_return"), b, 1, MTL_SIZE(1, 1, 1), MTL_SIZE(64, 1, 1));
    PS_CHECK(rc == -1 && strstr(mtl_error(), "barrier divergence") && strstr(mtl_error(), "line 22"),
             "early return before a barrier not diagnosed (rc %d): %s", rc, mtl_error());
}

void t_api_errors(void) {
    MtlContext *c = mtl_context_new();
    PS_CHECK(!mtl_library_new(c, "shaders/no_such_file.metal") && strstr(mtl_error(), "cannot open"),
             "missing file: %s", mtl_error());
    FILE *f = fopen("build/msl/unlinked.metal", "w");
    PS_CHECK(f != NULL, "cannot write build/msl/unlinked.metal");
    fclose(f);
    PS_CHECK(!mtl_library_new(c, "build/msl/unlinked.metal") && strstr(mtl_error(), "not linked"),
             "unlinked file: %s", mtl_error());
    MtlLibrary *lib = mtl_library_new(c, SYNC);
    PS_CHECK(lib && !mtl_pipeline_new(lib, "nope") && strstr(mtl_error(), "no kernel function 'nope'"),
             "missing kernel: %s", mtl_error());
    char *odd = malloc(8192);
    PS_CHECK(!mtl_buffer_wrap(c, odd + 1, 4096) && strstr(mtl_error(), "page size"),
             "misaligned wrap: %s", mtl_error());
    free(odd);
    MtlCmd *cmd = mtl_cmd_new(c);
    mtl_dispatch_groups(cmd, MTL_SIZE(1, 1, 1), MTL_SIZE(1, 1, 1));
    PS_CHECK(mtl_commit_wait(cmd) == -1 && strstr(mtl_error(), "no pipeline"), "%s", mtl_error());
    mtl_cmd_free(cmd);
    cmd = mtl_cmd_new(c);
    mtl_set_pipeline(cmd, emu_pipeline(SYNC, "rotate_twice"));
    mtl_set_threadgroup_memory(cmd, 0, 40000);
    mtl_dispatch_groups(cmd, MTL_SIZE(1, 1, 1), MTL_SIZE(32, 1, 1));
    PS_CHECK(mtl_commit_wait(cmd) == -1 && strstr(mtl_error(), "32 KB"), "%s", mtl_error());
    mtl_cmd_free(cmd);
    mtl_library_free(lib);
    mtl_context_free(c);
}

// 1024 fibers, 32 SIMD-groups, a barrier.
void t_big_threadgroup(void) { emu_check_tg_sum(70000, 1024, 13, "simd_tg_sum 1024"); }

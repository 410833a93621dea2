// The emulator's numerics against independent references (run by run.sh; one line per check:
// `PASS name` or `FAIL name why`). Built with the shaders' own flags, so it checks the header
// code exactly as kernels get it.
//   fma on half is rounded once: against an exact sum in 128-bit integers;
//   precise::sin/cos stay within the spec's 4 ulp at large arguments;
//   fast::sin/cos/exp stay within the spec's fast-math bounds where the spec gives them, and
//   fast::sin/cos differ visibly from precise:: at the angles a rope kernel reaches.
#include <metal_stdlib>
#include <stdio.h>
using namespace metal;

static void report(bool ok, const char *name, const char *why) {
    printf("%s %s %s\n", ok ? "PASS" : "FAIL", name, ok ? "" : why);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random() {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return rng_state;
}
static half half_of(uint16_t bits) { return as_type<half>(ushort(bits)); }
static uint16_t bits_of(half h) { return as_type<ushort>(h); }

// value = sign * m * 2^e for a finite half
static void half_parts(uint16_t h, int *sign, int64_t *m, int *e) {
    int ex = (h >> 10) & 31;
    *sign = h >> 15 ? -1 : 1;
    *m = ex ? (h & 1023) | 1024 : h & 1023;
    *e = ex ? ex - 25 : -24;
}

// The correctly rounded a * b + c, computed exactly in units of 2^-48 and rounded to half once.
static uint16_t exact_fma(uint16_t a, uint16_t b, uint16_t c) {
    int sa, sb, sc, ea, eb, ec;
    int64_t ma, mb, mc;
    half_parts(a, &sa, &ma, &ea), half_parts(b, &sb, &mb, &eb), half_parts(c, &sc, &mc, &ec);
    __int128 s = (__int128)(sa * sb) * ((__int128)(ma * mb) << (ea + eb + 48)) + (__int128)sc * ((__int128)mc << (ec + 48));
    if (s == 0) return 0;
    unsigned __int128 mag = s < 0 ? (unsigned __int128)-s : (unsigned __int128)s;
    int top = 127;
    while (!((mag >> top) & 1)) top--;
    int q = (top - 48 < -14 ? -14 : top - 48) - 10, shift = q + 48;
    unsigned __int128 r = mag >> shift, rem = mag & (((unsigned __int128)1 << shift) - 1);
    unsigned __int128 halfway = (unsigned __int128)1 << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    float v = (float)__builtin_ldexp((double)(uint64_t)r, q);  // exact: r has <= 12 bits
    return bits_of(half(s < 0 ? -v : v));
}

static uint16_t random_finite_half() {
    for (;;) {
        uint16_t h = (uint16_t)next_random();
        if (((h >> 10) & 31) != 31) return h;
    }
}
static bool same_half(uint16_t x, uint16_t y) { return x == y || ((x | y) & 0x7fff) == 0; }

static void t_fma_half() {
    // issue 16's case: 1 + 2^-9 - 2^-11 (1 + 2^-15) lies just below the tie between 0x3c01 and
    // 0x3c02; rounded through float it lands on the tie and goes to the even 0x3c02.
    half a = half_of(0x9020), b = half_of(0x3bc2), c = half_of(0x3c02);
    uint16_t got = bits_of(fma(a, b, c)), want = exact_fma(0x9020, 0x3bc2, 0x3c02);
    char why[160];
    snprintf(why, sizeof why, "fma(0x9020, 0x3bc2, 0x3c02) = 0x%04x, correctly rounded 0x%04x", got, want);
    report(got == 0x3c01 && want == 0x3c01, "fma_half.issue16", why);
    int wrong = 0, twice_rounded = 0, n = 2000000;
    uint16_t bad[3] = {0, 0, 0};
    for (int k = 0; k < n; k++) {
        uint16_t x = random_finite_half(), y = random_finite_half(), z = random_finite_half();
        if (k & 1) {  // every other c near a * b in size, where ties and cancellation happen
            int e = ((x >> 10) & 31) + ((y >> 10) & 31) - 15;
            z = (uint16_t)((z & 0x83ff) | ((e < 1 ? 1 : e > 30 ? 30 : e) << 10));
        }
        uint16_t want_xyz = exact_fma(x, y, z);
        if (!same_half(bits_of(fma(half_of(x), half_of(y), half_of(z))), want_xyz) && !wrong++)
            bad[0] = x, bad[1] = y, bad[2] = z;
        if (!same_half(bits_of(half(__builtin_fmaf(float(half_of(x)), float(half_of(y)), float(half_of(z))))), want_xyz))
            twice_rounded++;
    }
    snprintf(why, sizeof why, "%d of %d wrong, first fma(0x%04x, 0x%04x, 0x%04x)", wrong, n, bad[0], bad[1], bad[2]);
    report(wrong == 0, "fma_half.random", why);
    snprintf(why, sizeof why, "rounding through float was wrong in none of %d cases: the test has no teeth", n);
    report(twice_rounded > 0, "fma_half.catches_double_rounding", why);
}

static double ulps(float got, double want) {  // |got - want| in units of float's ulp at want
    double a = __builtin_fabs(want);
    int e = a < 1.17549435e-38 ? -126 : __builtin_ilogb(a);
    return __builtin_fabs((double)got - want) / __builtin_ldexp(1.0, e - 23);
}

static void t_sin_cos() {
    double worst_precise = 0, worst_small = 0, biggest_gap = 0;
    for (int k = 0; k < 200000; k++) {
        float x = (float)((double)(next_random() >> 11) * 0x1p-53 * 2e5 - 1e5);
        worst_precise = __builtin_fmax(worst_precise, __builtin_fmax(ulps(precise::sin(x), __builtin_sin((double)x)),
                                                 ulps(precise::cos(x), __builtin_cos((double)x))));
        float s = (float)((double)(next_random() >> 11) * 0x1p-53 * 2 * M_PI_F - M_PI_F);
        worst_small = __builtin_fmax(worst_small, __builtin_fmax(__builtin_fabs(fast::sin(s) - __builtin_sin((double)s)),
                                             __builtin_fabs(fast::cos(s) - __builtin_cos((double)s))));
        if (__builtin_fabs(x) > 1e4)
            biggest_gap = __builtin_fmax(biggest_gap, __builtin_fabs(fast::cos(x) - precise::cos(x)));
    }
    char why[160];
    snprintf(why, sizeof why, "precise::sin/cos off by %.2f ulp on [-1e5, 1e5] (spec: 4)", worst_precise);
    report(worst_precise <= 4, "precise_sin_cos.large_ulp", why);
    snprintf(why, sizeof why, "fast::sin/cos off by %g on [-pi, pi] (spec: 2^-13)", worst_small);
    report(worst_small <= 0x1p-13, "fast_sin_cos.small_bound", why);
    // A rope angle: position 30000 at frequency 1 (the first pair of every head).
    float angle = 30000.0f;
    snprintf(why, sizeof why, "fast::sin(30000) %.9g vs precise %.9g; largest gap beyond 1e4: %g",
             fast::sin(angle), precise::sin(angle), biggest_gap);
    report(__builtin_fabs(fast::sin(angle) - precise::sin(angle)) > 1e-4 && biggest_gap > 1e-4 &&
           fast::sin(1.0f) == precise::sin(1.0f), "fast_sin_cos.differs_at_large_angles", why);
}

static void t_exp() {
    double worst = 0;  // in units of the spec's allowance, 3 + floor(|2x|) ulp
    for (int k = 0; k < 200000; k++) {
        float x = (float)((double)(next_random() >> 11) * 0x1p-53 * 160 - 80);
        double want = __builtin_exp((double)x);
        if (want < 1.17549435e-38 || want > 3.4e38) continue;
        worst = __builtin_fmax(worst, ulps(fast::exp(x), want) / (3 + __builtin_floor(__builtin_fabs(2 * (double)x))));
        worst = __builtin_fmax(worst, ulps(precise::exp(x), want) / 4);
    }
    char why[120];
    snprintf(why, sizeof why, "exp error at %.2f of the spec's bound", worst);
    report(worst <= 1, "exp.bounds", why);
}

int main() {
    t_fma_half();
    t_sin_cos();
    t_exp();
    return 0;
}

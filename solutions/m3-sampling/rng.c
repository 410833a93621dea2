// xoshiro256** seeded by splitmix64: see rng.h for why protostar has its own generator.
#include "rng.h"

// splitmix64 turns consecutive integers into well-mixed 64-bit values; it is the seeding
// procedure the xoshiro authors recommend (a state of all zeros would make xoshiro stuck at 0).
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rng_float(Rng *r) {
    // A float has a 24-bit significand: 24 random bits scaled by 2^-24 are exactly representable,
    // uniformly spaced in [0, 1), and the largest is 1 - 2^-24 < 1.
    return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

// A small, fully specified random number generator, so a seed reproduces a run on every platform.
//
// C's rand() differs between libc's (and is poor), so protostar carries its own: xoshiro256**
// (Blackman & Vigna, 2018), seeded through splitmix64. Both are a few lines of integer arithmetic
// with exactly defined results, so `--seed 42` draws the same numbers on macOS and Linux.
#ifndef PS_RNG_H
#define PS_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];  // xoshiro256** state; never all zero (splitmix64 seeding guarantees it)
} Rng;

// Fills the state from one 64-bit seed (any value, 0 included).
void rng_seed(Rng *r, uint64_t seed);

// The next 64 random bits.
uint64_t rng_u64(Rng *r);

// A float uniform in [0, 1): the top 24 bits of rng_u64 times 2^-24, so every value is exact in
// a float and 1.0 is never returned.
float rng_float(Rng *r);

#endif

// Rule: no recursive calls (MSL spec §1.5.4 Restrictions): helpers calling helpers, and a loop.
#include <metal_stdlib>
using namespace metal;

static uint fact(uint n) {
    uint r = 1;
    for (uint k = 2; k <= n; k++) r *= k;
    return r;
}
static uint twice_fact(uint n) { return 2 * fact(n); }

kernel void k(device uint *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = twice_fact(i % 8);
}

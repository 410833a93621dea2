// Rule: no recursive calls (MSL spec §1.5.4 Restrictions): helpers calling helpers, and a loop.
#include <metal_stdlib>
using namespace metal;

static uint fact(uint n) {
    uint r = 1;
    for (uint k = 2; k <= n; k++) r *= k;
    return r;
}
static uint twice_fact(uint n) { return 2 * fact(n); }
// An overload calling another overload of the same name is no recursion.
static float total(float x) { return x; }
static float total(float4 v) { return total(v.x) + total(v.y) + total(v.z) + total(v.w); }

kernel void k(device uint *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = twice_fact(i % 8) + uint(total(float4(1.0f)));
}

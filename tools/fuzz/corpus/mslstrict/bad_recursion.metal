// Rule: no recursive calls (MSL spec §1.5.4 Restrictions), direct or through another function.
// expect: recursive call: even -> odd -> even
#include <metal_stdlib>
using namespace metal;

static uint odd(uint n);
static uint even(uint n) { return n == 0 ? 1 : odd(n - 1); }   // <- error
static uint odd(uint n) { return n == 0 ? 0 : even(n - 1); }
static uint fact(uint n) { return n < 2 ? 1 : n * fact(n - 1); }   // <- error

kernel void k(device uint *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    out[i] = even(i) + fact(i);
}

// Rule: program-scope variables are in the constant address space (MSL spec §4.2).
#include <metal_stdlib>
using namespace metal;

constant float table[4] = {1.0f, 2.0f, 3.0f, 4.0f};
constexpr constant uint N = 4;
struct Pair { float a, b; };
typedef float Real;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    Real r = table[i % N];
    out[i] = r;
}

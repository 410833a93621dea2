// Rule: Metal has no double or long double (MSL spec §2.1): float, and literals without a suffix.
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    float d = out[i];
    out[i] = d * 2.0;
}

// Rule: Metal has no double or long double (MSL spec §2.1 Scalar data types).
// expect: 'double' is not a Metal type
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    double d = out[i];        // <- error
    long double e = d * 2;    // <- error
    out[i] = float(e);
}

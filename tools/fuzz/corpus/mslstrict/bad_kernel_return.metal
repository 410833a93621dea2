// Rule: a kernel returns void (MSL spec §5.1.3 Kernel functions).
// expect: kernel 'k' must return void
#include <metal_stdlib>
using namespace metal;

kernel int k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {   // <- error
    out[i] = 1.0f;
    return 0;
}

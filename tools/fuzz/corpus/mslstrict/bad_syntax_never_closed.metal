// Not an MSL rule but C++ grammar: a bracket that is never closed. The front-end names the line
// of the opening bracket and stops (its checks cannot read past it); Apple's compiler refuses it too.
// expect: this '{' is never closed
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {   // <- error
    if (out[i] < 0.0f) {
        out[i] = 0.0f;
}

// Rule: program-scope variables are in the constant address space (MSL spec §4.2).
// expect: program-scope variable 'counter' must be declared 'constant'
#include <metal_stdlib>
using namespace metal;

float counter = 0.0f;   // <- error
float table[4] = {1.0f, 2.0f, 3.0f, 4.0f};   // <- error

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    counter += 1.0f;
    out[i] = counter + table[i % 4];
}

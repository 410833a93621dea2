// Rule: no virtual functions (MSL spec §1.5.4 Restrictions): a plain member function.
#include <metal_stdlib>
using namespace metal;

struct Scale {
    float s;
    float apply(float x) const { return s * x; }
};

kernel void k(device float *out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    Scale sc;
    sc.s = 2.0f;
    out[i] = sc.apply(out[i]);
}

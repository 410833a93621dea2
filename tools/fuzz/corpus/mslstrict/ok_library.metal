// Valid MSL that the emulator once refused with raw C++ errors (issue 16): precise::max/fmax,
// fast::divide, mad, exp10, popcount, clz, atomic<float> (MSL spec §6.5 Math functions, §6.4
// Integer functions, §2.6 Atomic data types).
#include <metal_stdlib>
using namespace metal;

kernel void k(device float *out [[buffer(0)]], device uint *bits [[buffer(1)]],
              device atomic<float> *acc [[buffer(2)]], uint i [[thread_position_in_grid]]) {
    float x = out[i];
    float y = precise::max(x, 1.0f) + precise::fmax(x, 2.0f) + precise::fmin(x, 0.0f);
    y += fast::divide(x, 3.0f) + mad(x, 2.0f, 1.0f) + exp10(x * 0.1f);
    y += fast::sin(x) + precise::cos(x) + fast::exp(-x * x);
    bits[i] = popcount(bits[i]) + clz(bits[i] | 1u) + ctz(bits[i]);
    float4 v = float4(x);
    v = mad(v, v, v) + fast::divide(v, float4(2.0f));
    atomic_fetch_add_explicit(acc, y + v.x, memory_order_relaxed);
    out[i] = y;
}

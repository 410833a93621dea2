// lab: m6-metal
// Element-wise ops: one thread per element, nothing shared. The MLP's gated activation and the
// residual stream's additions.
//
// Geometry (book/m6-metal.md#elementwise-kernels): mtl_dispatch_threads with a grid of exactly n
// threads. Metal cuts it into threadgroups of 256 and makes the last one smaller, so no thread
// lands past the end and the kernels need no bounds check.
#include <metal_stdlib>
using namespace metal;

// out[i] = silu(gate[i]) * up[i], silu(g) = g * sigmoid(g) = g / (1 + exp(-g)).
kernel void swiglu_f32(device const float *gate [[buffer(0)]],
                       device const float *up [[buffer(1)]],
                       device float *out [[buffer(2)]],
                       uint i [[thread_position_in_grid]]) {
    //> M6 swiglu-kernel
    //? One line. For a very negative g, exp(-g) is +inf and g / inf = -0: the right limit.
    //= LAB_TODO_KERNEL(out[i]);
    float g = gate[i];
    out[i] = g / (1.0f + exp(-g)) * up[i];
    //<
}

// out[i] = a[i] + b[i]: the residual connection (out may be a or b).
kernel void add_f32(device const float *a [[buffer(0)]],
                    device const float *b [[buffer(1)]],
                    device float *out [[buffer(2)]],
                    uint i [[thread_position_in_grid]]) {
    //> M6 add-kernel
    //? The simplest kernel there is: write it to see a whole dispatch work end to end.
    //= LAB_TODO_KERNEL(out[i]);
    out[i] = a[i] + b[i];
    //<
}

// lab: m6-metal
// Attention for one decode query over the KV cache, with grouped-query attention (GQA):
//   scores[j] = (q_h . k_j) * scale for every cached position j < n_keys, softmax, out_h = sum_j p_j v_j
// where query head h reads key/value head h / (n_heads / n_kv_heads).
//
// Geometry (book/m6-metal.md#attention-kernel): one threadgroup per query head. The scores of a
// head live in threadgroup memory ([[threadgroup(0)]], n_keys floats, sized by the host), so the
// three phases share them: (1) scores, one SIMD-group per position at a time, its lanes splitting
// head_dim; (2) softmax, one thread per position, with the max and the sum reduced over the
// whole threadgroup; (3) the weighted sum of values, one thread per output dimension.
#include <metal_stdlib>
using namespace metal;

#include "solutions/m6-metal/kernel_params.h"   // the constants, as gpu_ops.c fills them

//[ attention-reduce
// Max and sum over the threadgroup, returned to every thread: SIMD-group first, then the (at
// most 32) per-SIMD-group results through threadgroup memory. Each reduction has its own
// `partial` array: with one shared array, a fast SIMD-group could overwrite partial[sg] for the
// sum while a slow one still reads it for the max.
static float threadgroup_max(float v, threadgroup float *partial, uint lane, uint sg, uint nsg) {
    v = simd_max(v);
    if (lane == 0) partial[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_max(lane < nsg ? partial[lane] : -INFINITY);
}
static float threadgroup_sum(float v, threadgroup float *partial, uint lane, uint sg, uint nsg) {
    v = simd_sum(v);
    if (lane == 0) partial[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return simd_sum(lane < nsg ? partial[lane] : 0.0f);
}
//]

kernel void attention_f32(device const float *q [[buffer(0)]],   // [n_heads][head_dim]
                          device const float *k [[buffer(1)]],   // [n_keys] rows, kv_stride apart
                          device const float *v [[buffer(2)]],
                          device float *out [[buffer(3)]],       // [n_heads][head_dim]
                          constant AttentionParams &p [[buffer(4)]],
                          threadgroup float *scores [[threadgroup(0)]],   // [n_keys]
                          uint head [[threadgroup_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]],
                          uint ntg [[threads_per_threadgroup]],
                          uint lane [[thread_index_in_simdgroup]],
                          uint sg [[simdgroup_index_in_threadgroup]],
                          uint nsg [[simdgroups_per_threadgroup]]) {
    threadgroup float partial_max[32];
    threadgroup float partial_sum[32];
    uint kv_off = (head / (p.n_heads / p.n_kv_heads)) * p.head_dim;
    device const float *qh = q + head * p.head_dim;
    device float *oh = out + head * p.head_dim;
    //> M6 attention-kernel
    //? (1) SIMD-group sg takes positions j = sg, sg + nsg, ...: its lanes add qh[d] * key_j[d] for
    //?     d = lane, lane + 32, ...; simd_sum; lane 0 stores scores[j] = dot * scale. Every lane
    //?     keeps the largest score it saw. key_j = k + j * kv_stride + kv_off (same for v).
    //? (2) m = threadgroup_max(...). Thread tid replaces scores[j] by exp(scores[j] - m) for
    //?     j = tid, tid + ntg, ... and adds them up; total = threadgroup_sum(...). The reductions'
    //?     barriers are also what makes one phase's scores visible to the next phase's threads.
    //? (3) Thread tid computes oh[d] = sum_j scores[j] * value_j[d] / total for d = tid, tid + ntg, ...
    //= for (uint d = tid; d < p.head_dim; d += ntg) LAB_TODO_KERNEL(oh[d]);
    float local_max = -INFINITY;
    for (uint j = sg; j < p.n_keys; j += nsg) {
        device const float *kj = k + (ulong)j * p.kv_stride + kv_off;
        float dot = 0.0f;
        for (uint d = lane; d < p.head_dim; d += 32) dot += qh[d] * kj[d];
        float s = simd_sum(dot) * p.scale;
        if (lane == 0) scores[j] = s;
        local_max = max(local_max, s);
    }
    float m = threadgroup_max(local_max, partial_max, lane, sg, nsg);
    float local_sum = 0.0f;
    for (uint j = tid; j < p.n_keys; j += ntg) {
        float e = exp(scores[j] - m);
        scores[j] = e;
        local_sum += e;
    }
    float total = threadgroup_sum(local_sum, partial_sum, lane, sg, nsg);
    for (uint d = tid; d < p.head_dim; d += ntg) {
        float acc = 0.0f;
        for (uint j = 0; j < p.n_keys; j++) acc += scores[j] * v[(ulong)j * p.kv_stride + kv_off + d];
        oh[d] = acc / total;
    }
    //<
}

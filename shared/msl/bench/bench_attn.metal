// Benchmark kernel: one decode step of attention, one threadgroup per head. The query attends to
// npos cached positions (keys and values in half): scores, softmax, weighted sum of values.
#include <metal_stdlib>
using namespace metal;

constant uint HEAD_DIM = 128;
constant uint MAX_POS = 1024;

// max or sum over the whole threadgroup: SIMD-groups first, then their partial results
static float tg_reduce(float v, bool is_max, threadgroup float *partial, uint lane, uint sg, uint nsg) {
    v = is_max ? simd_max(v) : simd_sum(v);
    if (lane == 0) partial[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    v = lane < nsg ? partial[lane] : (is_max ? -INFINITY : 0.0f);
    v = is_max ? simd_max(v) : simd_sum(v);
    threadgroup_barrier(mem_flags::mem_threadgroup);  // partial is reused by the next call
    return v;
}

kernel void attn_decode(device const float *q [[buffer(0)]],     // [heads][HEAD_DIM]
                        device const half *k [[buffer(1)]],      // [heads][npos][HEAD_DIM]
                        device const half *v [[buffer(2)]],      // [heads][npos][HEAD_DIM]
                        device float *out [[buffer(3)]],         // [heads][HEAD_DIM]
                        constant uint &npos [[buffer(4)]],
                        uint head [[threadgroup_position_in_grid]],
                        uint tid [[thread_index_in_threadgroup]],
                        uint ntg [[threads_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint nsg [[simdgroups_per_threadgroup]]) {
    threadgroup float scores[MAX_POS];
    threadgroup float partial[32];
    device const float *qh = q + head * HEAD_DIM;
    const float scale = rsqrt(float(HEAD_DIM));
    float local_max = -INFINITY;
    for (uint p = tid; p < npos; p += ntg) {
        device const half4 *kp = (device const half4 *)(k + (head * npos + p) * HEAD_DIM);
        device const float4 *q4 = (device const float4 *)qh;
        float s = 0.0f;
        for (uint i = 0; i < HEAD_DIM / 4; i++) s += dot(q4[i], float4(kp[i]));
        scores[p] = s * scale;
        local_max = max(local_max, s * scale);
    }
    float m = tg_reduce(local_max, true, partial, lane, sg, nsg);
    float local_sum = 0.0f;
    for (uint p = tid; p < npos; p += ntg) {
        float e = exp(scores[p] - m);
        scores[p] = e;
        local_sum += e;
    }
    float total = tg_reduce(local_sum, false, partial, lane, sg, nsg);
    for (uint d = tid; d < HEAD_DIM; d += ntg) {
        float acc = 0.0f;
        for (uint p = 0; p < npos; p++) acc += scores[p] * float(v[(head * npos + p) * HEAD_DIM + d]);
        out[head * HEAD_DIM + d] = acc / total;
    }
}

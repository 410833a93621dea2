// Your lab's contract, copied by tools/mkskel from solutions/m7-gpu-engine/gpu_engine.h (do not edit: make skeletons rewrites it).
// The GPU engine (lab M7): the whole model on the GPU, one command buffer per token.
//
// M6 gave one kernel per op; here they are strung into a decode step. The weights are placed in
// GPU buffers once (wrapped in place when the memory allows it, copied otherwise), the KV cache
// lives in two GPU buffers, and a step encodes every dispatch of one token — embedding, every
// layer, the final norm and the lm_head — into ONE batch (gpu.h), runs it, and reads back only
// the logits. Formats: f32, Q8_0, Q4_0 and Q4A matrices (M6's kernels).
//
//   GpuEngine e;
//   if (gpu_engine_init(&e, &model, 512) != 0) ...;     // message printed
//   gpu_engine_forward(&e, prompt, n, logits, false);    // prefill: one token at a time
//   gpu_engine_forward(&e, &next, 1, logits, false);     // decode
//   gpu_engine_free(&e);
//
// A GpuEngine is also a LogitsSource, so generate() runs on it as on M4's KVCache.
#ifndef PS_GPU_ENGINE_H
#define PS_GPU_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generate.h"
#include "gpu.h"
#include "model.h"

// Where one layer's weights are in GPU memory.
typedef struct {
    GpuRef attn_norm, q_norm, k_norm, mlp_norm;   // f32 vectors
    GpuRef wq, wk, wv, wo, w_gate, w_up, w_down;  // matrices in the Model's dtype
} GpuLayer;

// Activations of one token, places in the scratch buffer.
typedef struct {
    GpuRef x, xn, q, att, delta, gate, up, logits;
} GpuScratch;

typedef struct {
    LogitsSource base;    // first member: a GpuEngine is a LogitsSource for generate()
    const Model *model;   // the host model (its memory must outlive the engine: it may be wrapped)
    Gpu *gpu;
    GpuLayer *layers;     // [n_layers]
    GpuRef embed, final_norm, lm_head;
    MtlBuffer *k_cache, *v_cache;   // [n_layers × ctx × kv_dim] f32 each, like KVCache
    GpuScratch s;
    int ctx;              // positions the cache holds
    int n;                // positions filled
    int32_t *ids;         // [ctx] the token at each filled position (prefix reuse, as in M4)
    // Where the memory went (for the chapter's memory plan and the tests).
    size_t weight_bytes_wrapped, weight_bytes_copied, cache_bytes, scratch_bytes;
    double gpu_seconds;   // GPU time of every step so far
    int steps;            // command buffers run
} GpuEngine;

// The most positions a GPU cache may hold: the model's and the attention kernel's limit.
int gpu_engine_max_ctx(const Config *c);

// Opens the GPU, places m's weights, allocates the cache for ctx positions and the scratch.
// Refuses (message, -1) a ctx outside 1..gpu_engine_max_ctx, a matrix format without GPU kernels
// (none left: every format has one), no GPU, or too little memory.
int gpu_engine_init(GpuEngine *e, const Model *m, int ctx);
void gpu_engine_free(GpuEngine *e);

// Runs ids[0..n) at positions e->n .. e->n + n - 1, one command buffer per token, appending them
// to the cache. Writes the logits of every new position to logits [n × vocab] when
// all_positions, else only the last one's [vocab]. Checks every id and the room left first:
// -1 with a message and nothing changed when a token is out of range or they do not fit.
int gpu_engine_forward(GpuEngine *e, const int32_t *ids, int n, float *logits, bool all_positions);

#endif

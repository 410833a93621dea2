// What the decode benchmarks share (bench_peer, bench_depth): the synthetic model in the weight
// format asked for, and a cache brought to a depth of positions without a real prefill of that
// length (minutes on one thread).
#ifndef PS_BENCH_SETUP_H
#define PS_BENCH_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"

// A weight format's name (f32, bf16, or a quantized one) into *f (f32 for bf16 too): false, after
// a message naming `tool`, for a name that is none.
static inline bool bench_weight_format(const char *tool, const char *name, DType *f) {
    *f = DT_F32;
    if (!strcmp(name, "f32") || !strcmp(name, "bf16")) return true;
    if (quant_type_parse(name, f) == 0 && *f != DT_F32) return true;
    fprintf(stderr, "%s: unknown format '%s' (f32, bf16, q8_0, q4_0, q4a)\n", tool, name);
    return false;
}

// The model in dir with its matrices in format `name` (bench_weight_format's f): 0, or -1 when it
// did not load or quantize (message printed). bf16 keeps the checkpoint's bf16 matrices as they
// are (the synthetic model is stored in bf16); f32 and the quantized formats start from the
// matrices widened to f32.
static inline int bench_load_as(Model *m, const char *dir, const char *name, DType f) {
    model_keep_bf16(!strcmp(name, "bf16"));
    if (model_load(m, dir, PS_MAP_READ) != 0) return -1;
    if (f != DT_F32 && quantize_model(m, f, false) != 0) {
        model_free(m);
        return -1;
    }
    return 0;
}

// Tokens of the one real prefill whose rows are copied up to the depth.
#define BENCH_FILL 8

// The cache at `depth` positions: a real prefill of BENCH_FILL tokens (ids[0..]), then copies of
// its rows. Rows below *filled hold finished keys and values already (what a run writes is real
// too): the time of a step does not depend on their values, so they are not made again. 0, or -1
// when the prefill failed (its message printed).
static inline int bench_fill_to_depth(KVCache *kc, int depth, int *filled, const int32_t *ids, float *logits) {
    kc->n = depth <= *filled ? depth : 0;
    if (depth <= *filled) return 0;
    const int real = depth < BENCH_FILL ? depth : BENCH_FILL;
    if (kv_cache_forward(kc, ids, real, logits, false) != 0) return -1;
    const Config *c = &kc->model->cfg;
    const size_t head = kc->row_bytes / (size_t)c->n_kv_heads;   // one head's row, in the cache's format
    char *k = kc->k, *v = kc->v;
    for (int l = 0; l < c->n_layers; l++)
        for (int pos = real; pos < depth; pos++)
            for (int g = 0; g < c->n_kv_heads; g++) {
                const size_t dst = kv_cache_offset(kc, l, pos, g), src = kv_cache_offset(kc, l, pos % real, g);
                memcpy(k + dst, k + src, head);
                memcpy(v + dst, v + src, head);
            }
    for (int pos = real; pos < depth; pos++) kc->ids[pos] = ids[pos % real];
    kc->n = *filled = depth;
    return 0;
}

#endif

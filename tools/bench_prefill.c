// bench_prefill: how fast the engine reads a prompt, per weight format.
//
//     build/tools/bench_prefill [MODEL_DIR] [--tokens N] [--threads N] [--reps N] [--formats LIST] [--cpu] [--products]
//
// The synthetic model with Qwen3-0.6B's shapes (default build/models/qwen3-0.6b-shape, stored in
// bf16), weights read into memory. For each format (LIST: comma-separated of f32, bf16, q8_0, q4_0,
// q4a; default f32,bf16,q8_0,q4_0): a prompt of N tokens (default 128) through the KV cache, the
// logits of its last position only (as a generation does), the median of --reps runs (default 3);
// and, to separate the matrix products from the rest, layer 0's seven products over the N tokens
// at once and one token at a time. f32 is the checkpoint widened at load; bf16 keeps the
// checkpoint's bf16 matrices as they are (model_keep_bf16, M1; computed on by M2's kernels).
// --cpu: CPU time instead of wall time (a shared machine); --products: the products alone. The
// last column checks the kernels that ran against themselves (a prompt's bits = its tokens one by
// one) and against the plain C loops: a machine may run kernels no test of this machine ran.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "forward.h"
#include "kvcache.h"
#include "model.h"
#include "quant.h"
#include "quant_model.h"
#include "simd.h"
#include "thread_pool.h"
#include "timing.h"
#include "xalloc.h"

#define MAX_REPS 15

// --cpu: time by the process's CPU time instead of the wall clock (bench_util.h).

// Median seconds of a prompt of n tokens through a fresh cache.
static double prefill(const Model *m, int n, int reps, float *logits) {
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) exit(1);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919 + 13) % m->cfg.vocab_size);
    double t[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        KVCache kc;
        if (kv_cache_init(&kc, m, n, 0) != 0) exit(1);
        const double start = bench_now();
        if (kv_cache_forward(&kc, ids, n, logits, false) != 0) exit(1);
        t[r] = bench_now() - start;
        kv_cache_free(&kc);
    }
    free(ids);
    return ps_median(t, reps);
}

// Median seconds of layer 0's seven products over n tokens (all at once when together, else one
// token after another). out: room for n x (the widest output); w_down's outputs are left there.
static double products(const Model *m, int n, bool together, int reps, float *out) {
    const Layer *L = &m->layers[0];
    const Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    const int widest = m->cfg.ffn_dim > m->cfg.n_heads * m->cfg.head_dim ? m->cfg.ffn_dim : m->cfg.n_heads * m->cfg.head_dim;
    float *x = malloc_lines((size_t)n * widest * sizeof *x);   // on a cache line, as the engine's activations
    if (!x) exit(1);
    for (size_t i = 0; i < (size_t)n * widest; i++) x[i] = (float)((i * 2654435761u) >> 20 & 1023) / 512.0f - 1.0f;
    double t[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        const double start = bench_now();
        for (int k = 0; k < 7; k++) {
            if (together) matmul(out, x, mats[k], n);
            else
                for (int i = 0; i < n; i++)
                    matmul(out + (size_t)i * mats[k]->rows, x + (size_t)i * mats[k]->cols, mats[k], 1);
        }
        t[r] = bench_now() - start;
    }
    free(x);
    return ps_median(t, reps);
}

// A check of the kernels that ran (this machine's may be ones no test ran on): the prompt's
// products must be near the plain C loops', and for f32 and bf16 have the bits of the same tokens
// one at a time. The 8-bit formats' prompt tiles with AVX-512 VNNI give the plain C's bits, their
// one-token kernels another rounding (book/m5-quantization.md#simd-vnni): there the two may differ.
static const char *verdict(const Model *m, int n, const float *all, const float *each, char *buf, size_t cap) {
    const size_t count = (size_t)n * m->layers[0].w_down.rows;
    const DType dtype = m->layers[0].w_down.dtype;
    const bool same_bits = memcmp(all, each, count * sizeof *all) == 0;
    if (!same_bits && (dtype == DT_F32 || dtype == DT_BF16)) return "MISMATCH: a prompt differs from its tokens one by one";
    float *plain = malloc((size_t)n * m->cfg.ffn_dim * 2 * sizeof *plain);   // room for every product's output
    if (!plain) exit(1);
    const SimdLevel f32 = simd_level(SIMD_F32), quant = simd_level(SIMD_QUANT);
    simd_set_level(SIMD_F32, SIMD_OFF), simd_set_level(SIMD_QUANT, SIMD_OFF);
    products(m, n, true, 1, plain);
    simd_set_level(SIMD_F32, f32), simd_set_level(SIMD_QUANT, quant);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < count; i++) {
        worst = fmax(worst, fabs((double)all[i] - plain[i]));
        scale = fmax(scale, fabs((double)plain[i]));
    }
    free(plain);
    snprintf(buf, cap, "%s: max |diff| %.2g of max |out| %.2g%s", worst <= 1e-3 * scale ? "ok" : "FAR FROM PLAIN C", worst,
             scale, same_bits ? "" : " (one by one: other rounding)");
    return buf;
}

static double product_flops(const Model *m, int n) {
    const Layer *L = &m->layers[0];
    const Mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    double f = 0;
    for (int k = 0; k < 7; k++) f += 2.0 * mats[k]->rows * mats[k]->cols * n;
    return f;
}

int main(int argc, char **argv) {
    const char *dir = "build/models/qwen3-0.6b-shape", *formats = "f32,bf16,q8_0,q4_0";
    int tokens = 128, threads = 1, reps = 3;
    bool products_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--formats") == 0 && i + 1 < argc) formats = argv[++i];
        else if (strcmp(argv[i], "--cpu") == 0) bench_cpu_clock = true;
        else if (strcmp(argv[i], "--products") == 0) products_only = true;
        else if (argv[i][0] != '-') dir = argv[i];
        else return fprintf(stderr, "usage: bench_prefill [MODEL_DIR] [--tokens N] [--threads N] [--reps N] [--formats LIST] [--cpu] [--products]\n"), 2;
    }
    if (tokens < 1 || tokens > 4096 || reps < 1 || reps > MAX_REPS || threads < 1)
        return fprintf(stderr, "bench_prefill: --tokens 1..4096, --reps 1..%d, --threads >= 1\n", MAX_REPS), 2;
    if (bench_model_missing(dir)) return 0;
    if (quant_register() != 0) return 1;
    pool_set_threads(threads);
    printf("%s, weights in memory, %d threads, prompt of %d tokens, median of %d%s; kernels: %s / %s\n", dir,
           threads, tokens, reps, bench_cpu_clock ? " (CPU time)" : "", matmul_simd_name(), quant_simd_enabled() ? quant_simd_name() : "plain C");
    printf("%-6s | %10s %8s | %22s | %22s |\n", "", "prefill", "", "layer 0 products, all", "one token at a time");
    printf("%-6s | %10s %8s | %10s %11s | %10s %11s | %s\n", "format", "ms", "tok/s", "ms", "GFLOP/s", "ms", "GFLOP/s",
           "check (w_down)");
    char list[128];
    snprintf(list, sizeof list, "%s", formats);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        DType type = DT_F32;
        const bool bf16 = strcmp(name, "bf16") == 0;
        if (!bf16 && strcmp(name, "f32") != 0 && quant_type_parse(name, &type) != 0)
            return fprintf(stderr, "bench_prefill: unknown format '%s'\n", name), 2;
        model_keep_bf16(bf16);
        Model m;
        if (model_load(&m, dir, PS_MAP_READ) != 0) return 1;
        model_keep_bf16(false);
        if (type != DT_F32 && quantize_model(&m, type, false) != 0) return 1;
        float *logits = malloc((size_t)m.cfg.vocab_size * sizeof *logits);
        if (!logits) return fprintf(stderr, "bench_prefill: out of memory\n"), 1;
        prefill(&m, tokens < 8 ? tokens : 8, 1, logits);   // warm-up: threads started, pages touched
        const double s = products_only ? 0 : prefill(&m, tokens, reps, logits);
        const size_t outs = (size_t)tokens * m.cfg.ffn_dim * 2;
        float *out_all = malloc(outs * sizeof *out_all), *out_each = malloc(outs * sizeof *out_each);
        if (!out_all || !out_each) return fprintf(stderr, "bench_prefill: out of memory\n"), 1;
        const double all = products(&m, tokens, true, reps, out_all), each = products(&m, tokens, false, reps, out_each);
        const double flops = product_flops(&m, tokens);
        char buf[128];
        printf("%-6s | %10.1f %8.1f | %10.2f %11.2f | %10.2f %11.2f | %s\n", name, s * 1e3, tokens / s, all * 1e3,
               flops / all / 1e9, each * 1e3, flops / each / 1e9, verdict(&m, tokens, out_all, out_each, buf, sizeof buf));
        free(out_all), free(out_each);
        fflush(stdout);
        free(logits);
        model_free(&m);
    }
    return 0;
}

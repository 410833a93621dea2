// protostar inspect MODEL_DIR [--ctx N] [--quick]: what is in a checkpoint, and what running it costs.
// Prints the architecture, every tensor, parameter counts (stored vs logical), bytes per dtype and the
// KV cache size for a context length; then reads every weight once to check that all are finite.
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "config.h"
#include "gguf_model.h"
#include "kv_kernels.h"
#include "mlx_model.h"
#include "model.h"
#include "safetensors.h"
#include "weights.h"

static void human_bytes(char *out, size_t cap, double bytes) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.2f %s" : "%.0f %s", bytes, unit[u]);
}

// 751632384 → "751,632,384"
static void with_commas(char *out, size_t cap, long long n) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", n), o = 0;
    for (int i = 0; i < len && o + 2 < (int)cap; i++) {
        if (i && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void print_summary(const Config *c, const char *dir) {
    printf("model       %s\n", dir);
    printf("arch        Qwen3: %d layers, dim %d, ffn %d, vocab %d, max context %d\n", c->n_layers, c->dim,
           c->ffn_dim, c->vocab_size, c->max_seq_len);
    printf("attention   %d query heads, %d kv heads (GQA %d:1), head_dim %d%s\n", c->n_heads, c->n_kv_heads,
           c->n_heads / c->n_kv_heads, c->head_dim,
           c->head_dim * c->n_heads != c->dim ? " (not dim/heads: q is wider than the residual stream)" : "");
    printf("rope theta  %g   rms eps %g   tied embeddings %s\n", c->rope_theta, c->norm_eps,
           c->tie_embeddings ? "yes" : "no");
}

static void print_tensors(const SafeTensors *st) {
    printf("\n%-52s %-5s %-16s %12s\n", "tensor", "dtype", "shape", "bytes");
    for (int i = 0; i < st->n_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        char shape[64] = "[";
        for (int d = 0; d < t->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
        printf("%-52s %-5s %-16s %12zu\n", t->name, dtype_name(t->dtype), shape, t->nbytes);
    }
}

static void print_sizes(const SafeTensors *st, const Config *c, long long ctx) {
    ParamCount p = count_params(st, c);
    char a[32], b[32], h[32];
    with_commas(a, sizeof a, p.stored);
    with_commas(b, sizeof b, p.logical);
    printf("\nparameters  %s stored, %s logical%s\n", a, b,
           p.stored != p.logical ? " (lm_head.weight is a stored copy of the tied embedding)" : "");
    const DType kinds[] = {DT_F32, DT_BF16, DT_F16, DT_U8};   // M5: U8 = quantized matrices
    for (int k = 0; k < 4; k++) {
        size_t bytes = 0;
        int n = 0;
        for (int i = 0; i < st->n_tensors; i++)
            if (st->tensors[i].dtype == kinds[k]) {
                bytes += st->tensors[i].nbytes;
                n++;
            }
        if (!n) continue;
        human_bytes(h, sizeof h, (double)bytes);
        printf("memory      %-5s %d tensors, %s on disk\n", mat_type_name(kinds[k]), n, h);
    }
    human_bytes(h, sizeof h, (double)p.logical * 4);
    printf("memory      as f32 in the engine (M1/M2): %s\n", h);
    // Each layer caches one key and one value row per kv head per position, in every registered
    // cache format whose blocks divide head_dim (--kv NAME).
    printf("kv cache    2 x %d layers x %d kv heads x %lld ctx x a row of %d values =", c->n_layers, c->n_kv_heads,
           ctx, c->head_dim);
    const char *sep = "";
    for (KVType type = 0; type < KV_MAX_FORMATS; type++) {
        const KVFormat *f = kv_format(type);
        const size_t row = f ? kv_row_bytes(type, c->head_dim) : 0;
        if (!row) continue;
        human_bytes(a, sizeof a, 2.0 * c->n_layers * c->n_kv_heads * (double)row * (double)ctx);
        printf("%s %s (%s)", sep, a, f->name);
        sep = ",";
    }
    printf("\n");
}

// Reads every element once: a NaN or inf in a checkpoint would otherwise surface as NaN logits.
static int check_finite(const SafeTensors *st) {
    size_t total = 0, done = 0, bad_tensors = 0;
    for (int i = 0; i < st->n_tensors; i++) total += st->tensors[i].nbytes;
    float buf[4096];
    for (int i = 0; i < st->n_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        size_t nonfinite = 0, esize = dtype_size(t->dtype);
        if (t->dtype == DT_U8) {   // M5: quantized blocks; quantize refused non-finite weights
            done += t->nbytes;
            continue;
        }
        for (size_t at = 0; at < t->numel; at += 4096) {
            size_t n = t->numel - at < 4096 ? t->numel - at : 4096;
            convert_to_f32(buf, (const unsigned char *)t->data + at * esize, t->dtype, n);
            for (size_t k = 0; k < n; k++) nonfinite += !(buf[k] - buf[k] == 0);   // false for NaN and ±inf
            done += n * esize;
            if ((at / 4096) % 256 == 0) progress_bar("checking", done, total);
        }
        if (nonfinite) fprintf(stderr, "%s: tensor '%s' has %zu NaN/inf values\n", st->paths[t->file], t->name, nonfinite);
        bad_tensors += nonfinite != 0;
    }
    progress_bar("checking", total, total);
    printf("data        %s\n", bad_tensors ? "NaN/inf found (see above)" : "every value finite");
    return bad_tensors ? -1 : 0;
}

// A GGUF file or an mlx_lm folder: loaded whole by its reader (which checks every tensor), then
// what each matrix became in memory (book/appendix-formats.md).
static int inspect_loaded(const char *path, bool gguf) {
    Model m;
    if ((gguf ? gguf_model_load(&m, path) : mlx_model_load(&m, path)) != 0) return 1;
    print_summary(&m.cfg, path);
    enum { MAX_KINDS = 16 };
    DType kinds[MAX_KINDS];
    int count[MAX_KINDS] = {0}, n_kinds = 0;
    double bytes[MAX_KINDS] = {0};
    for (int i = -2; i < 7 * m.cfg.n_layers; i++) {
        const Layer *l = i >= 0 ? &m.layers[i / 7] : NULL;
        const Mat *all[7] = {l ? &l->wq : NULL, l ? &l->wk : NULL, l ? &l->wv : NULL, l ? &l->wo : NULL,
                             l ? &l->w_gate : NULL, l ? &l->w_up : NULL, l ? &l->w_down : NULL};
        const Mat *w = i == -2 ? &m.embed : i == -1 ? (m.lm_head_is_embed ? NULL : &m.lm_head) : all[i % 7];
        if (!w) continue;
        int k = 0;
        while (k < n_kinds && kinds[k] != w->dtype) k++;
        if (k == n_kinds && n_kinds < MAX_KINDS) kinds[n_kinds++] = w->dtype;
        if (k == MAX_KINDS) continue;
        const MatFormat *f = mat_format_of(w->dtype);
        count[k]++;
        bytes[k] += f ? (double)w->rows * (w->cols / f->block_len) * f->block_bytes : (double)w->rows * w->cols * 4;
    }
    printf("\n");
    for (int k = 0; k < n_kinds; k++) {
        char h[32];
        human_bytes(h, sizeof h, bytes[k]);
        printf("matrices    %-5s %d, %s in memory\n", mat_type_name(kinds[k]), count[k], h);
    }
    model_free(&m);
    return 0;
}

static int usage(FILE *out) {
    fprintf(out, "usage: protostar inspect MODEL_DIR [--ctx N] [--quick]\n"
                 "       protostar inspect FILE.gguf | MLX_DIR   (what each matrix becomes when loaded)\n"
                 "  --ctx N   context length for the KV-cache estimate (default: the model's maximum)\n"
                 "  --quick   skip reading every weight to check it is finite\n");
    return cli_usage_status(out);
}

int cmd_inspect(int argc, char **argv) {
    const char *dir = NULL;
    long long ctx = -1;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) return usage(stdout);
        if (strcmp(argv[i], "--ctx") == 0 && i + 1 < argc) {
            if (!cli_parse_int("inspect: --ctx", argv[++i], 1, INT_MAX, &ctx)) return 2;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "inspect: unexpected argument '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    if (!dir) return usage(stderr);
    if (gguf_path_is_gguf(dir) || mlx_path_is_mlx(dir)) return inspect_loaded(dir, gguf_path_is_gguf(dir));
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    Config c;
    if (config_load(&c, path) != 0) return 1;
    SafeTensors st;
    if (st_open_dir(&st, dir, PS_MAP_MMAP) != 0) return 1;
    print_summary(&c, dir);
    print_tensors(&st);
    print_sizes(&st, &c, ctx > 0 ? ctx : c.max_seq_len);
    int rc = quick ? 0 : check_finite(&st);
    st_close(&st);
    return rc ? 1 : 0;
}

// Writing a quantized model directory (`protostar quantize`): each tensor quantized row by row
// from the checkpoint into OUT_DIR/model.safetensors, and the directory published complete or not
// at all. The format is described in quant_model.h; quantizing a loaded model in memory, and the
// formats' registration, are in quant_model.c.
#include "quant_model.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weights.h"


typedef struct {
    const StTensor *src;
    bool quantize;     // else written as F32
    bool skip;         // lm_head identical to the embedding: the loader shares it
    size_t bytes;
} Plan;

// snprintf for paths: false (message printed) when the result does not fit in cap bytes.
__attribute__((format(printf, 3, 4))) static bool make_path(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap) return true;
    fprintf(stderr, "quantize: a path is too long (%s...)\n", out);
    return false;
}

// Closes f after its data reached the disk (fflush, then fsync): a rename that publishes the file
// must not be able to land before its contents. 0, or -1 (errno set).
static int close_synced(FILE *f) {
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
    int saved = errno;
    if (fclose(f) != 0) rc = -1;
    else if (rc) errno = saved;
    return rc;
}

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in) return errno == ENOENT ? 0 : (fprintf(stderr, "%s: %s\n", from, strerror(errno)), -1);
    FILE *out = fopen(to, "wb");
    if (!out) {
        fprintf(stderr, "%s: %s\n", to, strerror(errno));
        fclose(in);
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (ferror(in) || close_synced(out) != 0) rc = -1;
    fclose(in);
    if (rc) fprintf(stderr, "%s: write failed (%s)\n", to, strerror(errno));
    return rc;
}

// The JSON header: metadata, then each tensor with its offsets; padded with spaces to a multiple
// of 8 bytes so the data section starts aligned.
static char *make_header(const Plan *plan, int n, DType type, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "protostar.quantization", quant_type_name(type));
    cJSON_AddStringToObject(meta, "protostar.layout", "quantized matrices are U8 [rows, blocks per row, "
                            "bytes per block] (34: Q8_0, 18: Q4_0, 36: Q4A); see protostar's solutions/m5-quantization/quant.h");
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        if (plan[i].skip) continue;
        const StTensor *t = plan[i].src;
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", plan[i].quantize ? "U8" : "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        if (plan[i].quantize) {
            int len = quant_block_len(type);
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[0]));
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)(t->shape[1] / len)));
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)quant_block_bytes(type)));
        } else {
            for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        }
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + plan[i].bytes)));
        offset += plan[i].bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t n_json = strlen(json), padded = (n_json + 7) / 8 * 8;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + n_json, ' ', padded - n_json);
    out[padded] = '\0';
    *len = padded;
    return out;
}

// Writes one tensor's data: quantized row by row, or widened to f32.
static int write_tensor(FILE *f, const Plan *p, DType type, float *row, uint8_t *qrow, const char *in_dir,
                        size_t *done, size_t total) {
    const StTensor *t = p->src;
    size_t el = dtype_size(t->dtype);
    int64_t rows = p->quantize ? t->shape[0] : 1;
    size_t cols = p->quantize ? (size_t)t->shape[1] : t->numel;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = (const uint8_t *)t->data + (size_t)r * cols * el;
        if (convert_to_f32(row, src, t->dtype, cols) != 0) return -1;
        for (size_t c = 0; c < cols; c++)
            if (!isfinite(row[c])) {
                fprintf(stderr, "%s: tensor '%s' has a non-finite value (%g) at row %lld, column %zu; "
                                "refusing to quantize it\n", in_dir, t->name, (double)row[c], (long long)r, c);
                return -1;
            }
        size_t n_out = p->quantize ? quant_row_bytes(type, (int)cols) : cols * sizeof(float);
        if (p->quantize) quantize_row(type, row, qrow, (int)cols);
        if (fwrite(p->quantize ? (void *)qrow : (void *)row, 1, n_out, f) != n_out) {
            fprintf(stderr, "write failed: %s\n", strerror(errno));
            return -1;
        }
        *done += cols * el;
        progress_bar("quantizing", *done, total);
    }
    return 0;
}

static bool same_bytes(const StTensor *a, const StTensor *b) {
    return a && b && a->dtype == b->dtype && a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
}

// Writes the quantized model's files into dir (an empty directory), each synced to disk.
static int write_model_files(const char *in_dir, const char *dir, DType type, bool keep_embedding) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", in_dir);
    Config cfg;
    if (config_load(&cfg, path) != 0) return -1;
    SafeTensors st;
    if (st_open_dir(&st, in_dir, PS_MAP_MMAP) != 0) return -1;

    Plan *plan = calloc((size_t)st.n_tensors + 1, sizeof *plan);
    size_t total = 0, max_cols = 1, out_bytes = 0;
    int rc = -1, n_quantized = 0;
    const StTensor *embed = st_find(&st, "model.embed_tokens.weight");
    for (int i = 0; i < st.n_tensors && plan; i++) {
        const StTensor *t = &st.tensors[i];
        if (dtype_size(t->dtype) == 0 || t->dtype == DT_U8) {
            fprintf(stderr, "%s: tensor '%s' is %s: this model is already quantized\n", in_dir, t->name,
                    dtype_name(t->dtype));
            goto done;
        }
        bool is_embedding = strcmp(t->name, "model.embed_tokens.weight") == 0 || strcmp(t->name, "lm_head.weight") == 0;
        plan[i].src = t;
        plan[i].skip = strcmp(t->name, "lm_head.weight") == 0 && cfg.tie_embeddings && same_bytes(t, embed);
        plan[i].quantize = t->ndim == 2 && t->shape[1] <= INT_MAX && quant_policy_applies(type, (int)t->shape[1]) &&
                           !(keep_embedding && is_embedding);
        plan[i].bytes = plan[i].quantize ? quant_row_bytes(type, (int)t->shape[1]) * (size_t)t->shape[0]
                                         : t->numel * sizeof(float);
        if (plan[i].skip) continue;
        n_quantized += plan[i].quantize;
        total += t->nbytes;
        out_bytes += plan[i].bytes;
        size_t cols = plan[i].quantize ? (size_t)t->shape[1] : t->numel;
        if (cols > max_cols) max_cols = cols;
    }
    float *row = plan ? malloc(max_cols * sizeof *row) : NULL;
    uint8_t *qrow = plan ? malloc(max_cols * 2) : NULL;   // >= quant_row_bytes for every format
    size_t header_len = 0;
    char *header = row && qrow ? make_header(plan, st.n_tensors, type, &header_len) : NULL;
    if (!header) {
        fprintf(stderr, "%s: out of memory\n", in_dir);
        goto cleanup;
    }
    FILE *f = make_path(path, sizeof path, "%s/model.safetensors", dir) ? fopen(path, "wb") : NULL;
    if (!f) {
        fprintf(stderr, "%s: cannot write: %s\n", path, strerror(errno));
        goto cleanup;
    }
    uint8_t len_le[8];
    for (int k = 0; k < 8; k++) len_le[k] = (uint8_t)((uint64_t)header_len >> (8 * k));
    bool ok = fwrite(len_le, 1, 8, f) == 8 && fwrite(header, 1, header_len, f) == header_len;
    size_t done_bytes = 0;
    for (int i = 0; i < st.n_tensors && ok; i++)
        if (!plan[i].skip && write_tensor(f, &plan[i], type, row, qrow, in_dir, &done_bytes, total) != 0) ok = false;
    if (close_synced(f) != 0 && ok) {
        fprintf(stderr, "%s: not written: %s\n", path, strerror(errno));
        ok = false;
    }
    if (!ok) goto cleanup;
    static const char *copied[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"};
    rc = 0;
    for (size_t k = 0; k < sizeof copied / sizeof copied[0] && rc == 0; k++) {
        char from[PATH_MAX], to[PATH_MAX];
        bool ok = make_path(from, sizeof from, "%s/%s", in_dir, copied[k]) &&
                  make_path(to, sizeof to, "%s/%s", dir, copied[k]);
        rc = ok ? copy_file(from, to) : -1;
    }
    if (rc == 0)
        fprintf(stderr, "%s: %d matrices in %s, %.1f MiB -> %.1f MiB\n", in_dir, n_quantized, quant_type_name(type),
                total / 1048576.0, (out_bytes + header_len + 8) / 1048576.0);
cleanup:
    free(header);
    free(row);
    free(qrow);
done:
    free(plan);
    st_close(&st);
    return rc;
}

// ---- the output directory: complete or absent ----
// The files go to a sibling OUT.partial-PID, are synced and loaded back, and only then renamed to
// OUT: a kill at any moment leaves OUT as it was or as it is meant to be, never half of each.

// Removes dir and everything under it (files and directories only). 0, or -1 after a message.
static int remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : (fprintf(stderr, "%s: %s\n", dir, strerror(errno)), -1);
    int rc = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[PATH_MAX];
        struct stat sb;
        if (!make_path(path, sizeof path, "%s/%s", dir, e->d_name)) rc = -1;
        else if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) rc = remove_tree(path);
        else if (unlink(path) != 0) rc = -1;
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) != 0) rc = -1;
    if (rc) fprintf(stderr, "%s: cannot remove: %s\n", dir, strerror(errno));
    return rc;
}

// What dir holds: -1 if it does not exist, 0 if empty, 1 if it is a non-empty directory, 2 if it
// is not a directory. *entry names one thing it holds, for the message.
static int dir_state(const char *dir, char *entry, size_t cap) {
    struct stat sb;
    if (stat(dir, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) return 2;
    DIR *d = opendir(dir);
    if (!d) return 1;
    int state = 0;
    const struct dirent *e;
    while (state == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(entry, cap, "%s", e->d_name);
            state = 1;
        }
    closedir(d);
    return state;
}

// Splits path into its parent directory and its last name (POSIX dirname and basename).
static void split_path(const char *path, char *parent, char *name, size_t cap) {
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s", path);
    snprintf(b, sizeof b, "%s", path);
    snprintf(parent, cap, "%s", dirname(a));
    snprintf(name, cap, "%s", basename(b));
}

// Removes the siblings NAME.partial-PID that a killed run of ours left behind (PID no longer
// running): after a swap the old directory waits there too, so they are never the current model.
static void remove_stale_siblings(const char *parent, const char *name) {
    DIR *d = opendir(parent);
    if (!d) return;
    size_t len = strlen(name);
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *rest = e->d_name + len;
        if (strncmp(e->d_name, name, len) != 0 || strncmp(rest, ".partial-", 9) != 0) continue;
        rest += 9;
        char *end;
        long pid = strtol(rest, &end, 10);
        // kill(pid, 0) fails with ESRCH only when no such process runs (else: another quantize at work).
        if (end == rest || *end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[PATH_MAX];
        if (!make_path(path, sizeof path, "%s/%s", parent, e->d_name)) continue;
        fprintf(stderr, "%s: removing what an interrupted quantize left\n", path);
        remove_tree(path);
    }
    closedir(d);
}

// fsync of a directory: makes the renames inside it durable.
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY);
    if (fd >= 0 && fsync(fd) + close(fd) != 0) fprintf(stderr, "%s: fsync failed\n", dir);
}

// Exchanges the names of two existing directories in one atomic step (Linux renameat2, macOS
// renamex_np); where neither exists, --force is refused rather than done in two steps.
static int swap_dirs(const char *a, const char *b) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
#elif defined(__APPLE__)
    return renamex_np(a, b, RENAME_SWAP);
#else
    errno = ENOTSUP;
    return -1;
#endif
}

// The written directory must load before it takes OUT's name.
static int check_loads(const char *dir) {
    Model m;
    if (model_load(&m, dir, PS_MAP_MMAP) != 0) {
        fprintf(stderr, "quantize: the written model does not load (see above); nothing was replaced\n");
        return -1;
    }
    model_free(&m);
    return 0;
}

int quant_model_write_opts(const char *in_dir, const char *out_dir, const QuantWriteOptions *opt) {
    char parent[PATH_MAX], name[PATH_MAX], partial[PATH_MAX], entry[256] = "";
    char real_in[PATH_MAX], real_out[PATH_MAX];
    if (realpath(in_dir, real_in) && realpath(out_dir, real_out) && strcmp(real_in, real_out) == 0) {
        fprintf(stderr, "%s: the output directory is the input directory; choose another\n", out_dir);
        return -1;
    }
    int state = dir_state(out_dir, entry, sizeof entry);
    if (state == 2 || (state == 1 && !opt->replace)) {
        fprintf(stderr, "%s: already exists%s%s%s; refusing to replace it (--force replaces it)\n", out_dir,
                state == 2 ? " and is not a directory" : " and holds '", state == 2 ? "" : entry,
                state == 2 ? "" : "'");
        return -1;
    }
    split_path(out_dir, parent, name, sizeof name);
    remove_stale_siblings(parent, name);
    if (!make_path(partial, sizeof partial, "%s/%s.partial-%ld", parent, name, (long)getpid())) return -1;
    if (mkdir(partial, 0755) != 0) {
        fprintf(stderr, "%s: cannot create directory: %s\n", partial, strerror(errno));
        return -1;
    }
    if (write_model_files(in_dir, partial, opt->type, opt->keep_embedding) != 0 || check_loads(partial) != 0) {
        remove_tree(partial);
        return -1;
    }
    sync_dir(partial);
    // An empty OUT is simply replaced by rename; a full one (--force) is swapped, then removed.
    int rc = state == 1 ? swap_dirs(partial, out_dir) : rename(partial, out_dir);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot rename %s to it: %s\n", out_dir, partial, strerror(errno));
        remove_tree(partial);
        return -1;
    }
    sync_dir(parent);
    if (state == 1) remove_tree(partial);   // the old directory, now under the partial name
    return 0;
}

int quant_model_write(const char *in_dir, const char *out_dir, DType type, bool keep_embedding) {
    QuantWriteOptions opt = {.type = type, .keep_embedding = keep_embedding};
    return quant_model_write_opts(in_dir, out_dir, &opt);
}

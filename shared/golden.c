// Reader for golden files (.psg): a short text header, then the tensors' raw little-endian bytes.
// They are written only by tools/golden.py under the oracle scripts; see DEVELOPERS.md.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mapfile.h"
#include "xalloc.h"

#define GOLDEN_VERSION 1
#define HINT "HINT: golden files come from the oracle; regenerate with `make golden` (see golden/README.md)"

static size_t dtype_size(PsDtype d) { return d == PS_F32 || d == PS_I32 ? 4 : d == PS_F16 ? 2 : 1; }

static int parse_dtype(const char *s, PsDtype *out) {
    static const struct { const char *name; PsDtype d; } table[] = {
        {"f32", PS_F32}, {"f16", PS_F16}, {"i32", PS_I32}, {"u8", PS_U8}};
    for (size_t i = 0; i < PS_COUNT(table); i++)
        if (strcmp(s, table[i].name) == 0) return *out = table[i].d, 0;
    return -1;
}

// Copies the next header line (without '\n') into line; returns the offset after it, or 0 at EOF.
static size_t next_line(const unsigned char *data, size_t size, size_t pos, char *line, size_t cap) {
    size_t i = pos;
    while (i < size && data[i] != '\n') i++;
    if (i >= size) return 0;
    size_t len = i - pos < cap - 1 ? i - pos : cap - 1;
    memcpy(line, data + pos, len);
    line[len] = '\0';
    return i + 1;
}

static int parse_tensor_line(const char *line, PsTensor *t) {
    char dtype[16];
    int used = 0;
    memset(t, 0, sizeof *t);
    if (sscanf(line, "tensor %127s %15s %d%n", t->name, dtype, &t->ndim, &used) != 3) return -1;
    if (parse_dtype(dtype, &t->dtype) != 0 || t->ndim < 0 || t->ndim > 8) return -1;
    t->count = 1;
    const char *p = line + used;
    for (int d = 0; d < t->ndim; d++) {
        int n = 0;
        long long dim;
        if (sscanf(p, "%lld%n", &dim, &n) != 1 || dim < 0 || dim > (1LL << 40)) return -1;
        t->dims[d] = dim;
        t->count *= (size_t)dim;
        p += n;
    }
    return 0;
}

PsGolden *ps_golden_open(const char *path) {
    PsFile f;
    if (ps_file_open(&f, path, PS_MAP_READ) != 0) PS_FAIL("cannot open golden file %s\n  " HINT, path);
    PsGolden *g = xcalloc(1, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", path);
    char line[1024];
    size_t pos = next_line(f.data, f.size, 0, line, sizeof line);
    int version = 0;
    if (!pos || sscanf(line, "PSGOLD %d", &version) != 1)
        PS_FAIL("%s: not a golden file (no 'PSGOLD' magic)\n  " HINT, path);
    if (version != GOLDEN_VERSION)
        PS_FAIL("%s: golden format version %d, this harness reads %d\n  " HINT, path, version, GOLDEN_VERSION);
    size_t cap = 0;
    for (;;) {
        pos = next_line(f.data, f.size, pos, line, sizeof line);
        if (!pos) PS_FAIL("%s: header has no 'end' line (truncated?)\n  " HINT, path);
        if (strcmp(line, "end") == 0) break;
        if (strncmp(line, "generator ", 10) == 0) {
            snprintf(g->generator, sizeof g->generator, "%s", line + 10);
            continue;
        }
        if (g->n == cap) {
            cap = cap ? cap * 2 : 16;
            g->tensors = xrealloc(g->tensors, cap * sizeof *g->tensors);
        }
        if (parse_tensor_line(line, &g->tensors[g->n]) != 0)
            PS_FAIL("%s: bad header line '%s'\n  " HINT, path, line);
        g->n++;
    }
    size_t need = 0;
    for (size_t i = 0; i < g->n; i++) need += g->tensors[i].count * dtype_size(g->tensors[i].dtype);
    if (f.size - pos != need)
        PS_FAIL("%s: header describes %zu data bytes but the file holds %zu\n  " HINT, path, need, f.size - pos);
    // Each tensor gets an 8-byte aligned home so tests may read it as float/int32 directly.
    size_t mem = 0;
    for (size_t i = 0; i < g->n; i++) mem += (g->tensors[i].count * dtype_size(g->tensors[i].dtype) + 7) & ~(size_t)7;
    g->blob = xmalloc(mem);
    size_t src = pos, dst = 0;
    for (size_t i = 0; i < g->n; i++) {
        size_t bytes = g->tensors[i].count * dtype_size(g->tensors[i].dtype);
        memcpy(g->blob + dst, f.data + src, bytes);
        g->tensors[i].data = g->blob + dst;
        src += bytes;
        dst += (bytes + 7) & ~(size_t)7;
    }
    ps_file_close(&f);
    return g;
}

const PsTensor *ps_golden_find(const PsGolden *g, const char *name) {
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

const PsTensor *ps_golden_get(const PsGolden *g, const char *name) {
    const PsTensor *t = ps_golden_find(g, name);
    if (!t) PS_FAIL("%s: no tensor '%s' (generator: %s)\n  " HINT, g->path, name, g->generator);
    return t;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float *ps_tensor_f32(const PsTensor *t) {
    float *out = xmalloc(t->count * sizeof *out);
    if (t->dtype == PS_F32) {
        memcpy(out, t->data, t->count * sizeof *out);
    } else if (t->dtype == PS_F16) {
        const unsigned char *p = t->data;
        for (size_t i = 0; i < t->count; i++) out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    } else {
        PS_FAIL("golden tensor '%s' is not floating point", t->name);
    }
    return out;
}

void ps_golden_close(PsGolden *g) {
    if (!g) return;
    free(g->tensors);
    free(g->blob);
    free(g);
}

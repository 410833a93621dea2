// mtl.h on the MSL CPU emulator (Linux, or macOS when built with MTL_EMULATOR). Buffers are plain
// memory; a command buffer records its dispatches and runs them in order at commit, as the GPU
// would, on shared/msl's runtime. Kernels come from the registry that each translated .metal
// file fills before main() (see shared/msl/msl.mk).
#include "mtl.h"
#include "mtl_contract.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msl/msl_rt.h"

struct MtlContext { int unused; };
struct MtlBuffer { void *ptr; size_t size; int owned; };
struct MtlLibrary { MtlContext *ctx; char path[512]; };
struct MtlPipeline { const MslKernel *kernel; };
struct MtlCmd {
    MslDispatch enc;       // the encoder's current bindings (they persist across dispatches)
    MslDispatch *list;     // encoded dispatches
    int n, cap;
    void **copies;          // set_bytes data, owned by the command buffer
    int ncopies;
    int committed, failed;
    char err[1024];
    double seconds;
};

// Each backend is one self-contained file and only one is linked, so this small error setter is
// written in both (shared/mtl_emu.c, shared/mtl_macos.c).
static _Thread_local char last_error[1024];

const char *mtl_error(void) { return last_error; }

__attribute__((format(printf, 1, 2))) static void set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

// An encoding mistake is remembered and reported by mtl_commit/mtl_wait, like Metal's
// validation layer would, so that encoding calls need no error checks of their own.
__attribute__((format(printf, 2, 3))) static void cmd_fail(MtlCmd *c, const char *fmt, ...) {
    if (c->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->failed = 1;
}

MtlContext *mtl_context_new(void) {
    MtlContext *ctx = calloc(1, sizeof *ctx);
    if (!ctx) set_error("mtl_context_new: out of memory");
    return ctx;
}
void mtl_context_free(MtlContext *ctx) { free(ctx); }
const char *mtl_device_name(const MtlContext *ctx) {
    (void)ctx;
    return "MSL CPU emulator";
}

MtlBuffer *mtl_buffer_new(MtlContext *ctx, size_t bytes) {
    (void)ctx;
    MtlBuffer *b = calloc(1, sizeof *b);
    void *p = NULL;
    if (b && posix_memalign(&p, 16384, bytes ? bytes : 1) == 0) {  // page-aligned, as on Metal
        memset(p, 0, bytes);
        *b = (MtlBuffer){p, bytes, 1};
        return b;
    }
    free(b);
    set_error("mtl_buffer_new: cannot allocate %zu bytes", bytes);
    return NULL;
}

MtlBuffer *mtl_buffer_wrap(MtlContext *ctx, void *ptr, size_t bytes) {
    (void)ctx;
    size_t page = (size_t)getpagesize();
    if (!ptr || (uintptr_t)ptr % page || bytes == 0 || bytes % page) {
        set_error("mtl_buffer_wrap: pointer %p and length %zu must both be multiples of the page "
                  "size (%zu); round the mapping up", ptr, bytes, page);
        return NULL;
    }
    MtlBuffer *b = calloc(1, sizeof *b);
    if (!b) set_error("mtl_buffer_wrap: out of memory");
    else *b = (MtlBuffer){ptr, bytes, 0};
    return b;
}

void *mtl_buffer_ptr(MtlBuffer *b) { return b->ptr; }
size_t mtl_buffer_size(const MtlBuffer *b) { return b->size; }
void mtl_buffer_free(MtlBuffer *b) {
    if (!b) return;
    if (b->owned) free(b->ptr);
    free(b);
}

MtlLibrary *mtl_library_new(MtlContext *ctx, const char *metal_path) {
    while (!strncmp(metal_path, "./", 2)) metal_path += 2;
    FILE *f = fopen(metal_path, "r");
    if (!f) {
        set_error("mtl_library_new: cannot open %s (paths are relative to the repository root)",
                  metal_path);
        return NULL;
    }
    fclose(f);
    if (!msl_source_known(metal_path)) {
        set_error("mtl_library_new: %s is not linked into this program. On the emulator each "
                  ".metal file is translated at build time: link build/msl/%.*s.o (see "
                  "shared/msl/msl.mk)", metal_path, (int)strlen(metal_path) - 6, metal_path);
        return NULL;
    }
    MtlLibrary *lib = calloc(1, sizeof *lib);
    if (!lib) {
        set_error("mtl_library_new: out of memory");
        return NULL;
    }
    lib->ctx = ctx;
    snprintf(lib->path, sizeof lib->path, "%s", metal_path);
    return lib;
}
void mtl_library_free(MtlLibrary *lib) { free(lib); }

MtlPipeline *mtl_pipeline_new(MtlLibrary *lib, const char *kernel_name) {
    const MslKernel *k = msl_find_kernel(lib->path, kernel_name);
    if (!k) {
        set_error("mtl_pipeline_new: no kernel function '%s' in %s", kernel_name, lib->path);
        return NULL;
    }
    MtlPipeline *p = calloc(1, sizeof *p);
    if (!p) set_error("mtl_pipeline_new: out of memory");
    else p->kernel = k;
    return p;
}
void mtl_pipeline_free(MtlPipeline *p) { free(p); }
int mtl_pipeline_max_threads(const MtlPipeline *p) { (void)p; return MSL_MAX_TG_THREADS; }
int mtl_pipeline_simd_width(const MtlPipeline *p) { (void)p; return MSL_SIMD_WIDTH; }

MtlCmd *mtl_cmd_new(MtlContext *ctx) {
    (void)ctx;
    MtlCmd *c = calloc(1, sizeof *c);
    if (!c) set_error("mtl_cmd_new: out of memory");
    return c;
}

void mtl_set_pipeline(MtlCmd *c, MtlPipeline *p) {
    char msg[256];
    if (mtl_contract_pipeline(!p, msg, sizeof msg)) cmd_fail(c, "%s", msg);
    c->enc.kernel = p ? p->kernel : NULL;
}

static int check_index(MtlCmd *c, const char *what, int index) {
    if (c->committed) cmd_fail(c, "%s: command buffer already committed", what);
    else if (index < 0 || index >= MSL_MAX_BUFFERS)
        cmd_fail(c, "%s: index %d is not in 0..%d", what, index, MSL_MAX_BUFFERS - 1);
    else return 1;
    return 0;
}

void mtl_set_buffer(MtlCmd *c, int index, MtlBuffer *b, size_t offset) {
    if (!check_index(c, "mtl_set_buffer", index)) return;
    char msg[256];
    if (mtl_contract_buffer(index, !b, b ? b->size : 0, offset, msg, sizeof msg)) {
        cmd_fail(c, "%s", msg);
        return;
    }
    c->enc.buffers[index] = (char *)b->ptr + offset;
    c->enc.buffer_len[index] = b->size - offset;  // for the checking build's bounds
}

void mtl_set_bytes(MtlCmd *c, int index, const void *data, size_t len) {
    if (!check_index(c, "mtl_set_bytes", index)) return;
    char msg[256];
    if (mtl_contract_bytes(index, data, len, msg, sizeof msg)) {
        cmd_fail(c, "%s", msg);
        return;
    }
    void **grown = realloc(c->copies, sizeof *c->copies * (size_t)(c->ncopies + 1));
    void *copy = malloc(len ? len : 1);
    if (!grown || !copy) {
        if (grown) c->copies = grown;
        free(copy);
        cmd_fail(c, "mtl_set_bytes: out of memory");
        return;
    }
    c->copies = grown;
    memcpy(copy, data, len);
    c->copies[c->ncopies++] = copy;
    c->enc.buffers[index] = copy;
    c->enc.buffer_len[index] = len;
}

void mtl_set_threadgroup_memory(MtlCmd *c, int index, size_t len) {
    if (check_index(c, "mtl_set_threadgroup_memory", index)) c->enc.tg_mem[index] = len;
}

static void add_dispatch(MtlCmd *c, const unsigned long g[3], const unsigned long t[3],
                         const unsigned long grid[3]) {
    const char *bad = c->committed ? "command buffer already committed"
                      : !c->enc.kernel ? "no pipeline set (mtl_set_pipeline)" : NULL;
    for (int k = 0; k < 3 && !bad; k++)
        if (g[k] == 0 || t[k] == 0 || g[k] > UINT32_MAX || t[k] > MSL_MAX_TG_THREADS)
            bad = "sizes must be >= 1 (1 for unused dimensions), threads per threadgroup <= 1024";
    if (!bad && c->n == c->cap) {
        MslDispatch *l = realloc(c->list, sizeof *l * (size_t)(c->cap ? 2 * c->cap : 8));
        if (l) c->list = l, c->cap = c->cap ? 2 * c->cap : 8;
        else bad = "out of memory";
    }
    if (bad) {
        cmd_fail(c, "dispatch of '%s': %s", c->enc.kernel ? c->enc.kernel->name : "?", bad);
        return;
    }
    MslDispatch *d = &c->list[c->n++];
    *d = c->enc;
    for (int k = 0; k < 3; k++) {
        d->groups[k] = (uint32_t)g[k];
        d->tg_size[k] = (uint32_t)t[k];
        d->grid[k] = grid ? (uint32_t)grid[k] : 0;
    }
}

void mtl_dispatch_groups(MtlCmd *c, MtlSize groups, MtlSize threads) {
    unsigned long g[3] = {groups.width, groups.height, groups.depth};
    unsigned long t[3] = {threads.width, threads.height, threads.depth};
    add_dispatch(c, g, t, NULL);
}

void mtl_dispatch_threads(MtlCmd *c, MtlSize grid, MtlSize threads) {
    unsigned long n[3] = {grid.width, grid.height, grid.depth};
    unsigned long t[3] = {threads.width, threads.height, threads.depth}, g[3];
    for (int k = 0; k < 3; k++) g[k] = t[k] ? (n[k] + t[k] - 1) / t[k] : 0;
    add_dispatch(c, g, t, n);
}

int mtl_commit(MtlCmd *c) {
    if (c->committed) cmd_fail(c, "mtl_commit: command buffer committed twice");
    c->committed = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < c->n && !c->failed; i++)
        if (msl_run(&c->list[i], c->err, sizeof c->err)) c->failed = 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (c->failed) set_error("%s", c->err);
    return c->failed ? -1 : 0;
}

int mtl_wait(MtlCmd *c) {
    if (!c->committed) {
        set_error("mtl_wait: command buffer was never committed");
        return -1;
    }
    if (c->failed) set_error("%s", c->err);
    return c->failed ? -1 : 0;
}

int mtl_commit_wait(MtlCmd *c) { return mtl_commit(c) ? -1 : mtl_wait(c); }
double mtl_cmd_gpu_seconds(const MtlCmd *c) { return c->seconds; }

void mtl_cmd_free(MtlCmd *c) {
    if (!c) return;
    for (int i = 0; i < c->ncopies; i++) free(c->copies[i]);
    free(c->copies);
    free(c->list);
    free(c);
}

// The GPU side of the engine, part 1: the device, one pipeline per kernel, batches of ops, and
// the check that turns a kernel the learner has not written yet into a LAB_TODO.
// The ops themselves (bindings and dispatch sizes) are in gpu_ops.c.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"
#include "lab_todo.h"
#include "stb_ds.h"
#include "xalloc.h"

// Which .metal file (in gpu_kernel_dir()) defines each kernel.
static const struct {
    const char *file, *name;
} KERNELS[K_COUNT] = {
    [K_RMSNORM] = {"rmsnorm.metal", "rmsnorm_f32"},
    [K_MATVEC_F32] = {"matvec.metal", "matvec_f32"},
    [K_MATVEC_Q8_0] = {"matvec.metal", "matvec_q8_0"},
    [K_MATVEC_Q4_0] = {"matvec.metal", "matvec_q4_0"},
    [K_MATVEC_Q4A] = {"matvec.metal", "matvec_q4a"},
    [K_ROPE] = {"rope.metal", "rope_f32"},
    [K_ATTENTION] = {"attention.metal", "attention_f32"},
    [K_SWIGLU] = {"elementwise.metal", "swiglu_f32"},
    [K_ADD] = {"elementwise.metal", "add_f32"},
    [K_EMBED_F32] = {"embed.metal", "embed_f32"},
    [K_EMBED_Q8_0] = {"embed.metal", "embed_q8_0"},
    [K_EMBED_Q4_0] = {"embed.metal", "embed_q4_0"},
    [K_EMBED_Q4A] = {"embed.metal", "embed_q4a"},
};

struct Gpu {
    MtlContext *ctx;
    MtlLibrary *libs[K_COUNT];   // one per file; libs[k] is kernel k's (shared, freed once)
    MtlPipeline *pipes[K_COUNT];
    MtlBuffer **buffers;   // stb_ds array: every buffer of gpu_alloc not yet released
    char error[1024];
};

Gpu *gpu_new(void) {
    Gpu *g = xcalloc(1, sizeof *g);
    g->ctx = mtl_context_new();
    if (!g->ctx) goto fail;
    for (int k = 0; k < K_COUNT; k++) {
        // compile each file once: reuse the library of an earlier kernel from the same file
        for (int e = 0; e < k && !g->libs[k]; e++)
            if (strcmp(KERNELS[e].file, KERNELS[k].file) == 0) g->libs[k] = g->libs[e];
        if (!g->libs[k]) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", gpu_kernel_dir(), KERNELS[k].file);
            if (!(g->libs[k] = mtl_library_new(g->ctx, path))) goto fail;
        }
        if (!(g->pipes[k] = mtl_pipeline_new(g->libs[k], KERNELS[k].name))) goto fail;
    }
    return g;
fail:
    fprintf(stderr, "gpu: %s\n", mtl_error());
    gpu_free(g);
    return NULL;
}

void gpu_free(Gpu *g) {
    if (!g) return;
    for (ptrdiff_t i = 0; i < arrlen(g->buffers); i++) mtl_buffer_free(g->buffers[i]);
    arrfree(g->buffers);
    for (int k = 0; k < K_COUNT; k++) {
        mtl_pipeline_free(g->pipes[k]);
        bool first = true;   // free a library at its first kernel only
        for (int e = 0; e < k; e++) first = first && g->libs[e] != g->libs[k];
        if (first) mtl_library_free(g->libs[k]);
    }
    if (g->ctx) mtl_context_free(g->ctx);
    free(g);
}

MtlContext *gpu_context(Gpu *g) { return g->ctx; }
const char *gpu_error(const Gpu *g) { return g->error; }

MtlBuffer *gpu_alloc(Gpu *g, size_t bytes) {
    MtlBuffer *b = mtl_buffer_new(g->ctx, bytes ? bytes : 1);
    if (!b) snprintf(g->error, sizeof g->error, "%s", mtl_error());
    else arrput(g->buffers, b);
    return b;
}

void gpu_release(Gpu *g, MtlBuffer *b) {
    for (ptrdiff_t i = 0; i < arrlen(g->buffers); i++) {
        if (g->buffers[i] != b) continue;
        arrdelswap(g->buffers, i);
        mtl_buffer_free(b);
        return;
    }
}

MtlBuffer *gpu_wrap(Gpu *g, void *ptr, size_t bytes) {
    MtlBuffer *b = mtl_buffer_wrap(g->ctx, ptr, bytes);
    if (!b) snprintf(g->error, sizeof g->error, "%s", mtl_error());
    else arrput(g->buffers, b);
    return b;
}

MtlBuffer *gpu_upload(Gpu *g, const void *data, size_t bytes) {
    MtlBuffer *b = gpu_alloc(g, bytes);
    if (b && bytes) memcpy(mtl_buffer_ptr(b), data, bytes);   // shared memory: the GPU sees it
    return b;
}

GpuBatch *gpu_begin(Gpu *g) {
    GpuBatch *b = xcalloc(1, sizeof *b);
    b->g = g;
    if (!(b->cmd = mtl_cmd_new(g->ctx))) {
        free(b);
        return NULL;
    }
    return b;
}

void gpu_use(GpuBatch *b, GpuKernel k) {
    b->current = k;
    mtl_set_pipeline(b->cmd, b->g->pipes[k]);
}
int gpu_max_threads(GpuBatch *b, GpuKernel k) { return mtl_pipeline_max_threads(b->g->pipes[k]); }
void gpu_bind(GpuBatch *b, int index, GpuRef r) { mtl_set_buffer(b->cmd, index, r.buf, r.offset); }
bool gpu_failed(const GpuBatch *b) { return b->error[0] != '\0'; }

void gpu_output(GpuBatch *b, const char *task, GpuRef out, size_t n) {
    GpuOutput o = {task, b->current, out, n};
    arrput(b->outputs, o);
}

void gpu_fail(GpuBatch *b, const char *fmt, ...) {
    if (gpu_failed(b)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
}

// The line of `// TODO(M6 task)` in a kernel's .metal file (0 if not found), for the message.
static int todo_line(const char *path, const char *task) {
    char want[160], line[1024];
    snprintf(want, sizeof want, "TODO(M6 %s)", task);
    FILE *f = fopen(path, "r");
    for (int n = 1; f && fgets(line, sizeof line, f); n++) {
        if (strstr(line, want)) {
            fclose(f);
            return n;
        }
    }
    if (f) fclose(f);
    return 0;
}

//[ todo-marker
// A kernel cannot stop the program, so a TODO kernel stores a marker instead, and the host
// looks for it once the GPU is done. Outputs are checked in the order the ops ran: a marker
// that flowed from a TODO kernel into later ops is reported at the first op that made it.
static void check_todo_markers(const GpuBatch *b) {
    for (ptrdiff_t i = 0; i < arrlen(b->outputs); i++) {
        const GpuOutput *o = &b->outputs[i];
        const uint32_t *bits = (const uint32_t *)((const char *)mtl_buffer_ptr(o->out.buf) + o->out.offset);
        for (size_t j = 0; j < o->n; j++) {
            if (bits[j] != GPU_TODO_BITS) continue;
            char anchor[160], path[512];
            snprintf(anchor, sizeof anchor, "book/m6-metal.md#%s", o->task);
            snprintf(path, sizeof path, "%s/%s", gpu_kernel_dir(), KERNELS[o->kernel].file);
            lab_todo("M6", o->task, anchor, path, todo_line(path, o->task));   // LAB_TODO, at the kernel
        }
    }
}
//]

int gpu_run(GpuBatch *b, double *gpu_seconds) {
    Gpu *g = b->g;
    int rc = 0;
    if (gpu_failed(b)) {   // nothing runs: a bad argument would make a kernel read out of bounds
        snprintf(g->error, sizeof g->error, "gpu: %s", b->error);
        rc = -1;
    } else if (mtl_commit_wait(b->cmd) != 0) {
        snprintf(g->error, sizeof g->error, "gpu: %s", mtl_error());
        rc = -1;
    } else {
        check_todo_markers(b);
        if (gpu_seconds) *gpu_seconds = mtl_cmd_gpu_seconds(b->cmd);
    }
    mtl_cmd_free(b->cmd);
    arrfree(b->outputs);
    free(b);
    return rc;
}

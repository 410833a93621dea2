// matmul: where nearly all of the forward pass's time goes (every weight is read once per call: once
// per token in a decode, once for all of a prompt's tokens in a prefill).
// The rows of W are split between threads; each thread computes whole dot products, so the result
// is bit-identical whatever the thread count. (The engine runs the same loop with SIMD,
// matmul_simd.c, when the SIMD policy allows it.) The threads are started once and reused by every
// product (shared/thread_pool.c): starting threads costs tens of microseconds, as much as a small
// matrix-vector product.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "forward.h"
#include "scratch.h"
#include "thread_pool.h"

// Kernels for matrices that are not f32 (forward.h, MatKernels).
#define MAX_KERNELS 8
static const void *kernels[MAX_KERNELS];   // MatKernels (void: add_once fills both tables)
static int n_kernels;

// Adds k to a table of MAX_KERNELS (once: registering twice is fine); -1 with a message if full.
static int add_once(const void **table, int *n, const void *k, const char *who) {
    for (int i = 0; i < *n; i++)
        if (table[i] == k) return 0;
    if (*n == MAX_KERNELS) {
        fprintf(stderr, "%s: table full\n", who);
        return -1;
    }
    table[(*n)++] = k;
    return 0;
}

int matmul_register(const MatKernels *k) { return add_once(kernels, &n_kernels, k, "matmul_register"); }

// The kernels for w's dtype. A dtype nobody registered is a broken invariant (the loader makes
// only matrices of registered formats, and computing on without kernels would be silently wrong):
// a message, and abort() so that a debugger stops here.
const MatKernels *matmul_kernels(const Mat *w) {
    for (int i = 0; i < n_kernels; i++)
        if (((const MatKernels *)kernels[i])->dtype == w->dtype) return kernels[i];
    if (w->dtype == DT_BF16) return &MATMUL_BF16;   // this lab's own (matmul_bf16.c)
    fprintf(stderr, "matmul: no kernels registered for %s matrices\n", mat_type_name(w->dtype));
    abort();
}

// out[t][r] for rows r in [row_begin, row_end) of an f32 matrix.
static void matmul_f32_rows(float *out, const float *x, const Mat *w, int n_tokens, int row_begin, int row_end) {
    const float *W = w->data;
    int rows = w->rows, cols = w->cols;
    //> M2 matmul
    //? For each row r in [row_begin, row_end) and each token t: out[t*rows + r] is the dot product of
    //? row r of W (W + r*cols) with token t's input (x + t*cols). Accumulate in a float.
    //? Loop over rows outside and tokens inside: then a prompt of many tokens reads each row of W
    //? from memory once, while it sits in cache, instead of once per token.
    for (int r = row_begin; r < row_end; r++) {
        const float *wr = W + (size_t)r * cols;
        for (int t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * cols;
            float sum = 0.0f;
            for (int c = 0; c < cols; c++) sum += wr[c] * xt[c];
            out[(size_t)t * rows + r] = sum;
        }
    }
    //<
}

// Rows [r0, r1) of an f32 product: with SIMD (solutions/m2-forward/matmul_simd.c, the default)
// when this CPU has a kernel for it; your loop otherwise, and in this lab's tests.
static void f32_rows(float *out, const void *prep, const float *x, const Mat *w, int n_tokens, int r0, int r1) {
    (void)prep;   // f32 products read x as it is
    if (!matmul_simd_rows(out, x, w->data, w->rows, w->cols, n_tokens, r0, r1))
        matmul_f32_rows(out, x, w, n_tokens, r0, r1);
}

// ---- products that share their input (forward.h, matmul_many) ----
// A decode step's products are small (2 to 12 MiB of weights each), and a round of the pool costs
// more than its wake-up: every thread waits for the slowest, and on a machine whose cores are
// shared (a VM) one of them is often late. q, k and v read the same input, so one round can take
// all three: the rows of the matrices are numbered one after another and split between the
// threads in units of 16 rows of one matrix (a unit never spans two matrices, and starts at a
// multiple of 16 of its own matrix's rows, as matmul_gemm_part's slices do).
#define UNIT_ROWS 16

static const void *row_kernels[MAX_KERNELS];   // MatRowKernels
static int n_row_kernels;

int matmul_rows_register(const MatRowKernels *k) {
    return add_once(row_kernels, &n_row_kernels, k, "matmul_rows_register");
}

static const MatRowKernels F32_ROWS = {DT_F32, NULL, NULL, f32_rows};

// The row kernels for w's dtype, or NULL when its format registered none.
static const MatRowKernels *row_kernels_for(const Mat *w) {
    for (int i = 0; i < n_row_kernels; i++)
        if (((const MatRowKernels *)row_kernels[i])->dtype == w->dtype) return row_kernels[i];
    if (w->dtype == DT_F32) return &F32_ROWS;
    if (w->dtype == DT_BF16 && matmul_kernels(w) == &MATMUL_BF16) return &MATMUL_BF16_ROWS;
    return NULL;
}

typedef struct {
    float *out;
    const Mat *w;
    const MatRowKernels *k;
    const void *prep;   // its dtype's prepared activations, or NULL
    int unit0;          // its first unit in the numbering of all the group's units
} ManyProduct;

typedef struct {
    ManyProduct p[MATMUL_MANY_MAX];
    int count, n_units, n_tokens;
    const float *x;
    int chunk;          // units per run taken from `next`; 0: one equal run per thread
    atomic_int next;    // the first unit no thread has taken yet
} ManyJob;

// Units [u0, u1) of the group: for each product they cover, its rows among them.
static void many_units(const ManyJob *j, int u0, int u1) {
    for (int i = 0; i < j->count && u0 < u1; i++) {
        const ManyProduct *p = &j->p[i];
        const int units = (p->w->rows + UNIT_ROWS - 1) / UNIT_ROWS;
        if (u0 >= p->unit0 + units) continue;
        const int end = u1 < p->unit0 + units ? u1 : p->unit0 + units;
        const int r0 = (u0 - p->unit0) * UNIT_ROWS, r1 = end - p->unit0 == units ? p->w->rows : (end - p->unit0) * UNIT_ROWS;
        p->k->rows(p->out, p->prep, j->x, p->w, j->n_tokens, r0, r1);
        u0 = end;
    }
}

// How the units are dealt out: in runs of about a quarter of a thread's share, each run taken by
// the next thread that is free (a shared counter). A thread that is late (its vCPU lent to a
// neighbour, or its core busy with another program) then leaves its runs to the others instead of
// making them all wait for its equal share. The same rows either way, so the same bits.
// $PS_MATMUL_CHUNKS=K (read once) sets K runs per thread instead of 4; 0: one equal run per thread
// (measured against each other in book/m2-forward.md#matmul-many).
#define CHUNKS_PER_THREAD 4
static int chunks_per_thread(void) {
    static atomic_int chunks = -1;   // -1: not read yet
    int k = atomic_load_explicit(&chunks, memory_order_relaxed);
    if (k < 0) {
        const char *env = getenv("PS_MATMUL_CHUNKS");
        const long v = env && *env ? atol(env) : CHUNKS_PER_THREAD;
        k = v >= 0 && v <= 64 ? (int)v : CHUNKS_PER_THREAD;
        atomic_store_explicit(&chunks, k, memory_order_relaxed);
    }
    return k;
}

// One thread's share: an equal run of the units, or (j->chunk > 0) runs of j->chunk units taken
// from the shared counter until none are left.
static void many_part(void *arg, int part, int n_parts) {
    ManyJob *j = arg;
    if (j->chunk == 0 || n_parts == 1) {
        many_units(j, (int)((long long)j->n_units * part / n_parts), (int)((long long)j->n_units * (part + 1) / n_parts));
        return;
    }
    for (;;) {
        const int u0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
        if (u0 >= j->n_units) return;
        many_units(j, u0, u0 + j->chunk < j->n_units ? u0 + j->chunk : j->n_units);
    }
}

typedef struct {
    const MatRowKernels *k;
    void *prep;
    const float *x;
    DType dtype;
    int cols, n_tokens;
} PrepJob;

static void prep_part(void *arg, int part, int n_parts) {
    const PrepJob *j = arg;
    j->k->prepare(j->prep, j->x, j->dtype, j->cols, j->n_tokens, (int)((long long)j->n_tokens * part / n_parts),
                  (int)((long long)j->n_tokens * (part + 1) / n_parts));
}

// Preparing activations (rounding them to 8 bits, say) costs about as much per value as this many
// of pool_parts_for()'s multiply-adds: a prompt's tokens are prepared on the pool's threads.
#define PREP_WORK_PER_VALUE 16

void matmul_many(float *const outs[], const Mat *const ws[], int count, const float *x, int n_tokens) {
    if (count < 1 || count > MATMUL_MANY_MAX) {
        fprintf(stderr, "matmul_many: %d products (1 .. %d)\n", count, MATMUL_MANY_MAX);
        abort();
    }
    if (n_tokens < 1) return;   // no token: no output to write
    const int cols = ws[0]->cols;
    ManyJob job = {.n_tokens = n_tokens, .x = x};
    static _Thread_local Scratch preps[MATMUL_MANY_MAX];   // one per dtype of the group that prepares
    double work = 0;
    for (int i = 0; i < count; i++) {
        if (ws[i]->cols != cols) {   // a broken invariant: each product would read x wrongly
            fprintf(stderr, "matmul_many: matrices of %d and %d columns share an input\n", cols, ws[i]->cols);
            abort();
        }
        const MatRowKernels *k = row_kernels_for(ws[i]);
        if (!k) {   // a format without row kernels: a product of its own
            matmul(outs[i], x, ws[i], n_tokens);
            continue;
        }
        ManyProduct *p = &job.p[job.count];
        *p = (ManyProduct){outs[i], ws[i], k, NULL, job.n_units};
        for (int e = 0; e < job.count && k->prep_bytes; e++)   // an earlier matrix of this dtype prepared x
            if (job.p[e].w->dtype == ws[i]->dtype) p->prep = job.p[e].prep;
        if (k->prep_bytes && !p->prep) {
            const size_t bytes = k->prep_bytes(ws[i]->dtype, cols, n_tokens);
            if (bytes) {
                PrepJob pj = {k, scratch_reserve(&preps[job.count], bytes), x, ws[i]->dtype, cols, n_tokens};
                pool_run(prep_part, &pj, pool_parts_for((double)PREP_WORK_PER_VALUE * cols * n_tokens, n_tokens));
                p->prep = pj.prep;
            }
        }
        job.n_units += (ws[i]->rows + UNIT_ROWS - 1) / UNIT_ROWS;
        work += (double)ws[i]->rows * cols * n_tokens;
        job.count++;
    }
    if (!job.count) return;
    const int parts = pool_parts_for(work, job.n_units), k = chunks_per_thread();
    if (k) job.chunk = job.n_units / (pool_threads() * k) > 0 ? job.n_units / (pool_threads() * k) : 1;
    pool_run(many_part, &job, parts);
}

// One product is a group of one: its rows are dealt to the pool's threads in units of 16 rows, as
// above, each row whole on one thread (so the thread count changes no bit). A format registered
// with MatKernels alone (no MatRowKernels) computes its whole products itself.
//[ matmul-threads
void matmul(float *out, const float *x, const Mat *w, int n_tokens) {
    if (row_kernels_for(w)) {
        matmul_many(&out, &w, 1, x, n_tokens);
        return;
    }
    const MatKernels *k = matmul_kernels(w);
    if (!k->matmul) {   // a broken invariant: a format must give one way or the other
        fprintf(stderr, "matmul: %s matrices have neither row kernels nor a product\n", mat_type_name(w->dtype));
        abort();
    }
    k->matmul(out, x, w, n_tokens);
}
//]

// bench_quant: decode speed of the matrix-vector products of Qwen3-0.6B in each weight format,
// next to the DRAM roofline (make bench; book/m5-quantization.md, "Measured speed").
//
// Decoding one token multiplies every weight matrix by one vector: 28 layers x 7 matrices plus the
// output projection (151936 x 1024), 596M weights. Each weight is used once, so the time is at
// least (bytes of weights) / (memory bandwidth): the roofline. This program
//   1. measures the bandwidth with a streaming read of a 1 GiB buffer (1 and 2 threads);
//   2. builds those matrices (random, in memory as the engine reads them: ps_alloc_big, not
//      mmap'd from a file) in f32, bf16, Q8_0, Q4_0 and Q4A;
//   3. times one decode step's products per format, 1 and 2 threads, and prints the medians.
// The f32/bf16 kernels here are written like the quantized ones (vectorisable, same thread pool)
// so that the comparison is about bytes, not about kernel quality.
//
//     bench_quant [--layers N] [--reps N]      (defaults: 28 layers, 7 repetitions)
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include "thread_pool.h"
#include "mapfile.h"
#include "quant.h"
#include "quant_model.h"   // quant_register: quant_matmul runs through M2's matmul
#include "timing.h"

#define DIM 1024
#define Q_DIM 2048     // 16 heads x 128
#define KV_DIM 1024    // 8 heads x 128
#define FFN 3072
#define VOCAB 151936

typedef struct { int rows, cols; } Shape;
static const Shape LAYER[7] = {{Q_DIM, DIM}, {KV_DIM, DIM}, {KV_DIM, DIM}, {DIM, Q_DIM},
                               {FFN, DIM}, {FFN, DIM}, {DIM, FFN}};   // q k v o gate up down
static const Shape HEAD = {VOCAB, DIM};

typedef enum { F_F32, F_BF16, F_Q8_0, F_Q4_0, F_Q4A, N_FORMATS } Format;
static const char *FORMAT_NAME[N_FORMATS] = {"f32", "bf16", "q8_0", "q4_0", "q4a"};
static const DType FORMAT_DTYPE[N_FORMATS] = {DT_F32, DT_BF16, DT_Q8_0, DT_Q4_0, DT_Q4A};

static size_t row_bytes(Format f, int cols) {
    if (f == F_F32) return (size_t)cols * 4;
    if (f == F_BF16) return (size_t)cols * 2;
    return quant_row_bytes(FORMAT_DTYPE[f], cols);
}

// p, or a message and exit when the allocation of n bytes failed.
static void *or_die(void *p, size_t n) {
    if (!p) {
        fprintf(stderr, "bench_quant: out of memory (%zu MiB); try --layers 4\n", n >> 20);
        exit(1);
    }
    return p;
}
static void *alloc_or_die(size_t n) { return or_die(malloc(n), n); }
// Weights as the engine holds them when read into memory (ps_alloc_big: 2 MiB pages on Linux).
static uint8_t *alloc_weights(size_t n) { return or_die(ps_alloc_big(n), n); }

// ---- bandwidth: every thread sums its slice of a big buffer ----

typedef struct {
    const uint64_t *data;
    size_t n;
    uint64_t sums[16];
} Stream;

// How far ahead (bytes) the streaming read and the float kernels ask for the data they will read
// next, 0 for not at all. Which is faster depends on the CPU: on one thread of an Intel Xeon, the
// hardware prefetcher alone reached 10.6 GB/s and software prefetching ~16; on Zen 4 software
// prefetching slowed a plain stream down (27 -> 22 GB/s). So both are measured and the faster kept,
// for the roofline as for the f32 and bf16 peers. (quant_avx512.c always prefetches: its loops do
// enough work between loads that it pays on both.)
#define AHEAD 8192
static size_t ahead;

// Sums of the 8-byte words of [lo, hi), 8 at a time (one cache line a step).
static uint64_t stream_sum(const uint64_t *data, size_t lo, size_t hi) {
    uint64_t acc[8] = {0};   // integer sums vectorise; 8 chains hide the add latency
    for (size_t i = lo; i + 8 <= hi; i += 8) {
        if (ahead) __builtin_prefetch((const char *)(data + i) + ahead);
        for (int k = 0; k < 8; k++) acc[k] += data[i + k];
    }
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The same with 32-byte loads: the baseline (SSE2) loop above issues twice the loads, and on one
// core that alone kept it below what the AVX2 float kernels read (22 against 28 GB/s on Zen 4).
__attribute__((target("avx2"))) static uint64_t stream_sum_avx2(const uint64_t *data, size_t lo, size_t hi) {
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (size_t i = lo; i + 8 <= hi; i += 8) {
        if (ahead) _mm_prefetch((const char *)(data + i) + ahead, _MM_HINT_T0);
        a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)(data + i)));
        b = _mm256_add_epi64(b, _mm256_loadu_si256((const __m256i *)(data + i + 4)));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(a, b));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif
static bool cpu_avx2;   // set in main: this CPU has AVX2 and FMA
static bool use_avx2;   // and quant_simd_enabled(): the float kernels use them (the stream always)

static void stream_part(void *arg, int part, int n_parts) {
    Stream *s = arg;
    size_t lo = s->n * part / n_parts, hi = s->n * (part + 1) / n_parts;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (cpu_avx2) {   // even with PS_SIMD=0: the roofline is the machine's, not the kernels'
        s->sums[part] = stream_sum_avx2(s->data, lo, hi);
        return;
    }
#endif
    s->sums[part] = stream_sum(s->data, lo, hi);
}

static double measure_bandwidth(int reps) {
    size_t bytes = (size_t)1 << 30;
    Stream s = {.data = NULL, .n = bytes / 8};
    uint64_t *buf = (uint64_t *)alloc_weights(bytes);   // the same pages as the weights
    for (size_t i = 0; i < s.n; i++) buf[i] = i;   // touch every page before timing
    s.data = buf;
    // The fastest run, with or without prefetching, not the median: the roofline is a bound, and
    // a run slowed by a neighbour on a shared machine would lower it below what the kernels reach.
    double best = 1e30;
    for (int with = 0; with < 2; with++) {
        ahead = with ? AHEAD : 0;
        for (int r = 0; r < reps; r++) {
            double t0 = ps_now();
            pool_run(stream_part, &s, pool_threads());
            double t = ps_now() - t0;
            best = t < best ? t : best;
        }
    }
    ps_free_big(buf, bytes);
    return (double)bytes / best;
}

// ---- the float kernels (the quantized ones are quant_matmul's) ----

static float bf16_value(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Eight partial sums: the compiler may keep them in vector registers without reordering any sum.
static float dot_f32(const float *w, const float *x, int n) {
    float acc[8] = {0};
    for (int c = 0; c < n; c += 8)
        for (int k = 0; k < 8; k++) acc[k] += w[c + k] * x[c + k];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
static float dot_bf16(const uint16_t *w, const float *x, int n) {
    float acc[8] = {0};
    for (int c = 0; c < n; c += 8)
        for (int k = 0; k < 8; k++) acc[k] += bf16_value(w[c + k]) * x[c + k];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// The quantized products get AVX2 where the CPU has it (solutions/m5-quantization/quant_simd.c); so do the float
// ones here, or the comparison would be between kernels rather than between bytes. (The arm64
// compilers already vectorise the loops above with NEON, the baseline there.)
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_FLOAT 1
__attribute__((target("avx2,fma"))) static float hsum_avx2(__m256 a, __m256 b) {
    __m256 v = _mm256_add_ps(a, b);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
__attribute__((target("avx2,fma"))) static float dot_f32_avx2(const float *w, const float *x, int n) {
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (int c = 0; c < n; c += 16) {   // 64 bytes of weights a step
        if (ahead) _mm_prefetch((const char *)(w + c) + ahead, _MM_HINT_T0);
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c), a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(w + c + 8), _mm256_loadu_ps(x + c + 8), b);
    }
    return hsum_avx2(a, b);
}
// bf16 -> f32 is a 16-bit shift: widen 8 halves to 32 bits and move them up.
__attribute__((target("avx2,fma"))) static float dot_bf16_avx2(const uint16_t *w, const float *x, int n) {
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (int c = 0; c < n; c += 16) {   // 32 bytes of weights a step
        if (ahead && c % 32 == 0) _mm_prefetch((const char *)(w + c) + ahead, _MM_HINT_T0);
        __m256i w0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + c)));
        __m256i w1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + c + 8)));
        a = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w0, 16)), _mm256_loadu_ps(x + c), a);
        b = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w1, 16)), _mm256_loadu_ps(x + c + 8), b);
    }
    return hsum_avx2(a, b);
}
#endif

typedef struct {
    Format f;
    const uint8_t *w;
    const float *x;
    float *out;
    int rows, cols;
} FloatJob;

static void float_rows(void *arg, int part, int n_parts) {
    const FloatJob *j = arg;
    int r0 = (int)((long long)j->rows * part / n_parts), r1 = (int)((long long)j->rows * (part + 1) / n_parts);
    size_t rb = row_bytes(j->f, j->cols);
    for (int r = r0; r < r1; r++) {
        const void *w = j->w + (size_t)r * rb;
#if HAVE_AVX2_FLOAT
        if (use_avx2) {
            j->out[r] = j->f == F_F32 ? dot_f32_avx2(w, j->x, j->cols) : dot_bf16_avx2(w, j->x, j->cols);
            continue;
        }
#endif
        j->out[r] = j->f == F_F32 ? dot_f32(w, j->x, j->cols) : dot_bf16(w, j->x, j->cols);
    }
}

static void matvec(Format f, const uint8_t *w, const float *x, float *out, Shape s) {
    if (f == F_F32 || f == F_BF16) {
        FloatJob job = {f, w, x, out, s.rows, s.cols};
        pool_run(float_rows, &job, pool_threads());
    } else {
        quant_matmul(out, x, w, FORMAT_DTYPE[f], s.rows, s.cols, 1);
    }
}

// ---- the model's matrices in one format ----

typedef struct {
    uint8_t *layer[7];   // all layers of matrix k, one after another
    uint8_t *head;
    size_t layer_bytes[7], head_bytes;
    size_t bytes;        // weight bytes read per token
} Weights;


// Source values: one layer and the head in f32. Every layer gets the same values (in its own
// memory): the bytes moved are what matters, not their values.
typedef struct { float *layer[7]; float *head; } Source;

static void encode(Format f, const float *src, uint8_t *dst, Shape s) {
    size_t rb = row_bytes(f, s.cols);
    for (int r = 0; r < s.rows; r++) {
        const float *x = src + (size_t)r * s.cols;
        uint8_t *y = dst + (size_t)r * rb;
        if (f == F_F32) memcpy(y, x, rb);
        else if (f == F_BF16)
            for (int c = 0; c < s.cols; c++) {   // round to nearest even
                uint32_t bits;
                memcpy(&bits, &x[c], 4);
                uint16_t h = (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
                memcpy(y + 2 * c, &h, 2);
            }
        else quantize_row(FORMAT_DTYPE[f], x, y, s.cols);
    }
}

static Weights build(Format f, const Source *src, int n_layers) {
    Weights w = {.bytes = 0};
    for (int k = 0; k < 7; k++) {
        size_t one = row_bytes(f, LAYER[k].cols) * LAYER[k].rows;
        w.layer[k] = alloc_weights(one * n_layers);
        w.layer_bytes[k] = one * n_layers;
        encode(f, src->layer[k], w.layer[k], LAYER[k]);
        for (int l = 1; l < n_layers; l++) memcpy(w.layer[k] + one * l, w.layer[k], one);
        w.bytes += one * n_layers;
    }
    size_t head = row_bytes(f, HEAD.cols) * HEAD.rows;
    w.head = alloc_weights(head);
    w.head_bytes = head;
    encode(f, src->head, w.head, HEAD);
    w.bytes += head;
    return w;
}

static void release(Weights *w) {
    for (int k = 0; k < 7; k++) ps_free_big(w->layer[k], w->layer_bytes[k]);
    ps_free_big(w->head, w->head_bytes);
}

// One decode step's products: every layer's seven matrices, then the head.
static double decode_step(Format f, const Weights *w, int n_layers, const float *x, float *out) {
    double t0 = ps_now();
    for (int l = 0; l < n_layers; l++)
        for (int k = 0; k < 7; k++) {
            size_t one = row_bytes(f, LAYER[k].cols) * LAYER[k].rows;
            matvec(f, w->layer[k] + one * l, x, out, LAYER[k]);
        }
    matvec(f, w->head, x, out, HEAD);
    return ps_now() - t0;
}

static float gaussian(uint64_t *s) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
        u[i] = ((double)((*s * 0x2545F4914F6CDD1Dull) >> 11) + 0.5) * 0x1p-53;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

int main(int argc, char **argv) {
    int n_layers = 28, reps = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc) n_layers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_quant [--layers N] [--reps N]\n");
            return 2;
        }
    }
    if (n_layers < 1 || n_layers > 28 || reps < 1 || reps > 32) {
        fprintf(stderr, "bench_quant: --layers must be 1..28 and --reps 1..32\n");
        return 2;
    }
    if (quant_register() != 0) return 1;
    const int threads[2] = {1, 2};
#if HAVE_AVX2_FLOAT
    __builtin_cpu_init();
    cpu_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    use_avx2 = quant_simd_enabled() && cpu_avx2;
#endif
    double bw[2];
    for (int t = 0; t < 2; t++) {
        pool_set_threads(threads[t]);
        bw[t] = measure_bandwidth(reps);
    }
    long long weights = (long long)HEAD.rows * HEAD.cols;
    for (int k = 0; k < 7; k++) weights += (long long)n_layers * LAYER[k].rows * LAYER[k].cols;
    printf("Qwen3-0.6B decode products: %d layers x 7 matrices + head %dx%d = %.1fM weights\n",
           n_layers, HEAD.rows, HEAD.cols, weights / 1e6);
    printf("memory bandwidth (streaming read of 1 GiB, fastest of %d): 1 thread %.1f GB/s, "
           "2 threads %.1f GB/s\n", reps, bw[0] / 1e9, bw[1] / 1e9);
    printf("kernels: %s (PS_SIMD=0 runs the plain C of every format, PS_SIMD=exact the bit-exact SIMD)\n\n",
           quant_simd_enabled() ? quant_simd_name() : "plain C");

    uint64_t seed = 0x5eed;
    Source src;
    for (int k = 0; k < 7; k++) {
        size_t n = (size_t)LAYER[k].rows * LAYER[k].cols;
        src.layer[k] = alloc_or_die(n * sizeof(float));
        for (size_t i = 0; i < n; i++) src.layer[k][i] = 0.02f * gaussian(&seed);
    }
    src.head = alloc_or_die((size_t)HEAD.rows * HEAD.cols * sizeof(float));
    for (size_t i = 0; i < (size_t)HEAD.rows * HEAD.cols; i++) src.head[i] = 0.02f * gaussian(&seed);
    float *x = alloc_or_die(FFN * sizeof *x), *out = alloc_or_die(VOCAB * sizeof *out);
    for (int i = 0; i < FFN; i++) x[i] = gaussian(&seed);

    printf("%-6s %7s %7s | %-42s | %-42s\n", "", "bytes/", "MB per", "1 thread", "2 threads");
    printf("%-6s %7s %7s |", "format", "weight", "token");
    for (int t = 0; t < 2; t++)
        printf(" %8s %7s %6s %6s %5s %6s %s", "ms/token", "roof", "/roof", "GB/s", "x f32", "x bf16", t ? "\n" : "|");
    double f32_ms[2] = {0, 0}, bf16_ms[2] = {0, 0};
    for (int f = 0; f < N_FORMATS; f++) {
        Weights w = build((Format)f, &src, n_layers);
        printf("%-6s %7.4f %7.1f |", FORMAT_NAME[f], (double)w.bytes / weights, w.bytes / 1e6);
        for (int t = 0; t < 2; t++) {
            pool_set_threads(threads[t]);
            double ms = 1e30;
            for (int with = 0; with < (f == F_F32 || f == F_BF16 ? 2 : 1); with++) {   // the float peers: both ways
                ahead = with ? AHEAD : 0;
                decode_step((Format)f, &w, n_layers, x, out);   // warm-up (first touch, thread start)
                double times[32];
                for (int r = 0; r < reps; r++) times[r] = decode_step((Format)f, &w, n_layers, x, out);
                const double median = ps_median(times, reps) * 1e3;
                ms = median < ms ? median : ms;
            }
            const double roof = w.bytes / bw[t] * 1e3;
            if (f == F_F32) f32_ms[t] = ms;
            if (f == F_BF16) bf16_ms[t] = ms;
            printf(" %8.2f %7.2f %6.2f %6.1f %5.2f ", ms, roof, ms / roof, w.bytes / (ms * 1e6), f32_ms[t] / ms);
            if (f == F_F32) printf("%6s", "");
            else printf("%6.2f", bf16_ms[t] / ms);
            printf(" %s", t ? "\n" : "|");
        }
        fflush(stdout);
        release(&w);
    }
    printf("\nroof: weight bytes / measured bandwidth, the fastest a token's products can be; /roof: the\n"
           "measured time over it (1.00 = memory-bound). GB/s: weight bytes / measured time.\n"
           "x f32, x bf16: speed-up over that format with the same threads.\n");
    for (int k = 0; k < 7; k++) free(src.layer[k]);
    free(src.head);
    free(x);
    free(out);
    return 0;
}

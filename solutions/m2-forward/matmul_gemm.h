// The blocking of matmul's tiles (matmul_gemm.c), adjustable so that tools/bench_gemm can measure
// other choices on the machine at hand. The bits of the products do not depend on it.
#ifndef MATMUL_GEMM_H
#define MATMUL_GEMM_H

// A chunk longer than any row: rows taken whole.
#define GEMM_WHOLE_ROWS (1 << 24)

typedef struct {
    int block_bytes;      // weights per row block, which stays in L2 while the tokens pass
    int chunk_cols;       // columns per chunk of a prompt's tiles (rounded down to a multiple of 16)
    int pack_min_tokens;  // rows packed for the tiles, once per block, from this many tokens; < 0: never
} GemmBlocking;

// The blocking in use: the defaults (matmul_gemm.c says why) unless set.
GemmBlocking matmul_gemm_blocking(void);
// Sets it for the products that follow (not while one runs); a field 0 takes its default.
void matmul_gemm_set_blocking(GemmBlocking b);

#endif

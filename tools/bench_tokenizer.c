// bench_tokenizer: how fast the M0 tokenizer loads tokenizer.json and encodes English prose.
//
//     build/tools/bench_tokenizer [TOKENIZER] [PROSE_FILE...]
//
// Default tokenizer: models/qwen3-0.6b/tokenizer.json (`make tokenizer`), else the tiny model's.
// Default prose: the repository's own Markdown (README, DEVELOPERS.md, the book), repeated to
// 8 MB. Reports medians; targets from issue #4: load well under a second, encode >= 5 MB/s.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapfile.h"
#include "stb_ds.h"
#include "timing.h"
#include "tokenizer.h"

#define RUNS 5

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "models/qwen3-0.6b/tokenizer.json";
    FILE *probe = argc > 1 ? NULL : fopen(path, "rb");
    if (probe) fclose(probe);
    else if (argc <= 1) {
        printf("(%s missing: `make tokenizer` fetches it; using the tiny model's tokenizer)\n", path);
        path = "models/tiny/tokenizer.json";
    }
    static const char *const DEFAULT_PROSE[] = {"README.md", "DEVELOPERS.md", "book/index.md",
                                               "book/m0-tokenizer.md", "models/tiny/README.md"};
    char *prose = NULL;
    int nfiles = argc > 2 ? argc - 2 : (int)(sizeof DEFAULT_PROSE / sizeof DEFAULT_PROSE[0]);
    for (int i = 0; i < nfiles; i++) {
        const char *file = argc > 2 ? argv[i + 2] : DEFAULT_PROSE[i];
        size_t len;
        char *text = ps_read_text(file, &len);
        if (!text) continue;
        memcpy(arraddnptr(prose, len), text, len);
        free(text);
    }
    if (arrlenu(prose) == 0) {
        fprintf(stderr, "bench_tokenizer: no prose to encode\n");
        return 1;
    }
    size_t base = arrlenu(prose);
    while (arrlenu(prose) < (8u << 20)) {
        size_t at = arrlenu(prose);
        arraddnptr(prose, base);  // may move the array: copy after growing
        memcpy(prose + at, prose, base);
    }

    double load_s[RUNS], encode_s[RUNS], decode_s[RUNS];
    Tokenizer *t = NULL;
    for (int r = 0; r < RUNS; r++) {
        tokenizer_free(t);
        double t0 = ps_now();
        t = tokenizer_load(path);
        load_s[r] = ps_now() - t0;
        if (!t) return 1;
    }
    size_t n_ids = 0;
    for (int r = 0; r < RUNS; r++) {
        int32_t *ids = NULL;
        double t0 = ps_now();
        if (tokenizer_encode(t, prose, arrlenu(prose), true, &ids) != 0) return 1;
        encode_s[r] = ps_now() - t0;
        n_ids = arrlenu(ids);
        char *text = NULL;
        t0 = ps_now();
        tokenizer_decode(t, ids, n_ids, &text);
        decode_s[r] = ps_now() - t0;
        if (arrlenu(text) != arrlenu(prose) || memcmp(text, prose, arrlenu(prose)) != 0)
            printf("warning: decode(encode(prose)) differs from the prose\n");
        arrfree(text);
        arrfree(ids);
    }
    double mb = (double)arrlenu(prose) / 1e6;
    double load = ps_median(load_s, RUNS), enc = ps_median(encode_s, RUNS), dec = ps_median(decode_s, RUNS);
    printf("tokenizer      %s (%d ids)\n", path, (int)tokenizer_vocab_size(t));
    printf("load           %.3f s  (median of %d; target: well under 1 s)\n", load, RUNS);
    printf("encode         %.1f MB/s, %.2f M tokens/s  (%.1f MB of prose, %zu tokens, %.2f bytes/token; target >= 5 MB/s)\n",
           mb / enc, (double)n_ids / enc / 1e6, mb, n_ids, (double)arrlenu(prose) / (double)n_ids);
    printf("decode         %.1f MB/s\n", mb / dec);
    tokenizer_free(t);
    arrfree(prose);
    return 0;
}

// Fuzz target: a GGUF file (solutions/m5-quantization/gguf.c), the whole input. First gguf_parse
// on an exact-size heap copy, where the sanitizers see a read one byte past the end (a mapped file
// would hide it in the page's tail): every tensor's bytes and every string of every array are
// touched, so a length or offset the parser should have refused is read. Then what sits on top:
// the config, the tokenizer (which must encode and decode a little text), and the model through
// gguf_model_load on a scratch copy, which must run a forward pass. Seeds: tools/fuzz/make_seeds_gguf.py.
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gguf_model.h"
#include "stb_ds.h"

static volatile unsigned sink;   // keeps the reads from being optimized away

static void touch_everything(const Gguf *g) {
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        const unsigned char *p = g->tensors[k].data;
        for (uint64_t i = 0; i < g->tensors[k].n_bytes; i++) sink += p[i];
    }
    for (uint64_t k = 0; k < g->n_kv; k++) {
        const GgufKV *kv = &g->kv[k];
        if (kv->type == GGUF_STRING && kv->str.len) sink += (unsigned char)kv->str.ptr[kv->str.len - 1];
        if (kv->type != GGUF_ARRAY || kv->n_elems == 0) continue;
        if (kv->elem_type == GGUF_STRING) {
            const char **ptrs = malloc(kv->n_elems * sizeof *ptrs);
            uint64_t *lens = malloc(kv->n_elems * sizeof *lens);
            if (!ptrs || !lens) abort();
            gguf_array_strings(kv, ptrs, lens);
            for (uint64_t i = 0; i < kv->n_elems; i++)
                if (lens[i]) sink += (unsigned char)ptrs[i][lens[i] - 1];
            free(ptrs);
            free(lens);
        } else if (kv->elem_type != GGUF_F32 && kv->elem_type != GGUF_F64) {
            sink += (unsigned)gguf_array_int(kv, kv->n_elems - 1);
        }
    }
}

// An accepted tokenizer encodes ASCII text and decodes it back to the same bytes when every byte
// has its token (a byte-level BPE's round trip).
static void check_tokenizer(const Gguf *g) {
    Tokenizer *t = gguf_tokenizer_from(g);
    if (!t) return;
    bool all_bytes = true;
    for (int b = 0; b < 256; b++) all_bytes &= t->byte_token[b] >= 0;
    static const char text[] = "In the beginning, 42 <|im_end|>";
    int32_t *ids = NULL;
    if (tokenizer_encode(t, text, sizeof text - 1, false, &ids) != 0) fuzz_fail("encode refused ASCII text");
    char *back = NULL;
    if (tokenizer_decode(t, ids, (size_t)arrlen(ids), &back) != 0) fuzz_fail("decode refused encode's ids");
    if (all_bytes && ((size_t)arrlen(back) != sizeof text - 1 || memcmp(back, text, sizeof text - 1) != 0))
        fuzz_fail("decode(encode(text)) != text");
    arrfree(ids);
    arrfree(back);
    tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *dir = fuzz_model_setup();
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    Gguf g;
    memset(&g, 0, sizeof g);
    if (gguf_parse(&g, copy, size, "fuzz.gguf") == 0) {
        touch_everything(&g);
        Config c;
        if (gguf_config(&g, &c) == 0 && (c.dim < 1 || c.n_layers < 1 || c.vocab_size < 1))
            fuzz_fail("gguf_config accepted unusable sizes");
        check_tokenizer(&g);
        gguf_close(&g);
        Model m;
        if (gguf_model_load(&m, fuzz_write_file(dir, "model.gguf", data, size)) == 0) fuzz_model_must_run(&m, "gguf_model_load");
    }
    free(copy);
    return 0;
}

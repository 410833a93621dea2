// Fuzz target: one .safetensors file (8-byte length, JSON header, data), the whole input.
// Twice: through st_open_file on a scratch copy (the length checks and the mapping), and through
// st_parse_header on exact-size heap copies of the header and the data section, where the
// sanitizers see a read one byte past either (a mapped file would hide it in the page's tail).
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "safetensors.h"

// Reads every byte a tensor claims, so an offset the parser should have refused is touched.
static unsigned sum_bytes(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

static volatile unsigned sink;   // keeps the sums from being optimized away

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    SafeTensors st;
    const char *path = fuzz_write_file(fuzz_scratch_dir(), "model.safetensors", data, size);
    if (st_open_file(&st, path, PS_MAP_MMAP) == 0) {
        for (int i = 0; i < st.n_tensors; i++)
            if (st.tensors[i].nbytes) sink += sum_bytes(st.tensors[i].data, st.tensors[i].nbytes);
        (void)st_find(&st, "model.embed_tokens.weight");
        st_close(&st);
    }

    if (size < 8) return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | data[i];
    if (len > size - 8) return 0;
    size_t json_len = (size_t)len, data_size = size - 8 - json_len;
    char *json = malloc(json_len ? json_len : 1);   // not NUL-terminated, as in the mapped file
    unsigned char *body = malloc(data_size ? data_size : 1);
    if (!json || !body) abort();
    memcpy(json, data + 8, json_len);
    memcpy(body, data + 8 + json_len, data_size);
    memset(&st, 0, sizeof st);
    if (st_parse_header(&st, json, json_len, data_size, 0, "fuzz.safetensors") == 0) {
        for (int i = 0; i < st.n_tensors; i++) sink += sum_bytes(body + st.tensors[i].offset, st.tensors[i].nbytes);
    }
    st_close(&st);
    free(json);
    free(body);
    return 0;
}

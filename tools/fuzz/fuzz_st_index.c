// Fuzz target: model.safetensors.index.json (the input) through st_open_dir. The scratch
// directory holds two tiny shards, written once, that an index may or may not describe truthfully:
//   model-00001-of-00002.safetensors   "a" F32 [2], "b" BF16 [2, 2]
//   model-00002-of-00002.safetensors   "c" F32 [1]
// and no model.safetensors (st_open_dir would take that instead of the index).
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "safetensors.h"

// One safetensors file: 8-byte length, the header, then data_size zero bytes.
static void write_shard(const char *dir, const char *name, const char *header, size_t data_size) {
    unsigned char file[512] = {0};
    size_t len = strlen(header);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(file + 8, header, len);
    fuzz_write_file(dir, name, file, 8 + len + data_size);
}

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *dir;
    if (!dir) {
        dir = fuzz_scratch_dir();
        write_shard(dir, "model-00001-of-00002.safetensors",
                    "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}", 16);
        write_shard(dir, "model-00002-of-00002.safetensors",
                    "{\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    }
    fuzz_write_file(dir, "model.safetensors.index.json", data, size);
    SafeTensors st;
    if (st_open_dir(&st, dir, PS_MAP_MMAP) == 0) {
        for (int i = 0; i < st.n_tensors; i++) {
            const StTensor *t = &st.tensors[i];
            if (t->file < 0 || t->file >= st.n_files) fuzz_fail("tensor's shard index out of range");
            if (t->nbytes) sink += ((const unsigned char *)t->data)[t->nbytes - 1];
        }
        st_close(&st);
    }
    return 0;
}

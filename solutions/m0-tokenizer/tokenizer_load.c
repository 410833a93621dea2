// Loading tokenizer.json: check it describes a tokenizer we implement, then read the byte-level
// alphabet, the vocabulary, the merges and the added tokens into hash maps.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mapfile.h"
// stb_ds's hm* macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"
#include "tokenizer.h"
#include "unicode.h"
#include "xalloc.h"

// Qwen3's pre-tokenizer pattern, the only one we implement (solutions/m0-tokenizer/tokenizer_pretok.c).
static const char QWEN3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

//[ byte-level-alphabet
void bytelevel_alphabet(uint32_t byte_to_char[256]) {
    //> M0 byte-level-map
    //? Bytes that are printable characters stand for themselves: '!'..'~' (33..126), '¡'..'¬'
    //? (161..172) and '®'..'ÿ' (174..255). The other 68 bytes (controls, space, DEL, NBSP, soft
    //? hyphen) get the code points 256, 257, ... in increasing byte order.
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        byte_to_char[b] = printable ? (uint32_t)b : next++;
    }
    //<
}
//]

static const char *string_of(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool is_empty_or_null(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return !item || cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0');
}

// The pipeline we implement: an NFC (or no) normalizer, the Split(Qwen3 regex) + ByteLevel
// pre-tokenizer, a plain BPE model, a ByteLevel decoder. Anything else is refused by name, so
// a tokenizer we would get wrong never loads.
static const char *unsupported(const cJSON *root) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = model ? string_of(model, "type") : NULL;
    if (!type || strcmp(type, "BPE") != 0) return "the model is not BPE";
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"))) return "BPE byte_fallback";
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"))) return "BPE ignore_merges";
    if (!is_empty_or_null(model, "continuing_subword_prefix") || !is_empty_or_null(model, "end_of_word_suffix"))
        return "BPE subword prefix/suffix";
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout)) return "BPE dropout";

    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm) && strcmp(string_of(norm, "type") ? string_of(norm, "type") : "", "NFC") != 0)
        return "a normalizer other than NFC";

    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *steps = pre ? cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers") : NULL;
    const cJSON *split = cJSON_GetArrayItem(steps, 0), *bytelevel = cJSON_GetArrayItem(steps, 1);
    const cJSON *pattern = split ? cJSON_GetObjectItemCaseSensitive(split, "pattern") : NULL;
    const char *regex = pattern ? string_of(pattern, "Regex") : NULL;
    if (!pre || strcmp(string_of(pre, "type") ? string_of(pre, "type") : "", "Sequence") != 0 ||
        cJSON_GetArraySize(steps) != 2 || !regex || strcmp(regex, QWEN3_PATTERN) != 0 ||
        strcmp(string_of(split, "behavior") ? string_of(split, "behavior") : "", "Isolated") != 0 ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(split, "invert")) ||
        strcmp(string_of(bytelevel, "type") ? string_of(bytelevel, "type") : "", "ByteLevel") != 0 ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bytelevel, "use_regex")) ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bytelevel, "add_prefix_space")))
        return "a pre-tokenizer other than Qwen3's (Split with its regex, then ByteLevel)";

    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (!dec || strcmp(string_of(dec, "type") ? string_of(dec, "type") : "", "ByteLevel") != 0)
        return "a decoder other than ByteLevel";
    return NULL;
}

// Sets t->vocab_size to 1 + the largest id, and allocates the per-id arrays.
static int size_the_vocab(Tokenizer *t, const cJSON *vocab, const cJSON *added, const char *path) {
    double max_id = -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > 1e8) {
            fprintf(stderr, "%s: vocab entry \"%s\" has no valid id\n", path, item->string);
            return -1;
        }
        if (item->valuedouble > max_id) max_id = item->valuedouble;
    }
    cJSON_ArrayForEach(item, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 || !string_of(item, "content")) {
            fprintf(stderr, "%s: an added token has no valid id or content\n", path);
            return -1;
        }
        if (id->valuedouble > max_id) max_id = id->valuedouble;
    }
    t->vocab_size = (int32_t)max_id + 1;
    t->token_text = xcalloc((size_t)t->vocab_size, sizeof *t->token_text);
    t->is_added = xcalloc((size_t)t->vocab_size, sizeof *t->is_added);
    return 0;
}

int tokenizer_load_vocab(Tokenizer *t, const cJSON *root, const char *path) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        fprintf(stderr, "%s: model.vocab (an object) or model.merges (an array) is missing\n", path);
        return -1;
    }
    if (size_the_vocab(t, vocab, added, path) != 0) return -1;
    //> M0 load-vocab
    //? 1. Every "token": id of model.vocab goes into the string map t->vocab (shput) and
    //?    t->token_text[id] points at the map's own copy of the key (t->vocab[i].key).
    //? 2. Each added token ({"id", "content", "special", ...}) goes into the map too, is marked in
    //?    t->is_added, and is appended to t->added (arrput).
    //? 3. Merge number i, "left right" (or ["left", "right"]), becomes t->merges[(left id << 32) |
    //?    right id] = {rank i, id of the token left+right}. A token missing from the vocabulary is
    //?    an error naming the merge.
    sh_new_arena(t->vocab);  // the map keeps one copy of each key in its own arena
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int32_t id = (int32_t)item->valuedouble;
        shput(t->vocab, item->string, id);
        t->token_text[id] = t->vocab[shgeti(t->vocab, item->string)].key;
    }
    cJSON_ArrayForEach(item, added) {
        const char *content = string_of(item, "content");
        int32_t id = (int32_t)cJSON_GetObjectItemCaseSensitive(item, "id")->valuedouble;
        if (content[0] == '\0') {
            fprintf(stderr, "%s: added token %d is empty\n", path, (int)id);
            return -1;
        }
        shput(t->vocab, content, id);
        char *text = t->vocab[shgeti(t->vocab, content)].key;
        t->token_text[id] = text;
        t->is_added[id] = true;
        AddedToken a = {text, strlen(text), id, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "special"))};
        arrput(t->added, a);
    }
    char *joined = NULL;  // left + right, NUL-terminated
    size_t joined_cap = 0;
    int32_t rank = 0;
    cJSON_ArrayForEach(item, merges) {
        const char *left, *right;
        char *pair = NULL;
        if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2) {  // ["Ġ", "t"]
            left = cJSON_GetArrayItem(item, 0)->valuestring;
            right = cJSON_GetArrayItem(item, 1)->valuestring;
        } else if (cJSON_IsString(item) && strchr(item->valuestring, ' ')) {  // "Ġ t" (older files)
            pair = xstrdup(item->valuestring);
            char *space = strchr(pair, ' ');
            *space = '\0';
            left = pair, right = space + 1;
        } else {
            left = right = NULL;
        }
        if (!left || !right) {
            fprintf(stderr, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]\n", path, (int)rank);
            free(joined);
            return -1;
        }
        size_t left_len = strlen(left), right_len = strlen(right);
        if (left_len + right_len + 1 > joined_cap) {
            joined_cap = 2 * (left_len + right_len + 1);
            joined = xrealloc(joined, joined_cap);
        }
        memcpy(joined, left, left_len);
        memcpy(joined + left_len, right, right_len + 1);
        int32_t a = shget(t->vocab, left), b = shget(t->vocab, right), ab = shget(t->vocab, joined);
        if (shgeti(t->vocab, left) < 0 || shgeti(t->vocab, right) < 0 || shgeti(t->vocab, joined) < 0) {
            fprintf(stderr, "%s: merge %d (\"%s\" \"%s\") uses a token missing from the vocabulary\n",
                    path, (int)rank, left, right);
            free(pair);
            free(joined);
            return -1;
        }
        free(pair);
        BpeMerge m = {rank++, ab};
        hmput(t->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, m);
    }
    free(joined);
    t->n_merges = rank;
    //<
    return 0;
}

// The alphabet backwards (for decoding), the token of each single byte (for encoding), and which
// bytes can start an added token. 0, or -1 after a message.
static int finish_tables(Tokenizer *t, const char *file) {
    memset(t->char_to_byte, 0xFF, sizeof t->char_to_byte);  // all -1
    for (int b = 0; b < 256; b++) {
        uint32_t c = t->byte_to_char[b];
        if (c >= sizeof t->char_to_byte / sizeof t->char_to_byte[0]) {
            fprintf(stderr, "%s: byte-level alphabet maps byte %d to U+%04X, past U+01FF\n", file, b, c);
            return -1;
        }
        t->char_to_byte[c] = (int16_t)b;
        uint8_t utf8[5] = {0};
        utf8_encode(c, utf8);
        t->byte_token[b] = shgeti(t->vocab, (char *)utf8) >= 0 ? shget(t->vocab, (char *)utf8) : -1;
    }
    for (size_t k = 0; k < arrlenu(t->added); k++) t->starts_added[(uint8_t)t->added[k].text[0]] = true;
    return 0;
}

Tokenizer *tokenizer_load(const char *path) {
    // A model directory holds tokenizer.json: accept either.
    char file[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(file, sizeof file, "%s/tokenizer.json", path);
    else snprintf(file, sizeof file, "%s", path);
    size_t len;
    char *json = ps_read_text(file, &len);  // prints "file: reason" itself
    if (!json) return NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        fprintf(stderr, "%s: not valid JSON (near byte %ld)\n", file, at ? (long)(at - json) : -1L);
        free(json);
        return NULL;
    }
    Tokenizer *t = xcalloc(1, sizeof *t);
    const char *why = unsupported(root);
    if (why) fprintf(stderr, "%s: unsupported tokenizer: %s\n", file, why);
    if (why) goto fail;
    bytelevel_alphabet(t->byte_to_char);
    if (tokenizer_load_vocab(t, root, file) != 0) goto fail;

    if (finish_tables(t, file) != 0) goto fail;
    cJSON_Delete(root);
    free(json);
    return t;
fail:
    cJSON_Delete(root);
    free(json);
    tokenizer_free(t);
    return NULL;
}

Tokenizer *tokenizer_from_lists(const char *const *tokens, const TokenKind *kinds, int32_t n_tokens,
                                const char *const *merges, int32_t n_merges, const char *what) {
    // The lists become the parts of tokenizer.json that tokenizer_load_vocab reads, so both ways
    // in fill the tables with the same code.
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *merge_list = cJSON_AddArrayToObject(model, "merges");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int32_t i = 0; i < n_tokens; i++) {
        if (kinds[i] == TOKEN_UNUSED || !tokens[i]) continue;
        if (kinds[i] == TOKEN_NORMAL) {
            cJSON_AddNumberToObject(vocab, tokens[i], i);
            continue;
        }
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", tokens[i]);
        cJSON_AddBoolToObject(a, "special", kinds[i] == TOKEN_ADDED_SPECIAL);
        cJSON_AddItemToArray(added, a);
    }
    for (int32_t r = 0; r < n_merges; r++) cJSON_AddItemToArray(merge_list, cJSON_CreateString(merges[r]));
    Tokenizer *t = xcalloc(1, sizeof *t);
    bytelevel_alphabet(t->byte_to_char);
    if (tokenizer_load_vocab(t, root, what) != 0 || finish_tables(t, what) != 0) {
        tokenizer_free(t);
        t = NULL;
    }
    cJSON_Delete(root);
    return t;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    shfree(t->vocab);
    hmfree(t->merges);
    arrfree(t->added);
    free(t->token_text);
    free(t->is_added);
    free(t);
}

int32_t tokenizer_vocab_size(const Tokenizer *t) { return t->vocab_size; }

int32_t tokenizer_token_id(const Tokenizer *t, const char *token) {
    ptrdiff_t i = shgeti(((Tokenizer *)t)->vocab, token);
    return i < 0 ? -1 : t->vocab[i].value;
}

const char *tokenizer_token_text(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->vocab_size ? t->token_text[id] : NULL;
}

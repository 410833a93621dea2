// Your lab's contract, copied by tools/mkskel from solutions/m0-tokenizer/tokenizer.h (do not edit: make skeletons rewrites it).
// The M0 tokenizer: Qwen3's byte-level BPE, read from a Hugging Face tokenizer.json and encoding
// exactly like Hugging Face `tokenizers` (encode(text, add_special_tokens=False)).
//
//     text ──split on added tokens──▶ segments ──NFC──▶ ──pre-tokenize (regex)──▶ pieces
//          ──bytes → byte-level alphabet──▶ symbols ──BPE merges by rank──▶ token ids
//
// Decoding goes back: ids → the bytes each token stands for → UTF-8 text. Chapter: book/m0-tokenizer.md.
// Ids are int32_t everywhere (they index embedding rows in later labs).
#ifndef PS_TOKENIZER_H
#define PS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---- the API later labs use ----

typedef struct Tokenizer Tokenizer;

// Loads tokenizer.json, or the tokenizer.json inside a model directory. On failure prints
// "PATH: what is wrong" to stderr and returns NULL (unsupported tokenizer kinds included).
Tokenizer *tokenizer_load(const char *path);
void tokenizer_free(Tokenizer *t);

// The same tokenizer built from plain lists, for model files that carry their vocabulary
// themselves (a later lab reads single-file models this way): tokens[i] is the text of id i as
// tokenizer.json writes it (byte-level alphabet for ordinary tokens), kinds[i] what it is,
// merges[r] the merge of rank r as "left right". The pipeline is the one tokenizer_load accepts
// (NFC, Qwen3's pre-tokenizer, byte-level BPE and decoder): the caller checks that the file asks
// for it. `what` names the source in messages. NULL after a message.
typedef enum { TOKEN_NORMAL, TOKEN_ADDED, TOKEN_ADDED_SPECIAL, TOKEN_UNUSED } TokenKind;
Tokenizer *tokenizer_from_lists(const char *const *tokens, const TokenKind *kinds, int32_t n_tokens,
                                const char *const *merges, int32_t n_merges, const char *what);

// Number of ids (the model's vocabulary plus the added tokens): valid ids are 0..size-1.
int32_t tokenizer_vocab_size(const Tokenizer *t);

// The id of a token given as written in tokenizer.json ("<|im_end|>", "Ġthe"); -1 when absent.
int32_t tokenizer_token_id(const Tokenizer *t, const char *token);

// The token as written in tokenizer.json (byte-level alphabet for ordinary tokens); NULL for an
// id out of range. For messages and debugging: decode for the text it stands for.
const char *tokenizer_token_text(const Tokenizer *t, int32_t id);

// Appends the ids of text[0..len) to *ids (an stb_ds array). With split_special, added tokens such
// as "<|im_start|>" in the text become their single ids (what Hugging Face does); without, the
// ones flagged special are ordinary text (HF's split_special_tokens=True; use it for untrusted
// text). Returns 0, or -1 with a message when the text is not valid UTF-8 (nothing is appended).
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, bool split_special, int32_t **ids);

// Appends the UTF-8 text of ids[0..n) to *text (an stb_ds array of char, not NUL-terminated).
// Bytes that do not form valid UTF-8 become U+FFFD, as in Hugging Face. Returns 0, or -1 with a
// message on an id out of range.
int tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **text);

// Streaming decode for generation: feed ids one at a time and print what comes back. Bytes of a
// character split across tokens are held back until the character is complete.
typedef struct {
    const Tokenizer *tok;
    uint8_t pending[4];   // the start of an incomplete UTF-8 sequence (at most 3 bytes)
    int npending;
    char *out;            // stb_ds array: the text returned by the last call
} TokenStream;

void token_stream_init(TokenStream *s, const Tokenizer *t);
// Returns the text completed by this id (maybe ""), valid until the next call; *len its length.
// NULL (and a message) on an id out of range.
const char *token_stream_feed(TokenStream *s, int32_t id, size_t *len);
// End of the stream: whatever is held back becomes U+FFFD. Returns the text (maybe "").
const char *token_stream_finish(TokenStream *s, size_t *len);
void token_stream_free(TokenStream *s);

// ---- inside the tokenizer (the lab's tasks; the tests call these directly) ----

typedef struct {
    int32_t rank;     // position in the merges list: lower merges first
    int32_t merged;   // id of the token the pair becomes
} BpeMerge;

typedef struct { char *key; int32_t value; } VocabEntry;     // stb_ds string map
typedef struct { uint64_t key; BpeMerge value; } MergeEntry; // key: left id << 32 | right id

typedef struct {
    char *text;       // the exact text that stands for this token in input
    size_t len;
    int32_t id;
    bool special;     // Hugging Face's flag (decode may skip these); both kinds split the same
} AddedToken;

struct Tokenizer {
    int32_t vocab_size;         // ids 0..vocab_size-1
    char **token_text;          // id -> token text as in tokenizer.json (NULL for an unused id)
    bool *is_added;             // id -> added token (its text is literal, not byte-level)
    VocabEntry *vocab;          // token text -> id, model vocabulary and added tokens
    MergeEntry *merges;         // (left id, right id) -> rank and merged id
    int32_t n_merges;
    AddedToken *added;          // stb_ds array, in tokenizer.json's order
    bool starts_added[256];     // some added token starts with this byte (a quick filter)
    uint32_t byte_to_char[256]; // the byte-level alphabet: byte -> code point
    int16_t char_to_byte[512];  // and back: code point -> byte, -1 if not in the alphabet
    int32_t byte_token[256];    // the id of the one-byte token of each byte
};

// byte-level-map: fills byte_to_char with GPT-2's byte-level alphabet (a printable code point for
// every byte value).
void bytelevel_alphabet(uint32_t byte_to_char[256]);

// load-vocab: reads the model's vocab, merges and added tokens from the parsed tokenizer.json.
// Returns 0, or -1 after printing "path: what is wrong".
struct cJSON;
int tokenizer_load_vocab(Tokenizer *t, const struct cJSON *root, const char *path);

// pretokenize: splits valid UTF-8 text[0..len) with Qwen3's regex; appends the end offset (in
// bytes) of each piece to *ends (an stb_ds array). Pieces cover the text without gaps.
void pretokenize(const char *text, size_t len, size_t **ends);

// bpe-merge: symbols[0..n) are token ids (at first one per byte); merges adjacent pairs, lowest
// rank first and leftmost first among equals, until no pair has a merge. Returns the new count.
size_t bpe_merge(const Tokenizer *t, int32_t *symbols, size_t n);

// Encodes one pre-tokenized piece (bytes of the normalized text): bytes -> symbols -> merges.
void bpe_encode_piece(const Tokenizer *t, const char *piece, size_t len, int32_t **ids);

// special-tokens: the added token that starts at text[0..len) (the longest if several), or NULL.
const AddedToken *added_token_at(const Tokenizer *t, const char *text, size_t len);

#endif

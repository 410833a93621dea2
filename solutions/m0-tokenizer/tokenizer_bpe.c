// Byte-pair encoding: a piece starts as one symbol per byte; the adjacent pair with the lowest
// merge rank becomes one symbol, again and again, until no adjacent pair has a merge.
//
// Rescanning the whole piece for the best pair after every merge costs O(n^2); a long piece (a
// run of 10 000 digits-free letters, a base64 blob) would crawl. Instead the symbols form a doubly
// linked list and the candidate pairs sit in a min-heap ordered by (rank, position): each merge
// pops one pair and pushes at most two new ones, so a piece costs O(n log n). Heap entries are
// never removed when a merge makes them stale; we check each one as it comes out instead.
#include <stdio.h>
#include <stdlib.h>

// stb_ds's hm* macros use GNU `typeof`, which -std=c11 only knows as `__typeof__`.
#define typeof __typeof__
#include "stb_ds.h"
#include "tokenizer.h"
#include "xalloc.h"

typedef struct {
    int32_t rank;
    int32_t pos;            // index of the pair's left symbol
    int32_t left, right;    // the ids the pair had when pushed (to spot stale entries)
    int32_t merged;         // what the pair becomes
} MergeCandidate;

static bool before(MergeCandidate a, MergeCandidate b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);  // leftmost first among equals
}

static void heap_push(MergeCandidate *heap, size_t *n, MergeCandidate c) {
    size_t i = (*n)++;
    while (i > 0 && before(c, heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = c;
}

static MergeCandidate heap_pop(MergeCandidate *heap, size_t *n) {
    MergeCandidate top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && before(heap[child + 1], heap[child])) child++;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n) heap[i] = last;
    return top;
}

// The merge of (left, right), or NULL.
static const BpeMerge *find_merge(const Tokenizer *t, int32_t left, int32_t right) {
    MergeEntry *merges = t->merges;  // stb_ds lookups write to the map's header, not its entries
    // No merges at all: stb_ds's empty map is NULL, and a lookup in it would allocate a map that
    // is lost with this local copy (a leak on every pair of every encode).
    if (!merges) return NULL;
    ptrdiff_t i = hmgeti(merges, (uint64_t)(uint32_t)left << 32 | (uint32_t)right);
    return i < 0 ? NULL : &merges[i].value;
}

// Pushes the pair starting at symbol pos if it has a merge.
static void push_pair(const Tokenizer *t, const int32_t *symbols, const int32_t *next, int32_t pos,
                      MergeCandidate *heap, size_t *n) {
    if (pos < 0 || next[pos] < 0) return;
    const BpeMerge *m = find_merge(t, symbols[pos], symbols[next[pos]]);
    if (m) heap_push(heap, n, (MergeCandidate){m->rank, pos, symbols[pos], symbols[next[pos]], m->merged});
}

size_t bpe_merge(const Tokenizer *t, int32_t *symbols, size_t n) {
    if (n < 2) return n;
    //> M0 bpe-merge
    //? Keep prev[i]/next[i] links (-1 at the ends) and a heap of candidate pairs (rank, left
    //? position, left id, right id, merged id). Push every adjacent pair that has a merge. Then pop the best;
    //? skip it if stale (its left symbol was merged away, or the ids at pos and next[pos] are no
    //? longer the ones pushed); else merge: symbols[pos] = merged id, unlink the right symbol, and
    //? push the new pairs (prev, pos) and (pos, next). At the end copy the live symbols to the front.
    // One allocation for the links and the heap: at most n - 1 initial pairs plus 2 per merge.
    size_t heap_cap = 3 * n;
    int32_t *prev = xmalloc(2 * n * sizeof *prev + heap_cap * sizeof(MergeCandidate));
    int32_t *next = prev + n;
    MergeCandidate *heap = (MergeCandidate *)(next + n);
    size_t heap_n = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, symbols, next, (int32_t)i, heap, &heap_n);
    while (heap_n > 0) {
        MergeCandidate c = heap_pop(heap, &heap_n);
        int32_t right = next[c.pos];
        bool dead = prev[c.pos] == -2;  // merged into its left neighbour
        if (dead || right < 0 || symbols[c.pos] != c.left || symbols[right] != c.right) continue;
        symbols[c.pos] = c.merged;
        next[c.pos] = next[right];
        if (next[right] >= 0) prev[next[right]] = c.pos;
        prev[right] = -2;
        push_pair(t, symbols, next, prev[c.pos], heap, &heap_n);
        push_pair(t, symbols, next, c.pos, heap, &heap_n);
    }
    size_t count = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) symbols[count++] = symbols[i];
    free(prev);
    return count;
    //<
}

void bpe_encode_piece(const Tokenizer *t, const char *piece, size_t len, int32_t **ids) {
    // One symbol per byte: the token of the byte's character in the byte-level alphabet.
    size_t start = arrlenu(*ids), n = 0;
    int32_t *symbols = arraddnptr(*ids, len);
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_token[(uint8_t)piece[i]];
        if (id >= 0) symbols[n++] = id;  // a byte without a token is dropped, as Hugging Face does
    }
    n = bpe_merge(t, symbols, n);
    arrsetlen(*ids, start + n);
}

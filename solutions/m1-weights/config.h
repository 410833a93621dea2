// A model's hyper-parameters, read from its config.json and checked for consistency.
//
// The names follow the math (llama2.c style); each comment gives the Hugging Face config key.
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>

typedef struct {
    int dim;            // hidden_size: width of the residual stream (1024 in Qwen3-0.6B)
    int ffn_dim;        // intermediate_size: width of the MLP's hidden layer (3072)
    int n_layers;       // num_hidden_layers (28)
    int n_heads;        // num_attention_heads: query heads (16)
    int n_kv_heads;     // num_key_value_heads: key/value heads, shared by n_heads/n_kv_heads queries (8)
    int head_dim;       // head_dim: NOT always dim / n_heads (Qwen3-0.6B: 128, while 1024/16 = 64)
    int vocab_size;     // vocab_size (151936)
    int max_seq_len;    // max_position_embeddings (40960)
    float norm_eps;     // rms_norm_eps (1e-6)
    float rope_theta;   // rope_theta (4.x, top level) or rope_parameters.rope_theta (5.x) (1e6)
    bool tie_embeddings;  // tie_word_embeddings: lm_head reuses the embedding matrix
    int bos_id, eos_id;   // bos_token_id / eos_token_id, -1 when absent
} Config;

// Parses config.json text; `what` names the file in messages. 0 on success; on failure prints
// "WHAT: reason" (missing field, wrong type, inconsistent values) to stderr and returns -1.
// An accepted config has every size in 1..10^9, norm_eps and rope_theta finite normal floats > 0,
// and every product the engine forms in int fits in int: n_heads*head_dim, n_kv_heads*head_dim,
// 11*n_layers, and max_seq_len times each of dim, ffn_dim and n_heads*head_dim (a context's worth
// of rows). Code that multiplies these may do it in int; a product with another factor (the vocab,
// a context beyond max_seq_len) must widen to size_t.
int config_parse(Config *c, const char *json, const char *what);

// Reads and parses PATH (a config.json). Same contract.
int config_load(Config *c, const char *path);

#endif

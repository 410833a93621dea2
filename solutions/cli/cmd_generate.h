// What `protostar generate` and `protostar chat` share: their options, the loaded model and
// tokenizer, and one generation with streaming output and speed figures.
#ifndef PS_CMD_GENERATE_H
#define PS_CMD_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "generate.h"
#include "gpu_engine.h"
#include "kvcache.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    // options
    const char *model_dir, *prompt, *ids_text, *system;
    const char *echo;  // printed (once the prompt is known to fit) before the continuation
    int max_new, ctx, threads;
    KVType kv_type;  // --kv f32|f16|q8_0: what the KV cache stores (a registered format)
    bool chat, think, print_ids, no_cache;
    bool gpu;  // M7: --gpu runs the model on gpu_engine.h
    // the sampler: the model's generation_config.json, then the flags over it
    SamplerConfig sampler;
    bool set_temp, set_top_k, set_top_p, set_min_p, set_penalty, set_seed;
    // loaded
    Model model;
    Tokenizer *tok;  // NULL when the model directory has no tokenizer.json
    GenerationDefaults defaults;
    KVCache cache;
    UncachedModel uncached;
    GpuEngine gpu_engine;  // M7 (--gpu)
    LogitsSource *source;
} Session;

// Parses the shared options (argv[0] is the command name). true to go on; false when the command
// is done, with its exit status in *status: 0 after --help (usage on stdout), 2 after bad usage.
bool session_parse(Session *s, int argc, char **argv, bool chat_command, int *status);
// Loads the model, tokenizer, defaults and cache. 0, or 1 after a message.
int session_open(Session *s);
void session_close(Session *s);
// Generates after ids[0..n_prompt) (an stb_ds array; new ids are appended), streaming text
// (or nothing with print_ids). The reply text, without the stop token, goes to *reply when not
// NULL (malloc'd). Returns 0, or 1 after a message.
int session_generate(Session *s, int32_t **ids, char **reply);

#endif

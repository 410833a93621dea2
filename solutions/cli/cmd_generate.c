// `protostar generate`: text from a prompt, streamed token by token.
//
//     protostar generate -m models/tiny -p "In the beginning" -n 64
//     protostar generate -m models/qwen3-0.6b -p "Why is the sky blue?" --chat --no-think
//     protostar generate -m build/models/tiny-gqa2-bf16 --ids "1 2 3" --print-ids --temp 0
#include "thread_pool.h"
#include "cmd_generate.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cli_args.h"
#include "forward.h"
#include "gguf_model.h"
#include "mapfile.h"
#include "mlx_model.h"
#include "stb_ds.h"
#include "timing.h"
#include "xalloc.h"

static const char *USAGE =
    "usage: protostar %s -m MODEL_DIR %s[options]\n"
    "  -n N                 generate at most N tokens (default 256)\n"
    "  --temp T             temperature; 0 = greedy (default: the model's generation_config.json)\n"
    "  --top-k K            keep the K most likely tokens (0 = off)\n"
    "  --top-p P            keep the smallest set of tokens with probability >= P (1 = off)\n"
    "  --min-p M            drop tokens less likely than M x the most likely one (0 = off)\n"
    "  --repeat-penalty R   penalize tokens already in the text (1 = off)\n"
    "  --seed S             random seed (default: from the clock, printed at the end)\n"
    "  --ctx N              context length: KV cache positions (default min(model's, %d))\n"
    "  --no-cache           recompute the whole sequence every token (lab M3's way; slow)\n"
    "  --kv TYPE            what the KV cache stores: f32 (default), f16 (half the memory),\n"
    "                       q8_0 (8-bit blocks, 27%% of f32's) or q4_0 (4-bit blocks, 14%%)\n"
    "  --threads N          matmul threads (default: all cores)\n"
    "  --gpu                run on the GPU engine (lab M7; on Linux: the Metal emulator)\n"
    "  --no-think           Qwen3: answer without the <think> block\n"
    "%s";

static const char *GENERATE_EXTRA =
    "  -p PROMPT            the prompt text (needs the model's tokenizer.json)\n"
    "  --ids \"1 2 3\"        the prompt as token ids instead\n"
    "  --chat               wrap the prompt in the chat template (a user turn)\n"
    "  --print-ids          print the generated ids (one line) instead of text\n";
static const char *CHAT_EXTRA = "  --system TEXT        a system message\n";

static int usage(bool chat, FILE *out) {
    fprintf(out, USAGE, chat ? "chat" : "generate", chat ? "" : "(-p PROMPT | --ids \"...\") ",
            KV_DEFAULT_CTX_CAP, chat ? CHAT_EXTRA : GENERATE_EXTRA);
    return cli_usage_status(out);
}

// The flags' ranges. A temperature or penalty far outside them overflows the logits to inf.
#define TEMP_MAX 100.0
#define PENALTY_MIN 0.01
#define PENALTY_MAX 100.0

// Parses one flag that takes an integer value into *out (an int).
static bool int_flag(const char *flag, const char *text, int lo, int *out) {
    long long v;
    if (!cli_parse_int(flag, text, lo, INT_MAX, &v)) return false;
    *out = (int)v;
    return true;
}

// A flag followed by its value v: 1 when handled, 0 when `a` is not such a flag, -1 after a message.
static int take_value(Session *s, const char *a, const char *v, bool chat_command) {
    SamplerConfig *sc = &s->sampler;
    bool ok = true;
    if (!strcmp(a, "-m")) {
        s->model_dir = v;
    } else if (!strcmp(a, "-p") && !chat_command) {
        s->prompt = v;
    } else if (!strcmp(a, "--ids") && !chat_command) {
        s->ids_text = v;
    } else if (!strcmp(a, "--system") && chat_command) {
        s->system = v;
    } else if (!strcmp(a, "-n")) {
        ok = int_flag(a, v, 0, &s->max_new);
    } else if (!strcmp(a, "--ctx")) {
        ok = int_flag(a, v, 1, &s->ctx);
    } else if (!strcmp(a, "--kv")) {
        const KVFormat *f = kv_format_named(v);   // the registered cache formats (kv_kernels.h)
        if (f) s->kv_type = f->type;
        else {
            char names[128];
            kv_format_names(names, sizeof names);
            fprintf(stderr, "protostar: --kv takes one of %s, not '%s'\n", names, v);
            ok = false;
        }
    } else if (!strcmp(a, "--threads")) {
        long long threads;
        ok = cli_parse_int(a, v, 1, 1024, &threads);
        s->threads = (int)threads;
    } else if (!strcmp(a, "--temp")) {
        ok = cli_parse_float(a, v, 0, TEMP_MAX, &sc->temperature);
        s->set_temp = true;
    } else if (!strcmp(a, "--top-k")) {
        ok = int_flag(a, v, 0, &sc->top_k);
        s->set_top_k = true;
    } else if (!strcmp(a, "--top-p")) {
        ok = cli_parse_float(a, v, 0, 1, &sc->top_p);
        s->set_top_p = true;
    } else if (!strcmp(a, "--min-p")) {
        ok = cli_parse_float(a, v, 0, 1, &sc->min_p);
        s->set_min_p = true;
    } else if (!strcmp(a, "--repeat-penalty")) {
        ok = cli_parse_float(a, v, PENALTY_MIN, PENALTY_MAX, &sc->repetition_penalty);
        s->set_penalty = true;
    } else if (!strcmp(a, "--seed")) {
        long long seed;
        ok = cli_parse_int(a, v, 0, INT_MAX, &seed);
        sc->seed = (uint64_t)seed;
        s->set_seed = true;
    } else {
        return 0;
    }
    return ok ? 1 : -1;
}

// A flag without a value: true when `a` is one.
static bool take_switch(Session *s, const char *a, bool chat_command) {
    if (!strcmp(a, "--chat") && !chat_command) s->chat = true;
    else if (!strcmp(a, "--no-think")) s->think = false;
    else if (!strcmp(a, "--print-ids") && !chat_command) s->print_ids = true;
    else if (!strcmp(a, "--no-cache")) s->no_cache = true;
    else if (!strcmp(a, "--gpu")) s->gpu = true;  // M7
    else return false;
    return true;
}

bool session_parse(Session *s, int argc, char **argv, bool chat_command, int *status) {
    memset(s, 0, sizeof *s);
    s->max_new = 256;
    s->think = true;
    s->chat = chat_command;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            *status = usage(chat_command, stdout);
            return false;
        }
        if (take_switch(s, a, chat_command)) continue;
        int taken = i + 1 < argc ? take_value(s, a, argv[i + 1], chat_command) : 0;
        if (taken < 0) {
            *status = 2;
            return false;
        }
        if (taken == 0) {
            fprintf(stderr, "protostar %s: unknown option or missing value: %s\n", argv[0], a);
            *status = usage(chat_command, stderr);
            return false;
        }
        i++;
    }
    if (!chat_command && s->model_dir && !s->prompt == !s->ids_text)
        fprintf(stderr, "protostar generate: give exactly one of -p PROMPT and --ids \"...\"\n");
    if (!s->model_dir || (!chat_command && !s->prompt == !s->ids_text)) {
        *status = usage(chat_command, stderr);
        return false;
    }
    return true;
}

// tokenizer_config.json's eos_token ("<|im_end|>", or {"content": ...}) as an id; -1 if none.
static int32_t tokenizer_config_eos(const Tokenizer *t, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (!t || access(path, F_OK) != 0) return -1;
    char *text = ps_read_text(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token");
    if (cJSON_IsObject(eos)) eos = cJSON_GetObjectItemCaseSensitive(eos, "content");
    int32_t id = cJSON_IsString(eos) ? tokenizer_token_id(t, eos->valuestring) : -1;
    cJSON_Delete(root);
    return id;
}

int session_open(Session *s) {
    if (s->threads) pool_set_threads(s->threads);
    double t0 = ps_now();
    bool gguf = gguf_path_is_gguf(s->model_dir);   // one .gguf file holds the model and its tokenizer
    bool mlx = !gguf && mlx_path_is_mlx(s->model_dir);   // an mlx_lm folder: its own quantized layout
    // bf16 matrices stay bf16 on the CPU when M2's SIMD kernels run (half the bytes a step reads)
    model_keep_bf16(!s->gpu && strcmp(matmul_simd_name(), "plain C") != 0);
    if ((gguf ? gguf_model_load(&s->model, s->model_dir)
              : mlx ? mlx_model_load(&s->model, s->model_dir) : model_load(&s->model, s->model_dir, PS_MAP_MMAP)) != 0)
        return 1;
    const Config *c = &s->model.cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", s->model_dir);
    if (gguf) {
        if (!(s->tok = gguf_tokenizer_load(s->model_dir))) return 1;
    } else if (access(path, F_OK) == 0) {
        s->tok = tokenizer_load(s->model_dir);
        if (!s->tok) return 1;
    } else if (s->prompt || s->chat) {
        fprintf(stderr, "%s has no tokenizer.json: give the prompt as --ids \"...\" with --print-ids\n",
                s->model_dir);
        return 1;
    } else {
        s->print_ids = true;  // nothing to decode with
    }
    if (generation_defaults_load(&s->defaults, s->model_dir, c->eos_id) != 0) return 1;
    generation_add_stop(&s->defaults, tokenizer_config_eos(s->tok, s->model_dir));
    // The flags override the model's defaults.
    SamplerConfig *d = &s->defaults.sampler;
    if (s->set_temp) d->temperature = s->sampler.temperature;
    if (s->set_top_k) d->top_k = s->sampler.top_k;
    if (s->set_top_p) d->top_p = s->sampler.top_p;
    if (s->set_min_p) d->min_p = s->sampler.min_p;
    if (s->set_penalty) d->repetition_penalty = s->sampler.repetition_penalty;
    d->seed = s->set_seed ? s->sampler.seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *why = sampler_config_check(d);
    if (why) {
        fprintf(stderr, "protostar: %s\n", why);
        return 1;
    }
    if (!s->ctx) s->ctx = kv_cache_default_ctx(c);
    // ---- M7: --gpu (the GPU engine instead of the CPU cache) ----
    if (s->gpu) {
        if (s->no_cache) {
            fprintf(stderr, "protostar: --gpu always uses its KV cache; drop --no-cache\n");
            return 1;
        }
        if (gpu_engine_init(&s->gpu_engine, &s->model, s->ctx) != 0) return 1;
        const char *device = mtl_device_name(gpu_context(s->gpu_engine.gpu));
        fprintf(stderr, "gpu: %s%s\n", device,
                strstr(device, "emulator") ? " (the Metal kernels on the CPU, for testing: NOT GPU speed)" : "");
        s->source = &s->gpu_engine.base;
    } else  // ---- end M7 ----
    if (s->no_cache) {
        if (s->ctx > c->max_seq_len) {
            fprintf(stderr, "--ctx %d is beyond the model's max_position_embeddings (%d)\n", s->ctx, c->max_seq_len);
            return 1;
        }
        uncached_init(&s->uncached, &s->model);
        s->source = &s->uncached.base;
    } else {
        if (kv_cache_init_as(&s->cache, &s->model, s->ctx, 0, s->kv_type) != 0) return 1;
        s->source = &s->cache.base;
    }
    fprintf(stderr, "loaded %s in %.2f s: %d layers, dim %d, vocab %d; context %d%s\n", s->model_dir,
            ps_now() - t0, c->n_layers, c->dim, c->vocab_size, s->ctx,
            s->no_cache ? " (no cache)" : s->gpu ? " (GPU)" : "");
    return 0;
}

void session_close(Session *s) {
    if (s->source == &s->cache.base) kv_cache_free(&s->cache);
    if (s->source == &s->uncached.base) uncached_free(&s->uncached);
    if (s->source == &s->gpu_engine.base) gpu_engine_free(&s->gpu_engine);  // M7
    if (s->tok) tokenizer_free(s->tok);
    model_free(&s->model);
}

// Streaming: each new id is decoded and printed at once (held back only inside a UTF-8
// character); stop ids are not printed. The reply text is collected too.
typedef struct {
    Session *s;
    TokenStream stream;
    char *reply;  // stb_ds array
    bool failed;
    bool warned_unknown;  // said once that the model made an id the tokenizer lacks
} Printer;

static bool is_stop_id(const Session *s, int32_t id) {
    for (int i = 0; i < s->defaults.n_stop; i++)
        if (s->defaults.stop_ids[i] == id) return true;
    return false;
}

static void emit(Printer *p, const char *text, size_t len) {
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (len) memcpy(arraddnptr(p->reply, len), text, len);
}

// A model's vocabulary can be larger than its tokenizer's (Qwen3: 151936 rows, 151669 tokens): the
// extra rows are padding that a sampler may still pick. Such an id has no text, so it is printed as
// a placeholder (llama.cpp does the same) rather than ending the generation half-way.
static void emit_unknown(Printer *p, int32_t id) {
    size_t len;
    const char *held = token_stream_finish(&p->stream, &len);   // the bytes of a partial character
    emit(p, held, len);
    char placeholder[32];
    snprintf(placeholder, sizeof placeholder, "<unk:%d>", (int)id);
    emit(p, placeholder, strlen(placeholder));
    if (!p->warned_unknown)
        fprintf(stderr, "\nprotostar: the model made token %d, which the tokenizer lacks; printed as %s\n",
                (int)id, placeholder);
    p->warned_unknown = true;
}

// generate() is given no stop ids: this is the one place each new id is tested against them.
static bool on_token(void *user, int32_t id) {
    Printer *p = user;
    if (is_stop_id(p->s, id)) return false;  // ends generation; the id stays in ids, unprinted
    if (p->s->print_ids) return true;
    if (!tokenizer_token_text(p->s->tok, id)) {
        emit_unknown(p, id);
        return true;
    }
    size_t len;
    const char *text = token_stream_feed(&p->stream, id, &len);
    if (!text) {
        p->failed = true;
        return false;
    }
    emit(p, text, len);
    return true;
}

// The reply collected by the printer as a malloc'd C string.
static char *reply_string(const Printer *p) {
    size_t len = arrlenu(p->reply);
    char *text = xmalloc(len + 1);
    if (len) memcpy(text, p->reply, len);
    text[len] = '\0';
    return text;
}

// The session's source with its logits checked: NaN or inf (broken weights, or numbers that
// overflowed) would have every sampler pick garbage, so generation stops with a message instead.
typedef struct {
    LogitsSource base;   // first: generate() sees a LogitsSource
    LogitsSource *inner;
} CheckedSource;

static int checked_next_logits(LogitsSource *self, const int32_t *ids, int n, float *logits) {
    CheckedSource *c = (CheckedSource *)self;
    if (c->inner->next_logits(c->inner, ids, n, logits) != 0) return -1;
    for (int i = 0; i < self->vocab_size; i++) {
        if (isfinite(logits[i])) continue;
        fprintf(stderr, "protostar: the logits after position %d are not numbers (token %d: %g): the model's "
                        "weights are broken or overflow\n", n - 1, i, (double)logits[i]);
        return -1;
    }
    return 0;
}

int session_generate(Session *s, int32_t **ids, char **reply) {
    int n_prompt = (int)arrlen(*ids);
    if (n_prompt < 1) {
        fprintf(stderr, "protostar: the prompt is empty\n");
        return 1;
    }
    if (n_prompt > s->ctx) {
        fprintf(stderr, "protostar: the prompt has %d tokens but the context holds %d (use --ctx)\n", n_prompt,
                s->ctx);
        return 1;
    }
    if (s->echo) fputs(s->echo, stdout);
    // In long long: -n 2147483647 plus the prompt does not fit in an int.
    long long wanted = (long long)n_prompt + s->max_new;
    int capacity = wanted < s->ctx ? (int)wanted : s->ctx;
    arrsetlen(*ids, capacity);
    Sampler sampler;
    sampler_init(&sampler, &s->defaults.sampler);
    Printer p = {.s = s};
    if (s->tok) token_stream_init(&p.stream, s->tok);
    GenerateOptions opt = {.max_new_tokens = s->max_new, .on_token = on_token, .user = &p};
    GenerateStats st;
    CheckedSource source = {{checked_next_logits, s->source->vocab_size}, s->source};
    int n = generate(&source.base, &sampler, *ids, n_prompt, capacity, &opt, &st);
    arrsetlen(*ids, n < 0 ? n_prompt : n);
    if (s->tok) {
        size_t len;
        const char *rest = token_stream_finish(&p.stream, &len);
        if (!s->print_ids && rest) emit(&p, rest, len);
        token_stream_free(&p.stream);
    }
    if (s->print_ids && n > 0)
        for (int i = n_prompt; i < n; i++) printf(i > n_prompt ? " %d" : "%d", (int)(*ids)[i]);
    printf("\n");
    fflush(stdout);   // the text before the statistics on stderr, also when stdout is a pipe
    if (reply) *reply = reply_string(&p);
    arrfree(p.reply);
    if (n < 0 || p.failed) return 1;
    // Prefill and decode are different workloads (book/m4-kv-cache.md), so two rates.
    int decoded = st.n_generated - 1;
    fprintf(stderr, "prompt %d tokens: %.1f tok/s | generated %d tokens: %.1f tok/s | seed %llu%s\n",
            st.n_prompt, st.prompt_seconds > 0 ? st.n_prompt / st.prompt_seconds : 0.0, st.n_generated,
            decoded > 0 && st.decode_seconds > 0 ? decoded / st.decode_seconds : 0.0,
            (unsigned long long)s->defaults.sampler.seed, n == s->ctx && !st.stopped ? " | context full" : "");
    return 0;
}

// The prompt's ids (appended to *ids): -p text (chat-rendered with --chat) through the tokenizer.
static int encode_prompt(Session *s, int32_t **ids) {
    char *rendered = NULL;
    if (s->chat) {
        ChatMessage m = {"user", s->prompt, NULL};
        rendered = chat_render(&m, 1, true, s->think, NULL);
        if (!rendered) return 1;
    }
    const char *text = rendered ? rendered : s->prompt;
    // Split special tokens: a chat-rendered prompt's <|im_start|> must be one token.
    int rc = tokenizer_encode(s->tok, text, strlen(text), true, ids) == 0 ? 0 : 1;
    free(rendered);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    Session s;
    int rc = 0;
    if (!session_parse(&s, argc, argv, false, &rc)) return rc;
    int32_t *ids = NULL;
    if (s.ids_text && !cli_parse_ids("--ids", s.ids_text, &ids)) {
        arrfree(ids);
        return 2;
    }
    if (session_open(&s) != 0) {
        arrfree(ids);
        session_close(&s);
        return 1;
    }
    if (s.prompt) {
        rc = encode_prompt(&s, &ids);
        if (!s.chat && !s.print_ids) s.echo = s.prompt;  // the continuation follows it
    }
    char *prompt_text = NULL;  // --ids: the text they stand for
    if (!rc && s.ids_text && !s.print_ids && s.tok) {
        if (tokenizer_decode(s.tok, ids, arrlenu(ids), &prompt_text) != 0) {
            rc = 1;
        } else {
            arrput(prompt_text, '\0');
            s.echo = prompt_text;
        }
    }
    if (!rc) rc = session_generate(&s, &ids, NULL);
    arrfree(prompt_text);
    arrfree(ids);
    session_close(&s);
    return rc;
}

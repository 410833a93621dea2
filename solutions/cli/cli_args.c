// The one parser of each kind the commands share (cli_args.h).
#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stb_ds.h"

bool cli_is_help(const char *arg) {
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_usage_status(const FILE *out) {
    return out == stdout ? 0 : 2;
}

// A separator of the id grammar.
static bool is_id_separator(char c) {
    return c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r';
}

bool cli_parse_ids(const char *what, const char *text, int32_t **ids) {
    const char *p = text;
    while (*p) {
        if (is_id_separator(*p)) {
            p++;
            continue;
        }
        size_t word = 0;
        while (p[word] && !is_id_separator(p[word])) word++;
        char *end;
        errno = 0;
        // strtol alone would take "-1", "+2" or " 3": an id is plain digits.
        long long v = isdigit((unsigned char)*p) ? strtoll(p, &end, 10) : -1;
        if (v < 0 || errno || end != p + word || v > INT32_MAX) {
            fprintf(stderr, "%s: \"%.*s\" is not a token id (expected whole numbers 0..%d separated by spaces "
                            "or commas)\n", what, (int)(word < 40 ? word : 40), p, INT32_MAX);
            return false;
        }
        arrput(*ids, (int32_t)v);
        p += word;
    }
    return true;
}

bool cli_parse_int(const char *flag, const char *text, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: expected a whole number in %lld..%lld, got \"%s\"\n", flag, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float(const char *flag, const char *text, double lo, double hi, float *out) {
    char *end;
    double v = strtod(text, &end);
    // The range test also refuses NaN and inf; an underflow (1e-400 reads as 0) is judged by its
    // value like any other, so the message gives the range rather than "not a number".
    if (end == text || *end) {
        fprintf(stderr, "%s: expected a number in %g..%g, got \"%s\"\n", flag, lo, hi, text);
        return false;
    }
    if (!(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s is out of range: expected a number in %g..%g\n", flag, text, lo, hi);
        return false;
    }
    *out = (float)v;
    return true;
}

// mkbook's syntax colouring, done when the book is built so the site needs no script for it.
// Tokens become <span class="k|t|c|s|n|p|v">: keyword, type, comment, string, number, preprocessor
// line, shell variable (book/style.css gives the colours). Languages: C, C++/MSL (fences `c`,
// `cpp`, `metal`), shell (`sh`, `bash`, `shell`, `console`), JSON. An unlabelled block is coloured
// as C when it looks like C; otherwise only its lines that start with a command are coloured as
// shell, so a command's printed output stays plain.
#define _POSIX_C_SOURCE 200809L
#include "mkbook.h"
#include <ctype.h>
#include <string.h>

typedef enum { LANG_PLAIN, LANG_C, LANG_SHELL, LANG_JSON, LANG_MIXED } CodeLang;

static const char *const C_KEYWORDS[] = {
    "if", "else", "for", "while", "do", "switch", "case", "default", "break", "continue", "return", "goto",
    "sizeof", "typedef", "struct", "union", "enum", "static", "const", "extern", "inline", "volatile",
    "restrict", "register", "_Noreturn", "_Static_assert", "static_assert", "_Alignas", "alignas",
    "true", "false", "NULL", "nullptr", "constexpr", "template", "typename", "using", "namespace",
    // MSL's address spaces and function qualifiers
    "kernel", "device", "threadgroup", "thread", "constant", "vertex", "fragment", NULL};

static const char *const C_TYPES[] = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "bool", "_Bool",
    "size_t", "ssize_t", "ptrdiff_t", "uint", "ushort", "uchar", "half", "FILE", "va_list",
    "float2", "float3", "float4", "half2", "half4", "uint2", "uint3", "uint4", "int2", "int4", "char4",
    "simd_float4", "atomic_uint", "atomic_int", NULL};

static const char *const SH_KEYWORDS[] = {
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case", "esac",
    "function", "return", "export", "local", "set", "unset", "exit", NULL};

// Words that start a command line in the book's unlabelled blocks.
static const char *const COMMANDS[] = {
    "make", "sh", "bash", "cc", "clang", "gcc", "git", "cd", "export", "xcrun", "python3",
    "lldb", "gdb", "ls", "echo", "brew", "sudo", "apt-get", "curl", NULL};

static bool in_list(const char *const *list, const char *s, size_t n) {
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0) return true;
    return false;
}

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

static void span(StrBuf *out, const char *cls, const char *s, size_t n) {
    buf_fmt(out, "<span class=\"%s\">", cls);
    buf_html(out, s, n);
    buf_str(out, "</span>");
}

// The end of a quoted string starting at S[I] (its quote), honouring backslash escapes.
static size_t string_end(const char *s, size_t i, size_t n) {
    char q = s[i++];
    while (i < n && s[i] != q && s[i] != '\n') i += s[i] == '\\' && i + 1 < n ? 2 : 1;
    return i < n && s[i] == q ? i + 1 : i;
}

static size_t number_end(const char *s, size_t i, size_t n) {
    size_t start = i;
    bool hex = i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
    while (i < n) {
        char c = s[i];
        bool exponent_sign = (c == '+' || c == '-') && !hex && i > start && (s[i - 1] == 'e' || s[i - 1] == 'E');
        if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || exponent_sign)) break;
        i++;
    }
    return i;
}

// A type name by convention: `uint32_t`, CamelCase (`Model`, `MtlBuffer`), or a known one.
static bool looks_like_type(const char *s, size_t n) {
    if (in_list(C_TYPES, s, n)) return true;
    if (n > 2 && s[n - 2] == '_' && s[n - 1] == 't') return true;
    if (!isupper((unsigned char)s[0]) || n < 2) return false;
    for (size_t i = 1; i < n; i++)
        if (islower((unsigned char)s[i])) return true;
    return false;  // ALL_CAPS: a macro or constant
}

static void colour_c(StrBuf *out, const char *s, size_t n) {
    bool line_start = true;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        char c = s[i];
        if (c == '\n') line_start = true;
        if (line_start && c == '#') {
            while (j < n && s[j] != '\n' && !(s[j] == '/' && j + 1 < n && (s[j + 1] == '/' || s[j + 1] == '*'))) j++;
            span(out, "p", s + i, j - i);
        } else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
            while (j < n && s[j] != '\n') j++;
            span(out, "c", s + i, j - i);
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            const char *end = strstr(s + i + 2, "*/");
            j = end && (size_t)(end - s) < n ? (size_t)(end - s) + 2 : n;
            span(out, "c", s + i, j - i);
        } else if (c == '"' || c == '\'') {
            j = string_end(s, i, n);
            span(out, "s", s + i, j - i);
        } else if (isdigit((unsigned char)c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            j = number_end(s, i, n);
            span(out, "n", s + i, j - i);
        } else if (ident_char(c)) {
            while (j < n && ident_char(s[j])) j++;
            if (in_list(C_KEYWORDS, s + i, j - i)) span(out, "k", s + i, j - i);
            else if (looks_like_type(s + i, j - i)) span(out, "t", s + i, j - i);
            else buf_html(out, s + i, j - i);
        } else {
            j = i + 1;
            buf_html(out, s + i, 1);
        }
        if (!isspace((unsigned char)c)) line_start = false;
        i = j;
    }
}

static void colour_shell_line(StrBuf *out, const char *s, size_t n) {
    bool word_start = true, command = true;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        char c = s[i];
        if (c == '#' && word_start) {
            j = n;
            span(out, "c", s + i, j - i);
        } else if (c == '"' || c == '\'') {
            j = string_end(s, i, n);
            span(out, "s", s + i, j - i);
        } else if (c == '$' && i + 1 < n && (s[i + 1] == '{' || ident_char(s[i + 1]))) {
            if (s[i + 1] == '{') {
                while (j < n && s[j] != '}') j++;
                j += j < n;
            } else {
                while (j < n && ident_char(s[j])) j++;
            }
            span(out, "v", s + i, j - i);
        } else if (word_start && !isspace((unsigned char)c) && !strchr(";|&\"'", c)) {
            j = i;
            while (j < n && !isspace((unsigned char)s[j]) && !strchr(";|&\"'", s[j])) j++;
            const char *eq = memchr(s + i, '=', j - i);
            if (eq && eq > s + i) {  // VAR=value: the name as a variable, the value plain
                span(out, "v", s + i, (size_t)(eq - s - i));
                buf_html(out, eq, (size_t)(s + j - eq));
            } else if (in_list(SH_KEYWORDS, s + i, j - i) || (command && j > i)) {
                span(out, "k", s + i, j - i);
                command = false;
            } else if (c == '-' || isdigit((unsigned char)c)) {
                span(out, c == '-' ? "t" : "n", s + i, j - i);
            } else {
                buf_html(out, s + i, j - i);
            }
        } else {
            buf_html(out, s + i, 1);
            if (c == ';' || c == '|' || c == '&') command = true;
        }
        word_start = isspace((unsigned char)s[j - 1]) || s[j - 1] == ';' || s[j - 1] == '|';
        i = j;
    }
}

static void colour_json(StrBuf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        if (s[i] == '"') {
            j = string_end(s, i, n);
            size_t k = j;
            while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
            span(out, k < n && s[k] == ':' ? "t" : "s", s + i, j - i);
        } else if (isdigit((unsigned char)s[i]) || (s[i] == '-' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            j = number_end(s, i + 1, n);
            span(out, "n", s + i, j - i);
        } else if (isalpha((unsigned char)s[i])) {
            j = i;
            while (j < n && isalpha((unsigned char)s[j])) j++;
            span(out, "k", s + i, j - i);
        } else {
            buf_html(out, s + i, 1);
        }
        i = j;
    }
}

// A line that starts a command: `make check-lab 2`, `$ ls`, `./build/x`, `PS_THREADS=4 make`.
static bool command_line(const char *s, size_t n) {
    size_t i = 0, j;
    while (i < n && s[i] == ' ') i++;
    if (i + 1 < n && s[i] == '$' && s[i + 1] == ' ') return true;
    if (i + 1 < n && s[i] == '.' && s[i + 1] == '/') return true;
    for (j = i; j < n && (isupper((unsigned char)s[j]) || s[j] == '_' || isdigit((unsigned char)s[j])); j++) {}
    if (j > i && j < n && s[j] == '=') return true;
    for (j = i; j < n && s[j] != ' ' && s[j] != '\n'; j++) {}
    return j > i && in_list(COMMANDS, s + i, j - i) && (j == n || s[j] == ' ' || s[j] == '\n');
}

static CodeLang guess(const char *s, size_t n) {
    size_t semis = 0;
    for (size_t i = 0; i + 1 < n; i++) semis += s[i] == ';' && s[i + 1] == '\n';
    bool c_words = strstr(s, "int ") || strstr(s, "float ") || strstr(s, "for (") || strstr(s, "return ") ||
                   strstr(s, "#include");
    if (semis >= 1 && c_words && !command_line(s, n)) return LANG_C;
    return LANG_MIXED;
}

// CODE is cmark's escaped text: decoded here, coloured, escaped again.
void highlight(StrBuf *out, const char *lang, const char *code, size_t n) {
    StrBuf raw = {0};
    for (size_t i = 0; i < n; i++) {
        static const struct { const char *entity, *ch; } ENT[] = {
            {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}};
        size_t k = 0;
        for (; k < sizeof ENT / sizeof *ENT; k++) {
            size_t len = strlen(ENT[k].entity);
            if (i + len <= n && memcmp(code + i, ENT[k].entity, len) == 0) {
                buf_str(&raw, ENT[k].ch);
                i += len - 1;
                break;
            }
        }
        if (k == sizeof ENT / sizeof *ENT) buf_add(&raw, code + i, 1);
    }
    buf_add(&raw, "", 0);
    CodeLang l = !strcmp(lang, "c") || !strcmp(lang, "cpp") || !strcmp(lang, "c++") || !strcmp(lang, "metal") || !strcmp(lang, "h")
                 ? LANG_C
             : !strcmp(lang, "sh") || !strcmp(lang, "bash") || !strcmp(lang, "shell") || !strcmp(lang, "console") ? LANG_SHELL
             : !strcmp(lang, "json") ? LANG_JSON
             : lang[0] ? LANG_PLAIN
                       : guess(raw.s, raw.n);
    if (l == LANG_C) colour_c(out, raw.s, raw.n);
    else if (l == LANG_JSON) colour_json(out, raw.s, raw.n);
    else if (l == LANG_PLAIN) buf_html(out, raw.s, raw.n);
    else {
        for (size_t i = 0; i < raw.n;) {
            const char *nl = memchr(raw.s + i, '\n', raw.n - i);
            size_t len = nl ? (size_t)(nl - raw.s - i) : raw.n - i;
            if (l == LANG_SHELL || command_line(raw.s + i, len)) colour_shell_line(out, raw.s + i, len);
            else buf_html(out, raw.s + i, len);
            if (nl) buf_str(out, "\n");
            i += len + (nl != NULL);
        }
    }
    buf_free(&raw);
}

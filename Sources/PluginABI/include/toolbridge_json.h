/*
 * toolbridge_json.h — JSON for C plugins, shipped beside toolbridge_plugin.h.
 *
 * A plugin reads its arguments and the API's answers, writes its outputs and request bodies,
 * percent-encodes query values and checks its arguments with this file, and needs no JSON code
 * of its own. One file, C99, libc only.
 *
 * USE: include it wherever you need it. In exactly one .c file of the plugin, define
 * TOOLBRIDGE_JSON_IMPLEMENTATION first, so that file carries the implementation:
 *
 *     #define TOOLBRIDGE_JSON_IMPLEMENTATION
 *     #include "toolbridge_json.h"
 *
 * READING: tbj_parse() checks a whole UTF-8 JSON text (RFC 8259) and turns it into a read-only
 * tree. It reads only the `length` bytes it is given, refuses invalid UTF-8 (overlong forms,
 * surrogates, anything above U+10FFFF), unpaired \u surrogates, nesting deeper than
 * TBJ_MAX_DEPTH and anything after the value. Strings are decoded (escapes included) and
 * NUL-terminated; their length is still the truth, as "\u0000" decodes to a NUL byte.
 * Object members keep their order; when a key repeats, tbj_get() finds the last one.
 *
 * MEMORY: whoever allocates, frees — as in toolbridge_plugin.h.
 *   - tbj_parse() makes exactly one allocation, sized by a first pass over the input (56 bytes
 *     a value plus the decoded text: at worst 29 bytes per input byte, for "[0,0,0,…]"), and
 *     copies what it keeps: the input may be freed right after.
 *     Every tbj_value pointer points into that block; tbj_free(root) releases all of them.
 *   - A tbj_buffer or tbj_writer grows with TBJ_REALLOC. tbj_finish() hands its bytes over as
 *     a call's output: set the descriptor's free_output to tbj_free_output (or any function
 *     calling TBJ_FREE). Otherwise release it with tbj_buffer_free / tbj_writer_free.
 *   - Define TBJ_MALLOC, TBJ_REALLOC and TBJ_FREE before the implementation to use other
 *     allocators (all three, or none).
 *
 * FAILURE: a buffer or writer that fails (out of memory, or a writer used out of order: a value
 * where a key belongs, an unclosed array, invalid UTF-8 in a string) sets `failed`, ignores
 * everything after that, and makes tbj_finish() return TB_INTERNAL. Check once, at the end.
 *
 * THREADS: no global state. A parsed tree is read-only and may be read from many threads; a
 * buffer, writer or tbj_arguments belongs to one thread at a time.
 *
 * NUMBERS: tbj_double() uses strtod and tbj_write_double() snprintf, which follow LC_NUMERIC.
 * The host never changes the locale, so inside ToolBridge both speak JSON's '.'.
 */
#ifndef TOOLBRIDGE_JSON_H
#define TOOLBRIDGE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "toolbridge_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The deepest nesting of arrays and objects tbj_parse() accepts and a tbj_writer writes. If you
 * change it, define it the same before every include (tbj_writer's size depends on it). */
#ifndef TBJ_MAX_DEPTH
#define TBJ_MAX_DEPTH 128
#endif

/* The size of tbj_arguments.error, terminating NUL included. */
#define TBJ_SENTENCE_SIZE 256

/* ---- Reading --------------------------------------------------------------------------- */

/* What tbj_type() answers. TBJ_ABSENT is a NULL value: a missing member or index. */
#define TBJ_ABSENT 0
#define TBJ_NULL 1
#define TBJ_BOOL 2
#define TBJ_NUMBER 3
#define TBJ_STRING 4
#define TBJ_ARRAY 5
#define TBJ_OBJECT 6

/* One value of a parsed tree. Opaque; read it with the functions below. */
typedef struct tbj_value tbj_value;

/* Why tbj_parse() failed. */
#define TBJ_ERROR_NONE 0
#define TBJ_ERROR_SYNTAX 1       /* not JSON, invalid UTF-8 or truncated */
#define TBJ_ERROR_TOO_DEEP 2     /* nested deeper than TBJ_MAX_DEPTH */
#define TBJ_ERROR_NO_MEMORY 3

typedef struct tbj_error {
    int code;                    /* TBJ_ERROR_… */
    size_t offset;               /* the byte of the input where the problem is */
    const char *message;         /* a static sentence fragment, e.g. "invalid UTF-8" */
} tbj_error;

/*
 * Parses `length` bytes of UTF-8 JSON (any value at the top, e.g. an API body). Returns the
 * root value, to be released with tbj_free(); or NULL with *error filled (error may be NULL).
 * `json` may be NULL only when length is 0, which is refused like any empty input.
 */
tbj_value *tbj_parse(const void *json, size_t length, tbj_error *error);

/* Releases a tree returned by tbj_parse(), every value in it included. NULL is fine. */
void tbj_free(tbj_value *root);

/* All accessors accept NULL (an absent value) and then answer TBJ_ABSENT, NULL or 0, so
 * lookups chain: tbj_string(tbj_get(tbj_get(root, "payload"), "title"), &length). */

int tbj_type(const tbj_value *value);

/* "null", "boolean", "number", "string", "array", "object", or "nothing" for NULL. */
const char *tbj_type_name(const tbj_value *value);

/* An object's member by key (the last one when a key repeats), or NULL. */
const tbj_value *tbj_get(const tbj_value *object, const char *key);
const tbj_value *tbj_get_n(const tbj_value *object, const char *key, size_t key_length);

/* The number of elements of an array or members of an object; 0 for anything else. */
size_t tbj_count(const tbj_value *value);

/* An array's element by index, or NULL. Walks the array: iterate with tbj_first/tbj_next. */
const tbj_value *tbj_at(const tbj_value *array, size_t index);

/* Iteration over an array's elements or an object's members, in document order:
 *     for (const tbj_value *v = tbj_first(array); v; v = tbj_next(v)) … */
const tbj_value *tbj_first(const tbj_value *container);
const tbj_value *tbj_next(const tbj_value *value);

/* An object member's key (NUL-terminated, decoded), or NULL for a value not in an object. */
const char *tbj_key(const tbj_value *member, size_t *length);

/* A string's decoded UTF-8 bytes, NUL-terminated, with its length in *length (length may be
 * NULL); NULL when the value is not a string. */
const char *tbj_string(const tbj_value *value, size_t *length);

/* 1 and *out set when the value is a number without fraction or exponent that fits in 64 bits
 * ("-9223372036854775808" fits, "9223372036854775808" and "1.0" do not); else 0. */
int tbj_int64(const tbj_value *value, int64_t *out);

/* 1 and *out set when the value is a number whose double is finite ("1e999" is not); else 0. */
int tbj_double(const tbj_value *value, double *out);

/* 1 and *out set (0 or 1) when the value is true or false; else 0. */
int tbj_bool(const tbj_value *value, int *out);

/* 1 for JSON null, 0 for anything else (NULL included). */
int tbj_is_null(const tbj_value *value);

/* ---- Byte buffers and query strings ------------------------------------------------------ */

/* Growing bytes, always followed by a NUL (so a built path is also a C string once something
 * was appended). Start from tbj_buffer b = {0}. */
typedef struct tbj_buffer {
    uint8_t *data;
    size_t length;
    size_t capacity;
    int failed;
} tbj_buffer;

void tbj_append(tbj_buffer *buffer, const void *bytes, size_t length);
void tbj_append_text(tbj_buffer *buffer, const char *text);

/* Appends bytes percent-encoded as RFC 3986 wants a query value: the unreserved characters
 * A-Z a-z 0-9 - . _ ~ stay, every other byte becomes %XX (upper-case hex). */
void tbj_append_percent_encoded(tbj_buffer *buffer, const void *bytes, size_t length);

/* Appends "?name=value" to a path, or "&name=value" once the path has a '?'; both encoded. */
void tbj_query_param(tbj_buffer *path, const char *name, const void *value, size_t value_length);

void tbj_buffer_free(tbj_buffer *buffer);

/* ---- Writing ----------------------------------------------------------------------------- */

/* Writes one JSON value. Commas and colons are its business: call tbj_write_key() before each
 * member's value and nothing between array elements. Start from tbj_writer w = {0}. */
typedef struct tbj_writer {
    tbj_buffer out;
    /* The rest is the writer's own state. */
    uint32_t depth;
    uint8_t comma;               /* a value was written at this level: the next needs ',' */
    uint8_t after_key;           /* a key was written: its value comes next */
    uint8_t in_string;           /* between tbj_string_begin and tbj_string_end */
    uint8_t done;                /* the top-level value is complete */
    uint8_t objects[(TBJ_MAX_DEPTH + 7) / 8]; /* one bit per open level: 1 for an object */
} tbj_writer;

void tbj_object_begin(tbj_writer *writer);
void tbj_object_end(tbj_writer *writer);
void tbj_array_begin(tbj_writer *writer);
void tbj_array_end(tbj_writer *writer);

/* A member's key, inside an object, before its value. */
void tbj_write_key(tbj_writer *writer, const char *key);
void tbj_write_key_n(tbj_writer *writer, const void *key, size_t length);

/* Strings must be valid UTF-8 (else the writer fails); '"', '\' and control characters are
 * escaped. A NULL string writes null. */
void tbj_write_string(tbj_writer *writer, const char *text);
void tbj_write_string_n(tbj_writer *writer, const void *bytes, size_t length);

/* One string written in pieces; each piece must be whole UTF-8 characters. */
void tbj_string_begin(tbj_writer *writer);
void tbj_string_append(tbj_writer *writer, const void *bytes, size_t length);
void tbj_string_end(tbj_writer *writer);

void tbj_write_int(tbj_writer *writer, int64_t value);
/* The shortest form that reads back as the same double; NaN and infinities fail the writer. */
void tbj_write_double(tbj_writer *writer, double value);
void tbj_write_bool(tbj_writer *writer, int value);
void tbj_write_null(tbj_writer *writer);

/* Writes a parsed value (and everything in it) again; NULL writes null. */
void tbj_write_value(tbj_writer *writer, const tbj_value *value);

/*
 * Hands the written value over as a call's output and returns `status`; or, when the writer
 * failed or the value is incomplete, frees it and returns TB_INTERNAL with *output NULL. The
 * output is freed with tbj_free_output (TBJ_FREE).
 */
tb_status tbj_finish(tbj_writer *writer, tb_status status, uint8_t **output, size_t *output_length);

/* Releases a writer's bytes (after a failure, or when the JSON was a request body). */
void tbj_writer_free(tbj_writer *writer);

/* A descriptor's free_output for outputs made by tbj_finish and tbj_error_output. */
void tbj_free_output(void *pointer);

/* Returns `status` with the output {"error": sentence}, plus "status": http_status when
 * http_status >= 0 — the shape toolbridge_plugin.h asks of failed calls. */
tb_status tbj_error_output(tb_status status, const char *sentence, int32_t http_status,
                           uint8_t **output, size_t *output_length);

/* ---- Checking arguments -------------------------------------------------------------------- */

/*
 * A tool's arguments with the first problem found. The checks below never stop the caller:
 * after the first problem they return NULL or the fallback and keep that first sentence, so
 * a tool reads all its arguments and then asks tbj_arguments_status() once:
 *
 *     tbj_arguments args;
 *     tbj_arguments_parse(&args, input, input_length);
 *     size_t text_length;
 *     const char *text = tbj_require_string(&args, "text", &text_length);
 *     int64_t limit = tbj_optional_int(&args, "limit", 20);
 *     tb_status status = tbj_arguments_status(&args, output, output_length);
 *     if (status == TB_OK) … use text and limit …
 *     tbj_arguments_free(&args);
 *
 * Sentences are PluginKit's: "the argument 'text' is required", "the argument 'limit' must be
 * an integer, not a string". A member given as null counts as left out.
 */
typedef struct tbj_arguments {
    tbj_value *root;             /* the arguments object, or NULL when they did not parse */
    int out_of_memory;
    char error[TBJ_SENTENCE_SIZE]; /* the first problem, or "" */
} tbj_arguments;

/* Parses the arguments, which must be a JSON object; empty input counts as {}. Returns 1 on
 * success, else 0 with the error set. Call tbj_arguments_free() either way. */
int tbj_arguments_parse(tbj_arguments *arguments, const void *input, size_t length);

/* The member `name` when it has the type (TBJ_STRING, TBJ_NUMBER, TBJ_BOOL, TBJ_ARRAY or
 * TBJ_OBJECT); NULL when it is absent or null (an error if `required`) or of another type
 * (an error). */
const tbj_value *tbj_argument(tbj_arguments *arguments, const char *name, int type, int required);

const char *tbj_require_string(tbj_arguments *arguments, const char *name, size_t *length);
/* NULL when left out. */
const char *tbj_optional_string(tbj_arguments *arguments, const char *name, size_t *length);
/* Integers are numbers without fraction or exponent that fit in 64 bits. */
int64_t tbj_require_int(tbj_arguments *arguments, const char *name);
int64_t tbj_optional_int(tbj_arguments *arguments, const char *name, int64_t fallback);

/* Records a problem of the tool's own (e.g. "the argument 'text' must not be empty") unless
 * one was recorded before. */
void tbj_arguments_fail(tbj_arguments *arguments, const char *sentence);

/* TB_OK when no problem was found; TB_INVALID_ARGUMENT with {"error": sentence} as output for
 * the first problem; TB_INTERNAL when memory ran out. */
tb_status tbj_arguments_status(const tbj_arguments *arguments, uint8_t **output, size_t *output_length);

void tbj_arguments_free(tbj_arguments *arguments);

#ifdef __cplusplus
}
#endif

#endif /* TOOLBRIDGE_JSON_H */

/* ================================ IMPLEMENTATION ================================ */

#ifdef TOOLBRIDGE_JSON_IMPLEMENTATION
#ifndef TOOLBRIDGE_JSON_IMPLEMENTED
#define TOOLBRIDGE_JSON_IMPLEMENTED

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TBJ_MALLOC
#define TBJ_MALLOC(size) malloc(size)
#define TBJ_REALLOC(pointer, size) realloc(pointer, size)
#define TBJ_FREE(pointer) free(pointer)
#endif

struct tbj_value {
    const char *key;             /* the member's key when the parent is an object, else NULL */
    size_t key_length;
    const char *text;            /* a string's decoded bytes or a number's literal, NUL-terminated */
    size_t length;
    size_t count;                /* elements or members; 1 or 0 for a bool */
    const tbj_value *next;       /* the next sibling, or NULL */
    int type;
};

/* The length of the well-formed UTF-8 sequence at s (1 to 4 bytes), or 0. */
static size_t tbj__utf8_length(const uint8_t *s, size_t available) {
    uint8_t low = 0x80, high = 0xBF;
    size_t count;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        count = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        count = 3;
        if (s[0] == 0xE0) low = 0xA0;  /* no overlong forms */
        if (s[0] == 0xED) high = 0x9F; /* no UTF-16 surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        count = 4;
        if (s[0] == 0xF0) low = 0x90;
        if (s[0] == 0xF4) high = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (available < count || s[1] < low || s[1] > high) return 0;
    for (size_t i = 2; i < count; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return count;
}

/* ---- The parser: a counting pass sizes the one allocation, a second pass fills it. ---- */

typedef struct {
    const uint8_t *start, *at, *end;
    tbj_value *values;           /* NULL while counting */
    char *text;                  /* where the next decoded text goes; NULL while counting */
    size_t value_count;
    size_t text_bytes;
    unsigned depth;
    tbj_error *error;
} tbj__parser;

static int tbj__fail(tbj__parser *p, int code, const char *message) {
    p->error->code = code;
    p->error->offset = (size_t)(p->at - p->start);
    p->error->message = message;
    return 0;
}

static void tbj__skip_space(tbj__parser *p) {
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r'))
        p->at++;
}

/* Reserves `length` bytes plus a NUL of decoded text; NULL while counting. */
static char *tbj__text(tbj__parser *p, size_t length) {
    char *text = p->text;
    p->text_bytes += length + 1;
    if (text) {
        text[length] = '\0';
        p->text += length + 1;
    }
    return text;
}

static int tbj__hex4(tbj__parser *p, uint32_t *value) {
    if (p->end - p->at < 4) return tbj__fail(p, TBJ_ERROR_SYNTAX, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p->at[i];
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = (uint32_t)(c - 'A' + 10);
        else return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid \\u escape");
        v = v << 4 | digit;
    }
    p->at += 4;
    *value = v;
    return 1;
}

/* The short escapes, and the characters they stand for. */
static const char tbj__escapes[] = "\"\\/bfnrt";
static const char tbj__escaped[] = "\"\\/\b\f\n\r\t";

/* Reads the escape after a backslash into UTF-8 bytes; p->at is past the backslash. */
static int tbj__escape(tbj__parser *p, uint8_t bytes[4], size_t *count) {
    if (p->at == p->end) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unterminated string");
    if (*p->at != 'u') {
        const char *simple = *p->at ? strchr(tbj__escapes, *p->at) : NULL;
        if (!simple) return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid escape");
        bytes[0] = (uint8_t)tbj__escaped[simple - tbj__escapes];
        *count = 1;
        p->at++;
        return 1;
    }
    p->at++;
    uint32_t cp, low;
    if (!tbj__hex4(p, &cp)) return 0;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unpaired surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->end - p->at < 2 || p->at[0] != '\\' || p->at[1] != 'u')
            return tbj__fail(p, TBJ_ERROR_SYNTAX, "unpaired surrogate in \\u escape");
        p->at += 2;
        if (!tbj__hex4(p, &low)) return 0;
        if (low < 0xDC00 || low > 0xDFFF) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unpaired surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp < 0x80) {
        bytes[0] = (uint8_t)cp;
        *count = 1;
    } else if (cp < 0x800) {
        bytes[0] = (uint8_t)(0xC0 | cp >> 6);
        bytes[1] = (uint8_t)(0x80 | (cp & 0x3F));
        *count = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (uint8_t)(0xE0 | cp >> 12);
        bytes[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (cp & 0x3F));
        *count = 3;
    } else {
        bytes[0] = (uint8_t)(0xF0 | cp >> 18);
        bytes[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        bytes[3] = (uint8_t)(0x80 | (cp & 0x3F));
        *count = 4;
    }
    return 1;
}

/* Reads the string at p->at (its opening quote), decoding it when filling. Decoded text is
 * never longer than its source, so the counting pass measures it without decoding twice. */
static int tbj__string(tbj__parser *p, const char **text, size_t *length) {
    size_t decoded = 0;
    p->at++;
    char *out = p->text;
    for (;;) {
        if (p->at == p->end) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unterminated string");
        uint8_t bytes[4];
        const uint8_t *piece = p->at;
        size_t count;
        if (*p->at == '"') break;
        if (*p->at == '\\') {
            p->at++;
            if (!tbj__escape(p, bytes, &count)) return 0;
            piece = bytes;
        } else if (*p->at < 0x20) {
            return tbj__fail(p, TBJ_ERROR_SYNTAX, "control character in a string");
        } else {
            count = tbj__utf8_length(p->at, (size_t)(p->end - p->at));
            if (!count) return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid UTF-8");
            p->at += count;
        }
        if (out) memcpy(out + decoded, piece, count);
        decoded += count;
    }
    p->at++;
    *text = tbj__text(p, decoded);
    *length = decoded;
    return 1;
}

static int tbj__digits(tbj__parser *p) {
    const uint8_t *first = p->at;
    while (p->at < p->end && *p->at >= '0' && *p->at <= '9') p->at++;
    return p->at > first;
}

static int tbj__number(tbj__parser *p, const char **text, size_t *length) {
    const uint8_t *first = p->at;
    if (*p->at == '-') p->at++;
    if (p->at < p->end && *p->at == '0') p->at++;
    else if (!tbj__digits(p)) return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid number");
    if (p->at < p->end && *p->at == '.') {
        p->at++;
        if (!tbj__digits(p)) return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid number");
    }
    if (p->at < p->end && (*p->at == 'e' || *p->at == 'E')) {
        p->at++;
        if (p->at < p->end && (*p->at == '+' || *p->at == '-')) p->at++;
        if (!tbj__digits(p)) return tbj__fail(p, TBJ_ERROR_SYNTAX, "invalid number");
    }
    *length = (size_t)(p->at - first);
    char *out = tbj__text(p, *length);
    if (out) memcpy(out, first, *length);
    *text = out;
    return 1;
}

static int tbj__literal(tbj__parser *p, const char *word) {
    size_t length = strlen(word);
    if ((size_t)(p->end - p->at) < length || memcmp(p->at, word, length) != 0)
        return tbj__fail(p, TBJ_ERROR_SYNTAX, "unexpected character");
    p->at += length;
    return 1;
}

static int tbj__value(tbj__parser *p, const char *key, size_t key_length, tbj_value **made);

/* Reads the array or object at p->at, linking its elements or members as siblings. */
static int tbj__container(tbj__parser *p, size_t *count) {
    int object = *p->at == '{';
    uint8_t close = object ? '}' : ']';
    if (p->depth >= TBJ_MAX_DEPTH) return tbj__fail(p, TBJ_ERROR_TOO_DEEP, "nesting too deep");
    p->depth++;
    p->at++;
    tbj__skip_space(p);
    tbj_value *previous = NULL;
    if (p->at < p->end && *p->at == close) {
        p->at++;
        p->depth--;
        return 1;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_length = 0;
        tbj_value *child;
        if (object) {
            tbj__skip_space(p);
            if (p->at == p->end || *p->at != '"') return tbj__fail(p, TBJ_ERROR_SYNTAX, "expected a string key");
            if (!tbj__string(p, &key, &key_length)) return 0;
            tbj__skip_space(p);
            if (p->at == p->end || *p->at != ':') return tbj__fail(p, TBJ_ERROR_SYNTAX, "expected ':'");
            p->at++;
        }
        if (!tbj__value(p, key, key_length, &child)) return 0;
        if (previous) previous->next = child;
        previous = child;
        (*count)++;
        tbj__skip_space(p);
        if (p->at < p->end && *p->at == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->end && *p->at == close) break;
        return tbj__fail(p, TBJ_ERROR_SYNTAX, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p->at++;
    p->depth--;
    return 1;
}

static int tbj__value(tbj__parser *p, const char *key, size_t key_length, tbj_value **made) {
    tbj_value scratch = {0};
    tbj_value *v = p->values ? &p->values[p->value_count] : &scratch;
    p->value_count++;
    *v = (tbj_value){.key = key, .key_length = key_length};
    *made = p->values ? v : NULL;
    tbj__skip_space(p);
    if (p->at == p->end) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unexpected end of input");
    switch (*p->at) {
    case '{':
    case '[':
        v->type = *p->at == '{' ? TBJ_OBJECT : TBJ_ARRAY;
        return tbj__container(p, &v->count);
    case '"':
        v->type = TBJ_STRING;
        return tbj__string(p, &v->text, &v->length);
    case 't':
        v->type = TBJ_BOOL;
        v->count = 1;
        return tbj__literal(p, "true");
    case 'f':
        v->type = TBJ_BOOL;
        return tbj__literal(p, "false");
    case 'n':
        v->type = TBJ_NULL;
        return tbj__literal(p, "null");
    default:
        if (*p->at != '-' && (*p->at < '0' || *p->at > '9'))
            return tbj__fail(p, TBJ_ERROR_SYNTAX, "unexpected character");
        v->type = TBJ_NUMBER;
        return tbj__number(p, &v->text, &v->length);
    }
}

static int tbj__document(tbj__parser *p) {
    tbj_value *root;
    p->at = p->start;
    if (!tbj__value(p, NULL, 0, &root)) return 0;
    tbj__skip_space(p);
    if (p->at != p->end) return tbj__fail(p, TBJ_ERROR_SYNTAX, "unexpected data after the JSON value");
    return 1;
}

tbj_value *tbj_parse(const void *json, size_t length, tbj_error *error) {
    tbj_error ignored;
    if (!error) error = &ignored;
    *error = (tbj_error){TBJ_ERROR_NONE, 0, NULL};
    const uint8_t *start = json ? (const uint8_t *)json : (const uint8_t *)"";
    if (!json) length = 0;
    tbj__parser p = {.start = start, .end = start + length, .error = error};
    if (!tbj__document(&p)) return NULL;

    /* Every value takes at least one input byte and every text at most its source plus a NUL,
     * so neither count can overflow; only their sum in bytes might. */
    if (p.value_count > SIZE_MAX / sizeof(tbj_value) ||
        p.text_bytes > SIZE_MAX - p.value_count * sizeof(tbj_value)) {
        error->code = TBJ_ERROR_NO_MEMORY;
        error->message = "out of memory";
        return NULL;
    }
    tbj_value *values = (tbj_value *)TBJ_MALLOC(p.value_count * sizeof(tbj_value) + p.text_bytes);
    if (!values) {
        error->code = TBJ_ERROR_NO_MEMORY;
        error->message = "out of memory";
        return NULL;
    }
    p = (tbj__parser){.start = start, .end = start + length, .error = error,
                      .values = values, .text = (char *)(values + p.value_count)};
    tbj__document(&p); /* the same input again: it cannot fail now */
    return values;
}

void tbj_free(tbj_value *root) {
    TBJ_FREE(root);
}

int tbj_type(const tbj_value *value) {
    return value ? value->type : TBJ_ABSENT;
}

const char *tbj_type_name(const tbj_value *value) {
    static const char *const names[] = {"nothing", "null", "boolean", "number", "string", "array", "object"};
    return names[tbj_type(value)];
}

const tbj_value *tbj_get_n(const tbj_value *object, const char *key, size_t key_length) {
    const tbj_value *found = NULL;
    if (tbj_type(object) != TBJ_OBJECT || !key) return NULL;
    for (const tbj_value *member = tbj_first(object); member; member = member->next)
        if (member->key_length == key_length && memcmp(member->key, key, key_length) == 0) found = member;
    return found;
}

const tbj_value *tbj_get(const tbj_value *object, const char *key) {
    return key ? tbj_get_n(object, key, strlen(key)) : NULL;
}

size_t tbj_count(const tbj_value *value) {
    int type = tbj_type(value);
    return type == TBJ_ARRAY || type == TBJ_OBJECT ? value->count : 0;
}

const tbj_value *tbj_at(const tbj_value *array, size_t index) {
    if (tbj_type(array) != TBJ_ARRAY || index >= array->count) return NULL;
    const tbj_value *element = tbj_first(array);
    while (index--) element = element->next;
    return element;
}

const tbj_value *tbj_first(const tbj_value *container) {
    return tbj_count(container) ? container + 1 : NULL;
}

const tbj_value *tbj_next(const tbj_value *value) {
    return value ? value->next : NULL;
}

const char *tbj_key(const tbj_value *member, size_t *length) {
    if (!member || !member->key) return NULL;
    if (length) *length = member->key_length;
    return member->key;
}

const char *tbj_string(const tbj_value *value, size_t *length) {
    if (tbj_type(value) != TBJ_STRING) return NULL;
    if (length) *length = value->length;
    return value->text;
}

int tbj_int64(const tbj_value *value, int64_t *out) {
    if (tbj_type(value) != TBJ_NUMBER) return 0;
    const char *digit = value->text;
    int negative = *digit == '-';
    digit += negative;
    /* Accumulated as a negative number: INT64_MIN has no positive twin. */
    int64_t result = 0;
    for (; *digit; digit++) {
        if (*digit < '0' || *digit > '9') return 0;
        int d = *digit - '0';
        if (result < (INT64_MIN + d) / 10) return 0;
        result = result * 10 - d;
    }
    if (!negative) {
        if (result == INT64_MIN) return 0;
        result = -result;
    }
    *out = result;
    return 1;
}

int tbj_double(const tbj_value *value, double *out) {
    if (tbj_type(value) != TBJ_NUMBER) return 0;
    double result = strtod(value->text, NULL);
    if (!isfinite(result)) return 0;
    *out = result;
    return 1;
}

int tbj_bool(const tbj_value *value, int *out) {
    if (tbj_type(value) != TBJ_BOOL) return 0;
    *out = value->count != 0;
    return 1;
}

int tbj_is_null(const tbj_value *value) {
    return tbj_type(value) == TBJ_NULL;
}

/* ---- Buffers ---------------------------------------------------------------------------- */

/* Room for `extra` more bytes and the NUL after them. */
static int tbj__reserve(tbj_buffer *b, size_t extra) {
    if (b->failed) return 0;
    if (b->data && extra < b->capacity - b->length) return 1;
    if (extra > SIZE_MAX / 2 - b->length) {
        b->failed = 1;
        return 0;
    }
    size_t capacity = b->capacity ? b->capacity * 2 : 64;
    if (capacity < b->length + extra + 1) capacity = b->length + extra + 1;
    uint8_t *data = (uint8_t *)TBJ_REALLOC(b->data, capacity);
    if (!data) {
        b->failed = 1;
        return 0;
    }
    b->data = data;
    b->capacity = capacity;
    return 1;
}

void tbj_append(tbj_buffer *buffer, const void *bytes, size_t length) {
    if (!tbj__reserve(buffer, length)) return;
    if (length) memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

void tbj_append_text(tbj_buffer *buffer, const char *text) {
    tbj_append(buffer, text, strlen(text));
}

static const char tbj__hex[] = "0123456789ABCDEF";

void tbj_append_percent_encoded(tbj_buffer *buffer, const void *bytes, size_t length) {
    const uint8_t *s = (const uint8_t *)bytes;
    size_t run = 0;
    for (size_t i = 0; i < length; i++) {
        uint8_t c = s[i];
        int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                         c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) continue;
        tbj_append(buffer, s + run, i - run);
        char escape[3] = {'%', tbj__hex[c >> 4], tbj__hex[c & 0xF]};
        tbj_append(buffer, escape, sizeof escape);
        run = i + 1;
    }
    tbj_append(buffer, s + run, length - run);
}

void tbj_query_param(tbj_buffer *path, const char *name, const void *value, size_t value_length) {
    int has_query = path->data && memchr(path->data, '?', path->length);
    tbj_append(path, has_query ? "&" : "?", 1);
    tbj_append_percent_encoded(path, name, strlen(name));
    tbj_append(path, "=", 1);
    tbj_append_percent_encoded(path, value, value_length);
}

void tbj_buffer_free(tbj_buffer *buffer) {
    TBJ_FREE(buffer->data);
    *buffer = (tbj_buffer){0};
}

/* ---- The writer --------------------------------------------------------------------------- */

static void tbj__writer_fail(tbj_writer *w) {
    w->out.failed = 1;
}

static int tbj__in_object(const tbj_writer *w) {
    return w->depth && (w->objects[(w->depth - 1) / 8] >> ((w->depth - 1) % 8) & 1);
}

/* Before a value: fails when no value may come here, else writes the ',' it needs. */
static int tbj__value_begin(tbj_writer *w) {
    if (w->out.failed) return 0;
    if (w->in_string || w->done || (tbj__in_object(w) && !w->after_key)) {
        tbj__writer_fail(w);
        return 0;
    }
    if (w->comma) tbj_append(&w->out, ",", 1);
    w->after_key = 0;
    return 1;
}

static void tbj__value_end(tbj_writer *w) {
    w->comma = 1;
    if (w->depth == 0) w->done = 1;
}

/* Escapes bytes as the inside of a JSON string ('"', '\\' and \b \f \n \r \t by their short
 * escapes, other control characters as \u00XX; '/' is left alone); fails on invalid UTF-8. */
static void tbj__string_characters(tbj_writer *w, const uint8_t *s, size_t length) {
    size_t run = 0;
    for (size_t i = 0; i < length;) {
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t count = tbj__utf8_length(s + i, length - i);
            if (!count) {
                tbj__writer_fail(w);
                return;
            }
            i += count;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        tbj_append(&w->out, s + run, i - run);
        const char *shorthand = c ? strchr(tbj__escaped, c) : NULL;
        if (shorthand) {
            char escape[2] = {'\\', tbj__escapes[shorthand - tbj__escaped]};
            tbj_append(&w->out, escape, sizeof escape);
        } else {
            char escape[6] = {'\\', 'u', '0', '0', tbj__hex[c >> 4], tbj__hex[c & 0xF]};
            tbj_append(&w->out, escape, sizeof escape);
        }
        run = ++i;
    }
    tbj_append(&w->out, s + run, length - run);
}

static void tbj__open(tbj_writer *w, int object) {
    if (!tbj__value_begin(w)) return;
    if (w->depth >= TBJ_MAX_DEPTH) {
        tbj__writer_fail(w);
        return;
    }
    tbj_append(&w->out, object ? "{" : "[", 1);
    uint8_t bit = (uint8_t)(1u << (w->depth % 8));
    if (object) w->objects[w->depth / 8] |= bit;
    else w->objects[w->depth / 8] &= (uint8_t)~bit;
    w->depth++;
    w->comma = 0;
}

static void tbj__close(tbj_writer *w, int object) {
    if (w->out.failed) return;
    if (!w->depth || tbj__in_object(w) != object || w->after_key || w->in_string) {
        tbj__writer_fail(w);
        return;
    }
    tbj_append(&w->out, object ? "}" : "]", 1);
    w->depth--;
    tbj__value_end(w);
}

void tbj_object_begin(tbj_writer *writer) { tbj__open(writer, 1); }
void tbj_object_end(tbj_writer *writer) { tbj__close(writer, 1); }
void tbj_array_begin(tbj_writer *writer) { tbj__open(writer, 0); }
void tbj_array_end(tbj_writer *writer) { tbj__close(writer, 0); }

void tbj_write_key_n(tbj_writer *writer, const void *key, size_t length) {
    if (writer->out.failed) return;
    if (!tbj__in_object(writer) || writer->after_key || writer->in_string) {
        tbj__writer_fail(writer);
        return;
    }
    if (writer->comma) tbj_append(&writer->out, ",", 1);
    tbj_append(&writer->out, "\"", 1);
    tbj__string_characters(writer, (const uint8_t *)key, length);
    tbj_append(&writer->out, "\":", 2);
    writer->comma = 0;
    writer->after_key = 1;
}

void tbj_write_key(tbj_writer *writer, const char *key) {
    tbj_write_key_n(writer, key, strlen(key));
}

void tbj_string_begin(tbj_writer *writer) {
    if (!tbj__value_begin(writer)) return;
    tbj_append(&writer->out, "\"", 1);
    writer->in_string = 1;
}

void tbj_string_append(tbj_writer *writer, const void *bytes, size_t length) {
    if (writer->out.failed) return;
    if (!writer->in_string) {
        tbj__writer_fail(writer);
        return;
    }
    tbj__string_characters(writer, (const uint8_t *)bytes, length);
}

void tbj_string_end(tbj_writer *writer) {
    if (writer->out.failed) return;
    if (!writer->in_string) {
        tbj__writer_fail(writer);
        return;
    }
    tbj_append(&writer->out, "\"", 1);
    writer->in_string = 0;
    tbj__value_end(writer);
}

void tbj_write_string_n(tbj_writer *writer, const void *bytes, size_t length) {
    if (!bytes) {
        tbj_write_null(writer);
        return;
    }
    tbj_string_begin(writer);
    tbj_string_append(writer, bytes, length);
    tbj_string_end(writer);
}

void tbj_write_string(tbj_writer *writer, const char *text) {
    tbj_write_string_n(writer, text, text ? strlen(text) : 0);
}

/* Writes a number or literal already in JSON form. */
static void tbj__scalar(tbj_writer *w, const char *text, size_t length) {
    if (!tbj__value_begin(w)) return;
    tbj_append(&w->out, text, length);
    tbj__value_end(w);
}

void tbj_write_int(tbj_writer *writer, int64_t value) {
    char digits[24];
    int length = snprintf(digits, sizeof digits, "%" PRId64, value);
    tbj__scalar(writer, digits, (size_t)length);
}

void tbj_write_double(tbj_writer *writer, double value) {
    if (!isfinite(value)) {
        tbj__writer_fail(writer);
        return;
    }
    char digits[32];
    int length = 0;
    for (int precision = 15; precision <= 17; precision++) {
        length = snprintf(digits, sizeof digits, "%.*g", precision, value);
        if (strtod(digits, NULL) == value) break;
    }
    tbj__scalar(writer, digits, (size_t)length);
}

void tbj_write_bool(tbj_writer *writer, int value) {
    if (value) tbj__scalar(writer, "true", 4);
    else tbj__scalar(writer, "false", 5);
}

void tbj_write_null(tbj_writer *writer) {
    tbj__scalar(writer, "null", 4);
}

void tbj_write_value(tbj_writer *writer, const tbj_value *value) {
    switch (tbj_type(value)) {
    case TBJ_ABSENT:
    case TBJ_NULL: tbj_write_null(writer); break;
    case TBJ_BOOL: tbj_write_bool(writer, value->count != 0); break;
    case TBJ_NUMBER: tbj__scalar(writer, value->text, value->length); break;
    case TBJ_STRING: tbj_write_string_n(writer, value->text, value->length); break;
    default: {
        int object = value->type == TBJ_OBJECT;
        tbj__open(writer, object);
        for (const tbj_value *child = tbj_first(value); child; child = child->next) {
            if (object) tbj_write_key_n(writer, child->key, child->key_length);
            tbj_write_value(writer, child);
        }
        tbj__close(writer, object);
    }
    }
}

void tbj_writer_free(tbj_writer *writer) {
    tbj_buffer_free(&writer->out);
    *writer = (tbj_writer){0};
}

tb_status tbj_finish(tbj_writer *writer, tb_status status, uint8_t **output, size_t *output_length) {
    *output = NULL;
    *output_length = 0;
    if (writer->out.failed || !writer->done) {
        tbj_writer_free(writer);
        return TB_INTERNAL;
    }
    *output = writer->out.data;
    *output_length = writer->out.length;
    *writer = (tbj_writer){0};
    return status;
}

void tbj_free_output(void *pointer) {
    TBJ_FREE(pointer);
}

tb_status tbj_error_output(tb_status status, const char *sentence, int32_t http_status,
                           uint8_t **output, size_t *output_length) {
    tbj_writer w = {0};
    tbj_object_begin(&w);
    tbj_write_key(&w, "error");
    tbj_write_string(&w, sentence);
    if (http_status >= 0) {
        tbj_write_key(&w, "status");
        tbj_write_int(&w, http_status);
    }
    tbj_object_end(&w);
    return tbj_finish(&w, status, output, output_length);
}

/* ---- Arguments ---------------------------------------------------------------------------- */

static int tbj__has_error(const tbj_arguments *a) {
    return a->error[0] != '\0' || a->out_of_memory;
}

void tbj_arguments_fail(tbj_arguments *arguments, const char *sentence) {
    if (tbj__has_error(arguments)) return;
    snprintf(arguments->error, sizeof arguments->error, "%s", sentence && *sentence ? sentence : "invalid arguments");
}

int tbj_arguments_parse(tbj_arguments *arguments, const void *input, size_t length) {
    *arguments = (tbj_arguments){0};
    tbj_error error;
    arguments->root = length ? tbj_parse(input, length, &error) : tbj_parse("{}", 2, &error);
    if (!arguments->root) {
        if (error.code == TBJ_ERROR_NO_MEMORY) arguments->out_of_memory = 1;
        else snprintf(arguments->error, sizeof arguments->error, "the arguments are not valid JSON: %s at byte %zu",
                      error.message, error.offset);
        return 0;
    }
    if (tbj_type(arguments->root) != TBJ_OBJECT) {
        snprintf(arguments->error, sizeof arguments->error, "the arguments must be a JSON object, not %s",
                 tbj_type_name(arguments->root));
        return 0;
    }
    return 1;
}

/* The member `name` of type `type` ("integer" narrows TBJ_NUMBER), recording the problem. */
static const tbj_value *tbj__argument(tbj_arguments *a, const char *name, int type, const char *type_name,
                                      int required) {
    if (tbj__has_error(a) || tbj_type(a->root) != TBJ_OBJECT) return NULL;
    const tbj_value *value = tbj_get(a->root, name);
    if (tbj_type(value) == TBJ_ABSENT || tbj_type(value) == TBJ_NULL) {
        if (required) snprintf(a->error, sizeof a->error, "the argument '%s' is required", name);
        return NULL;
    }
    int64_t integer;
    int integer_wanted = strcmp(type_name, "integer") == 0;
    if (tbj_type(value) == type && (!integer_wanted || tbj_int64(value, &integer))) return value;
    const char *article = strchr("aeiou", type_name[0]) ? "an" : "a";
    snprintf(a->error, sizeof a->error, "the argument '%s' must be %s %s, not %s", name, article, type_name,
             tbj_type_name(value));
    return NULL;
}

const tbj_value *tbj_argument(tbj_arguments *arguments, const char *name, int type, int required) {
    static const char *const names[] = {"value", "null", "boolean", "number", "string", "array", "object"};
    if (type < TBJ_ABSENT || type > TBJ_OBJECT) type = TBJ_ABSENT;
    return tbj__argument(arguments, name, type, names[type], required);
}

const char *tbj_require_string(tbj_arguments *arguments, const char *name, size_t *length) {
    return tbj_string(tbj__argument(arguments, name, TBJ_STRING, "string", 1), length);
}

const char *tbj_optional_string(tbj_arguments *arguments, const char *name, size_t *length) {
    return tbj_string(tbj__argument(arguments, name, TBJ_STRING, "string", 0), length);
}

int64_t tbj_require_int(tbj_arguments *arguments, const char *name) {
    int64_t value = 0;
    tbj_int64(tbj__argument(arguments, name, TBJ_NUMBER, "integer", 1), &value);
    return value;
}

int64_t tbj_optional_int(tbj_arguments *arguments, const char *name, int64_t fallback) {
    int64_t value = fallback;
    tbj_int64(tbj__argument(arguments, name, TBJ_NUMBER, "integer", 0), &value);
    return value;
}

tb_status tbj_arguments_status(const tbj_arguments *arguments, uint8_t **output, size_t *output_length) {
    *output = NULL;
    *output_length = 0;
    if (arguments->out_of_memory) return TB_INTERNAL;
    if (!arguments->error[0]) return TB_OK;
    return tbj_error_output(TB_INVALID_ARGUMENT, arguments->error, -1, output, output_length);
}

void tbj_arguments_free(tbj_arguments *arguments) {
    tbj_free(arguments->root);
    arguments->root = NULL;
}

#endif /* TOOLBRIDGE_JSON_IMPLEMENTED */
#endif /* TOOLBRIDGE_JSON_IMPLEMENTATION */

/*
 * quick_capture — an example ToolBridge plugin (ABI v1, see toolbridge_plugin.h).
 *
 * Tools:
 *   capture_note  — saves free text as a note: first line → title, the rest → content.
 *   capture_task  — saves free text as an open task, with an optional due date.
 *   text_stats    — counts characters, words, lines and bytes; never calls the API.
 *
 * Build (C11, libc only):
 *
 *     cc -std=c11 -Wall -Wextra -Werror -pedantic -shared -fPIC \
 *        -I Sources/PluginABI/include examples/plugins/quick_capture/quick_capture.c \
 *        -o libquick_capture.so
 *
 * call() runs on many threads at once. The only state is a struct made in init() and read
 * afterwards; everything else lives on the stack or in buffers owned by one call.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

#define TITLE_MAX_BYTES 120
#define JSON_MAX_DEPTH 128

/* ---- Growable byte buffer ------------------------------------------------------------- */

/* Bytes with a NUL kept after the last one. After a failed allocation, `failed` is set and
 * further appends do nothing, so callers check once at the end. */
typedef struct {
    uint8_t *data;
    size_t length;
    size_t capacity;
    bool failed;
} buffer;

static bool buffer_reserve(buffer *b, size_t extra) {
    if (b->failed) return false;
    if (b->data && extra < b->capacity - b->length) return true;
    if (extra > SIZE_MAX / 2 - b->length) {
        b->failed = true;
        return false;
    }
    size_t capacity = b->capacity ? b->capacity * 2 : 64;
    if (capacity < b->length + extra + 1) capacity = b->length + extra + 1;
    uint8_t *data = realloc(b->data, capacity);
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->capacity = capacity;
    return true;
}

static void buffer_append(buffer *b, const void *bytes, size_t count) {
    if (!buffer_reserve(b, count)) return;
    if (count) memcpy(b->data + b->length, bytes, count);
    b->length += count;
    b->data[b->length] = '\0';
}

static void buffer_append_text(buffer *b, const char *text) {
    buffer_append(b, text, strlen(text));
}

static void buffer_append_size(buffer *b, size_t value) {
    char digits[24];
    int count = snprintf(digits, sizeof digits, "%zu", value);
    buffer_append(b, digits, (size_t)count);
}

/* Appends bytes as the inside of a JSON string, without quotes: '"' and '\' escaped, control
 * characters as \u00XX. */
static void buffer_append_json_characters(buffer *b, const uint8_t *bytes, size_t count) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t c = bytes[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buffer_append(b, bytes + run, i - run);
        if (c < 0x20) {
            char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            buffer_append(b, escape, sizeof escape);
        } else {
            char escape[2] = {'\\', (char)c};
            buffer_append(b, escape, sizeof escape);
        }
        run = i + 1;
    }
    buffer_append(b, bytes + run, count - run);
}

/* Appends bytes as a JSON string, quotes included. */
static void buffer_append_json_string(buffer *b, const uint8_t *bytes, size_t count) {
    buffer_append(b, "\"", 1);
    buffer_append_json_characters(b, bytes, count);
    buffer_append(b, "\"", 1);
}

static void buffer_free(buffer *b) {
    free(b->data);
    *b = (buffer){0};
}

/* Hands the buffer over as the call's output, or frees it and returns TB_INTERNAL when an
 * allocation failed (the output then stays NULL). */
static tb_status buffer_finish(buffer *b, tb_status status, uint8_t **output, size_t *output_length) {
    if (b->failed || !b->data) {
        buffer_free(b);
        return TB_INTERNAL;
    }
    *output = b->data;
    *output_length = b->length;
    return status;
}

/* ---- Call outputs for failures --------------------------------------------------------- */

/* {"error": sentence} — plus "status": http_status when http_status >= 0. */
static tb_status error_output(tb_status status, const uint8_t *sentence, size_t sentence_length,
                              int32_t http_status, uint8_t **output, size_t *output_length) {
    buffer b = {0};
    buffer_append_text(&b, "{\"error\":");
    buffer_append_json_string(&b, sentence, sentence_length);
    if (http_status >= 0) {
        buffer_append_text(&b, ",\"status\":");
        buffer_append_size(&b, (size_t)http_status);
    }
    buffer_append_text(&b, "}");
    return buffer_finish(&b, status, output, output_length);
}

static tb_status invalid_argument(const char *sentence, uint8_t **output, size_t *output_length) {
    return error_output(TB_INVALID_ARGUMENT, (const uint8_t *)sentence, strlen(sentence), -1,
                        output, output_length);
}

/* ---- A small JSON reader ----------------------------------------------------------------- */

/* Validates JSON (RFC 8259, UTF-8) and decodes strings. On failure `error` names the
 * problem and `at` points at it; `out_of_memory` tells an allocation failure apart. */
typedef struct {
    const uint8_t *start;
    const uint8_t *at;
    const uint8_t *end;
    const char *error;
    bool out_of_memory;
} json_reader;

/* A top-level member the caller wants: `value` is where its value starts, or NULL. */
typedef struct {
    const char *name;
    const uint8_t *value;
} json_field;

static json_reader json_reader_make(const uint8_t *bytes, size_t length) {
    if (!bytes) {
        bytes = (const uint8_t *)"";
        length = 0;
    }
    return (json_reader){bytes, bytes, bytes + length, NULL, false};
}

static bool json_fail(json_reader *r, const char *error) {
    r->error = error;
    return false;
}

static void json_skip_space(json_reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'))
        r->at++;
}

/* Skips white space, then consumes `c` if it comes next. */
static bool json_consume(json_reader *r, uint8_t c) {
    json_skip_space(r);
    if (r->at == r->end || *r->at != c) return false;
    r->at++;
    return true;
}

static bool json_next_is(json_reader *r, uint8_t c) {
    json_skip_space(r);
    return r->at < r->end && *r->at == c;
}

/* Appends to `out` unless it is NULL (validating only). */
static void emit(buffer *out, const uint8_t *bytes, size_t count) {
    if (out) buffer_append(out, bytes, count);
}

static void emit_code_point(buffer *out, uint32_t cp) {
    uint8_t bytes[4];
    size_t count;
    if (cp < 0x80) {
        bytes[0] = (uint8_t)cp;
        count = 1;
    } else if (cp < 0x800) {
        bytes[0] = (uint8_t)(0xC0 | cp >> 6);
        bytes[1] = (uint8_t)(0x80 | (cp & 0x3F));
        count = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (uint8_t)(0xE0 | cp >> 12);
        bytes[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (cp & 0x3F));
        count = 3;
    } else {
        bytes[0] = (uint8_t)(0xF0 | cp >> 18);
        bytes[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        bytes[3] = (uint8_t)(0x80 | (cp & 0x3F));
        count = 4;
    }
    emit(out, bytes, count);
}

/* The length of the well-formed UTF-8 sequence of 2 to 4 bytes at s, or 0. */
static size_t utf8_sequence_length(const uint8_t *s, size_t available) {
    uint8_t low = 0x80, high = 0xBF;
    size_t count;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        count = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        count = 3;
        if (s[0] == 0xE0) low = 0xA0;
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

static bool json_read_hex4(json_reader *r, uint32_t *value) {
    if (r->end - r->at < 4) return json_fail(r, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = r->at[i];
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = (uint32_t)(c - 'A' + 10);
        else return json_fail(r, "invalid \\u escape");
        v = v << 4 | digit;
    }
    r->at += 4;
    *value = v;
    return true;
}

/* Reads the XXXX of a \uXXXX escape, and the low half that must follow a high surrogate. */
static bool json_read_unicode_escape(json_reader *r, uint32_t *cp) {
    uint32_t high, low;
    if (!json_read_hex4(r, &high)) return false;
    if (high < 0xD800 || high > 0xDFFF) {
        *cp = high;
        return true;
    }
    if (high > 0xDBFF) return json_fail(r, "unpaired surrogate in \\u escape");
    if (r->end - r->at < 2 || r->at[0] != '\\' || r->at[1] != 'u')
        return json_fail(r, "unpaired surrogate in \\u escape");
    r->at += 2;
    if (!json_read_hex4(r, &low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) return json_fail(r, "unpaired surrogate in \\u escape");
    *cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    return true;
}

/* Reads the escape at r->at (a backslash). */
static bool json_read_escape(json_reader *r, buffer *out) {
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    r->at++;
    if (r->at == r->end) return json_fail(r, "unterminated string");
    if (*r->at == 'u') {
        uint32_t cp;
        r->at++;
        if (!json_read_unicode_escape(r, &cp)) return false;
        emit_code_point(out, cp);
        return true;
    }
    const char *simple = *r->at ? strchr(from, *r->at) : NULL;
    if (!simple) return json_fail(r, "invalid escape");
    emit(out, (const uint8_t *)&to[simple - from], 1);
    r->at++;
    return true;
}

/* Reads the string at r->at (its opening quote), decoding it into `out` unless NULL. */
static bool json_read_string(json_reader *r, buffer *out) {
    r->at++;
    for (;;) {
        const uint8_t *run = r->at;
        while (r->at < r->end && *r->at >= 0x20 && *r->at < 0x80 && *r->at != '"' && *r->at != '\\')
            r->at++;
        emit(out, run, (size_t)(r->at - run));
        if (r->at == r->end) return json_fail(r, "unterminated string");
        if (*r->at == '"') break;
        if (*r->at == '\\') {
            if (!json_read_escape(r, out)) return false;
        } else if (*r->at < 0x20) {
            return json_fail(r, "control character in a string");
        } else {
            size_t count = utf8_sequence_length(r->at, (size_t)(r->end - r->at));
            if (!count) return json_fail(r, "invalid UTF-8");
            emit(out, r->at, count);
            r->at += count;
        }
    }
    r->at++;
    if (out && out->failed) {
        r->out_of_memory = true;
        return json_fail(r, "out of memory");
    }
    return true;
}

static bool json_skip_digits(json_reader *r) {
    const uint8_t *first = r->at;
    while (r->at < r->end && *r->at >= '0' && *r->at <= '9') r->at++;
    return r->at > first;
}

static bool json_skip_number(json_reader *r) {
    if (*r->at == '-') r->at++;
    if (r->at < r->end && *r->at == '0') r->at++;
    else if (!json_skip_digits(r)) return json_fail(r, "invalid number");
    if (r->at < r->end && *r->at == '.') {
        r->at++;
        if (!json_skip_digits(r)) return json_fail(r, "invalid number");
    }
    if (r->at < r->end && (*r->at == 'e' || *r->at == 'E')) {
        r->at++;
        if (r->at < r->end && (*r->at == '+' || *r->at == '-')) r->at++;
        if (!json_skip_digits(r)) return json_fail(r, "invalid number");
    }
    return true;
}

static bool json_skip_literal(json_reader *r, const char *word) {
    size_t length = strlen(word);
    if ((size_t)(r->end - r->at) < length || memcmp(r->at, word, length) != 0)
        return json_fail(r, "unexpected character");
    r->at += length;
    return true;
}

static bool json_read_object(json_reader *r, int depth, json_field *fields, size_t count);

static bool json_skip_array(json_reader *r, int depth);

static bool json_skip_value(json_reader *r, int depth) {
    json_skip_space(r);
    if (r->at == r->end) return json_fail(r, "unexpected end of input");
    switch (*r->at) {
    case '{': return json_read_object(r, depth + 1, NULL, 0);
    case '[': return json_skip_array(r, depth + 1);
    case '"': return json_read_string(r, NULL);
    case 't': return json_skip_literal(r, "true");
    case 'f': return json_skip_literal(r, "false");
    case 'n': return json_skip_literal(r, "null");
    default:
        if (*r->at == '-' || (*r->at >= '0' && *r->at <= '9')) return json_skip_number(r);
        return json_fail(r, "unexpected character");
    }
}

static bool json_skip_array(json_reader *r, int depth) {
    if (depth > JSON_MAX_DEPTH) return json_fail(r, "nesting too deep");
    r->at++;
    if (json_consume(r, ']')) return true;
    do {
        if (!json_skip_value(r, depth)) return false;
    } while (json_consume(r, ','));
    return json_consume(r, ']') || json_fail(r, "expected ',' or ']'");
}

/* Reads one "key": value member; when the key is a wanted field, notes where its value
 * starts (the last occurrence wins). `key` is scratch space. */
static bool json_read_member(json_reader *r, int depth, json_field *fields, size_t count, buffer *key) {
    if (!json_next_is(r, '"')) return json_fail(r, "expected a string key");
    key->length = 0;
    if (!json_read_string(r, count ? key : NULL)) return false;
    if (!json_consume(r, ':')) return json_fail(r, "expected ':'");
    json_skip_space(r);
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen(fields[i].name);
        if (key->length == length && memcmp(key->data, fields[i].name, length) == 0)
            fields[i].value = r->at;
    }
    return json_skip_value(r, depth);
}

/* Reads the object at r->at (its '{'). */
static bool json_read_object(json_reader *r, int depth, json_field *fields, size_t count) {
    if (depth > JSON_MAX_DEPTH) return json_fail(r, "nesting too deep");
    r->at++;
    if (json_consume(r, '}')) return true;
    buffer key = {0};
    bool ok;
    do {
        ok = json_read_member(r, depth, fields, count, &key);
    } while (ok && json_consume(r, ','));
    buffer_free(&key);
    return ok && (json_consume(r, '}') || json_fail(r, "expected ',' or '}'"));
}

/* Reads a whole document that must be one JSON object, noting where the wanted top-level
 * members' values start. */
static bool json_read_document(json_reader *r, json_field *fields, size_t count) {
    if (!json_next_is(r, '{')) return json_fail(r, "expected '{'");
    if (!json_read_object(r, 1, fields, count)) return false;
    json_skip_space(r);
    return r->at == r->end || json_fail(r, "unexpected data after the object");
}

/* Decodes the (already validated) string value at `value` into `out`. */
static bool json_decode_string(json_reader *r, const uint8_t *value, buffer *out) {
    r->at = value;
    buffer_reserve(out, (size_t)(r->end - value)); /* decoding never grows the text */
    return json_read_string(r, out);
}

/* ---- Tool arguments ------------------------------------------------------------------------ */

static bool is_string(const uint8_t *value) { return value && *value == '"'; }

/* Absent and null both mean "not given" for an optional argument. */
static bool is_absent(const uint8_t *value) { return !value || *value == 'n'; }

static tb_status read_arguments(json_reader *r, json_field *fields, size_t count,
                                uint8_t **output, size_t *output_length) {
    if (json_read_document(r, fields, count)) return TB_OK;
    if (r->out_of_memory) return TB_INTERNAL;
    char sentence[128];
    snprintf(sentence, sizeof sentence, "input is not a valid JSON object: %s at byte %zu",
             r->error, (size_t)(r->at - r->start));
    return invalid_argument(sentence, output, output_length);
}

static tb_status read_text(json_reader *r, const uint8_t *value, buffer *text,
                           uint8_t **output, size_t *output_length) {
    if (!is_string(value)) return invalid_argument("text is required and must be a string", output, output_length);
    return json_decode_string(r, value, text) ? TB_OK : TB_INTERNAL;
}

/* Decodes an optional string argument; leaves `out` empty with data NULL when not given. */
static tb_status read_optional_string(json_reader *r, const uint8_t *value, const char *type_error,
                                      buffer *out, uint8_t **output, size_t *output_length) {
    if (is_absent(value)) return TB_OK;
    if (!is_string(value)) return invalid_argument(type_error, output, output_length);
    return json_decode_string(r, value, out) ? TB_OK : TB_INTERNAL;
}

/* Writes the optional "tags" argument (an array of strings) to `tags` as a JSON array. */
static tb_status read_tags(json_reader *r, const uint8_t *value, buffer *tags,
                           uint8_t **output, size_t *output_length) {
    buffer_append_text(tags, "[");
    if (!is_absent(value)) {
        if (*value != '[') return invalid_argument("tags must be an array of strings", output, output_length);
        r->at = value + 1;
        buffer tag = {0};
        bool ok = true;
        if (!json_consume(r, ']')) {
            do {
                ok = json_next_is(r, '"');
                if (!ok) break;
                tag.length = 0;
                json_read_string(r, &tag);
                if (tags->length > 1) buffer_append_text(tags, ",");
                buffer_append_json_string(tags, tag.data, tag.length);
            } while (json_consume(r, ','));
        }
        tags->failed |= tag.failed;
        buffer_free(&tag);
        if (!ok) return invalid_argument("tags must be an array of strings", output, output_length);
    }
    buffer_append_text(tags, "]");
    return tags->failed ? TB_INTERNAL : TB_OK;
}

/* ---- Text helpers ---------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *bytes;
    size_t length;
} span;

static bool is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static span trim_end(span s) {
    while (s.length && is_space(s.bytes[s.length - 1])) s.length--;
    return s;
}

static span trim(span s) {
    while (s.length && is_space(s.bytes[0])) {
        s.bytes++;
        s.length--;
    }
    return trim_end(s);
}

/* Drops whole leading lines that hold only white space; keeps the indentation of the first
 * line with text. */
static span skip_blank_lines(span s) {
    size_t line_start = 0;
    for (size_t i = 0; i < s.length && is_space(s.bytes[i]); i++)
        if (s.bytes[i] == '\n') line_start = i + 1;
    return (span){s.bytes + line_start, s.length - line_start};
}

/* Cuts to at most TITLE_MAX_BYTES without splitting a UTF-8 character. */
static span cut_title(span s) {
    if (s.length <= TITLE_MAX_BYTES) return s;
    size_t length = TITLE_MAX_BYTES;
    while (length && (s.bytes[length] & 0xC0) == 0x80) length--;
    return trim_end((span){s.bytes, length});
}

/* Splits non-blank text into a title (its first line with text, trimmed and cut), the whole
 * trimmed first line when cutting dropped part of it (else empty), and a body (the lines
 * after it, without leading blank lines or trailing white space). */
static void split_text(const buffer *text, span *title, span *cut_line, span *body) {
    span all = trim((span){text->data, text->length});
    const uint8_t *newline = memchr(all.bytes, '\n', all.length);
    size_t first_line = newline ? (size_t)(newline - all.bytes) : all.length;
    span line = trim((span){all.bytes, first_line});
    *title = cut_title(line);
    *cut_line = (span){line.bytes, line.length > TITLE_MAX_BYTES ? line.length : 0};
    span rest = {all.bytes + first_line, all.length - first_line};
    *body = skip_blank_lines(rest);
}

static bool is_blank(const buffer *text) {
    return trim((span){text->data, text->length}).length == 0;
}

/* ---- Calling the API --------------------------------------------------------------------- */

typedef struct {
    const tb_host_services *host;
} plugin_state;

/* Logs "POST <path>: <what> (<code>)"; code is an HTTP status or api_request's status. */
static void log_error(const plugin_state *state, const tb_call_context *context, const char *path,
                      const char *what, int32_t code) {
    char line[256];
    int length = snprintf(line, sizeof line, "POST %s: %s (%d)", path, what, (int)code);
    if (length < 0) return;
    if ((size_t)length >= sizeof line) length = sizeof line - 1;
    state->host->log(context, TB_LOG_ERROR, line, (size_t)length);
}

/* api_request itself failed. Transport outcomes keep their status; anything else (such as
 * TB_INVALID_ARGUMENT for a request the host finds malformed) is this plugin's fault, not the
 * caller's, so it becomes TB_INTERNAL. */
static tb_status request_failed(const plugin_state *state, const tb_call_context *context, const char *path,
                                tb_status host_status, uint8_t **output, size_t *output_length) {
    tb_status status = host_status;
    const char *sentence;
    switch (status) {
    case TB_UNAVAILABLE: sentence = "the ToolBridge API is unreachable"; break;
    case TB_CANCELLED: sentence = "the call was cancelled before the ToolBridge API answered"; break;
    case TB_DEADLINE_EXCEEDED: sentence = "the call's deadline passed before the ToolBridge API answered"; break;
    default:
        sentence = "the request to the ToolBridge API failed";
        status = TB_INTERNAL;
    }
    if (status != TB_CANCELLED) log_error(state, context, path, sentence, host_status);
    return error_output(status, (const uint8_t *)sentence, strlen(sentence), -1, output, output_length);
}

/* A non-2xx answer: the API's own "error" sentence when its body has one. */
static tb_status api_error(int32_t http_status, const uint8_t *response, size_t response_length,
                           uint8_t **output, size_t *output_length) {
    json_field fields[] = {{"error", NULL}};
    json_reader r = json_reader_make(response, response_length);
    buffer sentence = {0};
    bool found = json_read_document(&r, fields, 1) && is_string(fields[0].value) &&
                 json_decode_string(&r, fields[0].value, &sentence) && sentence.length > 0;
    if (!found) {
        buffer_free(&sentence);
        char generic[64];
        snprintf(generic, sizeof generic, "the ToolBridge API answered with HTTP status %d", (int)http_status);
        buffer_append_text(&sentence, generic);
    }
    tb_status status = sentence.failed ? TB_INTERNAL
        : error_output(TB_TOOL_ERROR, sentence.data, sentence.length, http_status, output, output_length);
    buffer_free(&sentence);
    return status;
}

/* A 2xx answer: the created item, passed on as is once it is known to be a JSON object. */
static tb_status created_item(const plugin_state *state, const tb_call_context *context, const char *path,
                              int32_t http_status, const uint8_t *response, size_t response_length,
                              uint8_t **output, size_t *output_length) {
    json_reader r = json_reader_make(response, response_length);
    if (!json_read_document(&r, NULL, 0)) {
        static const char sentence[] = "the ToolBridge API answered with a body that is not a JSON object";
        log_error(state, context, path, sentence, http_status);
        return error_output(TB_TOOL_ERROR, (const uint8_t *)sentence, strlen(sentence), http_status,
                            output, output_length);
    }
    buffer item = {0};
    buffer_append(&item, response, response_length);
    return buffer_finish(&item, TB_OK, output, output_length);
}

static tb_status post_item(const plugin_state *state, const tb_call_context *context, const char *path,
                           const buffer *body, uint8_t **output, size_t *output_length) {
    tb_api_request request = {
        .struct_size = sizeof request,
        .method = "POST",
        .path = path,
        .path_length = strlen(path),
        .body = body->data,
        .body_length = body->length,
    };
    tb_api_response response = {.struct_size = sizeof response};
    tb_status status = state->host->api_request(context, &request, &response);
    const uint8_t *answer = response.body;
    size_t answer_length = answer ? response.body_length : 0;
    if (status != TB_OK) {
        status = request_failed(state, context, path, status, output, output_length);
    } else if (response.http_status < 200 || response.http_status > 299) {
        status = api_error(response.http_status, answer, answer_length, output, output_length);
    } else {
        status = created_item(state, context, path, response.http_status, answer, answer_length,
                              output, output_length);
    }
    if (response.body) state->host->free(response.body);
    return status;
}

/* ---- The tools ------------------------------------------------------------------------------ */

typedef tb_status (*tool_function)(const plugin_state *state, const tb_call_context *context,
                                   const uint8_t *input, size_t input_length,
                                   uint8_t **output, size_t *output_length);

/* Reads the required "text" argument of a capture tool, which must hold some non-blank text. */
static tb_status read_capture_text(json_reader *r, const uint8_t *value, buffer *text,
                                   uint8_t **output, size_t *output_length) {
    tb_status status = read_text(r, value, text, output, output_length);
    if (status == TB_OK && is_blank(text)) return invalid_argument("text must not be empty", output, output_length);
    return status;
}

/* Appends "title":…,"<body_key>":… from the split text. Nothing is lost: when the title had
 * to be cut, the body starts with the whole first line, then a newline and the other lines. */
static void append_title_and_body(buffer *json, const buffer *text, const char *body_key) {
    span title, cut_line, body;
    split_text(text, &title, &cut_line, &body);
    buffer_append_text(json, "\"title\":");
    buffer_append_json_string(json, title.bytes, title.length);
    buffer_append_text(json, ",\"");
    buffer_append_text(json, body_key);
    buffer_append_text(json, "\":\"");
    buffer_append_json_characters(json, cut_line.bytes, cut_line.length);
    if (cut_line.length && body.length) buffer_append_json_characters(json, (const uint8_t *)"\n", 1);
    buffer_append_json_characters(json, body.bytes, body.length);
    buffer_append_text(json, "\"");
}

static tb_status capture_note(const plugin_state *state, const tb_call_context *context,
                              const uint8_t *input, size_t input_length,
                              uint8_t **output, size_t *output_length) {
    json_field fields[] = {{"text", NULL}, {"tags", NULL}};
    json_reader r = json_reader_make(input, input_length);
    buffer text = {0}, tags = {0}, body = {0};
    tb_status status = read_arguments(&r, fields, 2, output, output_length);
    if (status == TB_OK) status = read_capture_text(&r, fields[0].value, &text, output, output_length);
    if (status == TB_OK) status = read_tags(&r, fields[1].value, &tags, output, output_length);
    if (status == TB_OK) {
        buffer_append_text(&body, "{");
        append_title_and_body(&body, &text, "content");
        buffer_append_text(&body, ",\"tags\":");
        buffer_append(&body, tags.data, tags.length);
        buffer_append_text(&body, "}");
        status = body.failed ? TB_INTERNAL : post_item(state, context, "/v1/notes", &body, output, output_length);
    }
    buffer_free(&text);
    buffer_free(&tags);
    buffer_free(&body);
    return status;
}

static tb_status capture_task(const plugin_state *state, const tb_call_context *context,
                              const uint8_t *input, size_t input_length,
                              uint8_t **output, size_t *output_length) {
    json_field fields[] = {{"text", NULL}, {"due_date", NULL}};
    json_reader r = json_reader_make(input, input_length);
    buffer text = {0}, due_date = {0}, body = {0};
    tb_status status = read_arguments(&r, fields, 2, output, output_length);
    if (status == TB_OK) status = read_capture_text(&r, fields[0].value, &text, output, output_length);
    if (status == TB_OK)
        status = read_optional_string(&r, fields[1].value, "due_date must be a string", &due_date,
                                      output, output_length);
    if (status == TB_OK) {
        buffer_append_text(&body, "{");
        append_title_and_body(&body, &text, "description");
        buffer_append_text(&body, ",\"status\":\"open\"");
        if (due_date.data) {
            buffer_append_text(&body, ",\"dueDate\":");
            buffer_append_json_string(&body, due_date.data, due_date.length);
        }
        buffer_append_text(&body, "}");
        status = body.failed ? TB_INTERNAL : post_item(state, context, "/v1/tasks", &body, output, output_length);
    }
    buffer_free(&text);
    buffer_free(&due_date);
    buffer_free(&body);
    return status;
}

/* Counts over valid UTF-8: characters are code points, words runs of non-white-space. */
static tb_status stats_output(const buffer *text, uint8_t **output, size_t *output_length) {
    size_t characters = 0, words = 0, newlines = 0;
    bool in_word = false;
    for (size_t i = 0; i < text->length; i++) {
        uint8_t c = text->data[i];
        characters += (c & 0xC0) != 0x80;
        newlines += c == '\n';
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            words++;
            in_word = true;
        }
    }
    buffer b = {0};
    buffer_append_text(&b, "{\"characters\":");
    buffer_append_size(&b, characters);
    buffer_append_text(&b, ",\"words\":");
    buffer_append_size(&b, words);
    buffer_append_text(&b, ",\"lines\":");
    buffer_append_size(&b, text->length ? newlines + 1 : 0);
    buffer_append_text(&b, ",\"bytes\":");
    buffer_append_size(&b, text->length);
    buffer_append_text(&b, "}");
    return buffer_finish(&b, TB_OK, output, output_length);
}

static tb_status text_stats(const plugin_state *state, const tb_call_context *context,
                            const uint8_t *input, size_t input_length,
                            uint8_t **output, size_t *output_length) {
    (void)state;
    (void)context;
    json_field fields[] = {{"text", NULL}};
    json_reader r = json_reader_make(input, input_length);
    buffer text = {0};
    tb_status status = read_arguments(&r, fields, 1, output, output_length);
    if (status == TB_OK) status = read_text(&r, fields[0].value, &text, output, output_length);
    if (status == TB_OK) status = stats_output(&text, output, output_length);
    buffer_free(&text);
    return status;
}

/* ---- The plugin ------------------------------------------------------------------------------ */

#define ITEM_SCHEMA                                                                            \
    "{\"type\":\"object\",\"properties\":{\"uid\":{\"type\":\"string\"},"                      \
    "\"version\":{\"type\":\"integer\"},\"updatedAt\":{\"type\":\"string\"},"                 \
    "\"deletedAt\":{\"type\":\"string\"},\"payload\":{\"type\":\"object\"}},"                 \
    "\"required\":[\"uid\",\"version\",\"updatedAt\",\"payload\"]}"

static const char tools_json[] =
    "[{\"name\":\"capture_note\",\"title\":\"Capture a note\","
    "\"description\":\"Saves text as a new note. The first line becomes the title (at most 120 "
    "bytes), the remaining lines the content; a longer first line is cut in the title and kept "
    "whole at the start of the content.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"text\":{\"type\":\"string\",\"description\":\"The note; its first line is the title.\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"Tags for the note.\"}},"
    "\"required\":[\"text\"]},"
    "\"outputSchema\":" ITEM_SCHEMA ","
    "\"annotations\":{\"readOnlyHint\":false,\"destructiveHint\":false}},"

    "{\"name\":\"capture_task\",\"title\":\"Capture a task\","
    "\"description\":\"Saves text as a new open task. The first line becomes the title (at most "
    "120 bytes), the remaining lines the description; a longer first line is cut in the title and "
    "kept whole at the start of the description.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"text\":{\"type\":\"string\",\"description\":\"The task; its first line is the title.\"},"
    "\"due_date\":{\"type\":\"string\",\"description\":\"When the task is due, e.g. 2026-12-01.\"}},"
    "\"required\":[\"text\"]},"
    "\"outputSchema\":" ITEM_SCHEMA ","
    "\"annotations\":{\"readOnlyHint\":false,\"destructiveHint\":false}},"

    "{\"name\":\"text_stats\",\"title\":\"Text statistics\","
    "\"description\":\"Counts the characters (Unicode code points), words, lines and bytes of a "
    "text. Reads and writes no data.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"text\":{\"type\":\"string\",\"description\":\"The text to count.\"}},"
    "\"required\":[\"text\"]},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"characters\":{\"type\":\"integer\"},\"words\":{\"type\":\"integer\"},"
    "\"lines\":{\"type\":\"integer\"},\"bytes\":{\"type\":\"integer\"}},"
    "\"required\":[\"characters\",\"words\",\"lines\",\"bytes\"]},"
    "\"annotations\":{\"readOnlyHint\":true}}]";

static const struct {
    const char *name;
    tool_function run;
} tools[] = {
    {"capture_note", capture_note},
    {"capture_task", capture_task},
    {"text_stats", text_stats},
};

/* The host must provide every service up to and including `log`, the last one used. */
#define HAS_SERVICE(services, field) \
    ((services)->struct_size >= offsetof(tb_host_services, field) + sizeof((services)->field) && (services)->field)

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    if (!services || !HAS_SERVICE(services, api_request) || !HAS_SERVICE(services, free) ||
        !HAS_SERVICE(services, log)) {
        if (error_message) *error_message = "the host does not provide api_request, free and log";
        return TB_UNIMPLEMENTED;
    }
    plugin_state *plugin = malloc(sizeof *plugin);
    if (!plugin) {
        if (error_message) *error_message = "out of memory";
        return TB_INTERNAL;
    }
    plugin->host = services;
    *state = plugin;
    return TB_OK;
}

static void plugin_deinit(void *state) {
    free(state);
}

static tb_status unknown_tool(const char *tool, size_t tool_length, uint8_t **output, size_t *output_length) {
    buffer sentence = {0};
    buffer_append_text(&sentence, "quick_capture has no tool named \"");
    buffer_append(&sentence, tool, tool_length);
    buffer_append_text(&sentence, "\"");
    tb_status status = sentence.failed ? TB_INTERNAL
        : error_output(TB_UNKNOWN_TOOL, sentence.data, sentence.length, -1, output, output_length);
    buffer_free(&sentence);
    return status;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    *output = NULL;
    *output_length = 0;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        if (strlen(tools[i].name) == tool_length && memcmp(tools[i].name, tool, tool_length) == 0)
            return tools[i].run(state, context, input, input_length, output, output_length);
    }
    return unknown_tool(tool, tool_length, output, output_length);
}

static void plugin_free_output(void *pointer) {
    free(pointer);
}

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .reserved = 0,
    .name = "quick_capture",
    .version = "1.0.0",
    .description = "Captures free text as notes and tasks, and counts the words in a text.",
    .tools_json = tools_json,
    .init = plugin_init,
    .deinit = plugin_deinit,
    .call = plugin_call,
    .free_output = plugin_free_output,
};

/* Every host speaking ABI 1.x is enough: this plugin uses only what 1.0 defines. */
const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

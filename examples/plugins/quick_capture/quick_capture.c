/*
 * quick_capture — an example ToolBridge plugin (ABI v1, see toolbridge_plugin.h).
 *
 * Tools:
 *   capture_note  — saves free text as a note: first line → title, the rest → content.
 *   capture_task  — saves free text as an open task, with an optional due date.
 *   text_stats    — counts characters, words, lines and bytes; never calls the API.
 *
 * Build (C11, libc only; toolbridge_json.h reads and writes the JSON):
 *
 *     cc -std=c11 -Wall -Wextra -Werror -pedantic -shared -fPIC \
 *        -I Sources/PluginABI/include examples/plugins/quick_capture/quick_capture.c \
 *        -o libquick_capture.so
 *
 * call() runs on many threads at once. The only state is a struct made in init() and read
 * afterwards; everything else lives on the stack or in buffers owned by one call.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"
#define TOOLBRIDGE_JSON_IMPLEMENTATION
#include "toolbridge_json.h"

#define TITLE_MAX_BYTES 120

/* ---- Text helpers ---------------------------------------------------------------------------- */

typedef struct {
    const char *bytes;
    size_t length;
} span;

static bool is_space(char c) {
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
    while (length && ((unsigned char)s.bytes[length] & 0xC0) == 0x80) length--;
    return trim_end((span){s.bytes, length});
}

/* Splits non-blank text into a title (its first line with text, trimmed and cut), the whole
 * trimmed first line when cutting dropped part of it (else empty), and a body (the lines
 * after it, without leading blank lines or trailing white space). */
static void split_text(span text, span *title, span *cut_line, span *body) {
    span all = trim(text);
    const char *newline = memchr(all.bytes, '\n', all.length);
    size_t first_line = newline ? (size_t)(newline - all.bytes) : all.length;
    span line = trim((span){all.bytes, first_line});
    *title = cut_title(line);
    *cut_line = (span){line.bytes, line.length > TITLE_MAX_BYTES ? line.length : 0};
    span rest = {all.bytes + first_line, all.length - first_line};
    *body = skip_blank_lines(rest);
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
    return tbj_error_output(status, sentence, -1, output, output_length);
}

/* A non-2xx answer: the API's own "error" sentence when its body has one. */
static tb_status api_error(int32_t http_status, const uint8_t *response, size_t response_length,
                           uint8_t **output, size_t *output_length) {
    tbj_value *body = tbj_parse(response, response_length, NULL);
    const char *sentence = tbj_string(tbj_get(body, "error"), NULL);
    char generic[64];
    if (!sentence || !*sentence) {
        snprintf(generic, sizeof generic, "the ToolBridge API answered with HTTP status %d", (int)http_status);
        sentence = generic;
    }
    tb_status status = tbj_error_output(TB_TOOL_ERROR, sentence, http_status, output, output_length);
    tbj_free(body);
    return status;
}

/* A 2xx answer: the created item, passed on once it is known to be a JSON object. */
static tb_status created_item(const plugin_state *state, const tb_call_context *context, const char *path,
                              int32_t http_status, const uint8_t *response, size_t response_length,
                              uint8_t **output, size_t *output_length) {
    tbj_value *item = tbj_parse(response, response_length, NULL);
    tb_status status;
    if (tbj_type(item) == TBJ_OBJECT) {
        tbj_writer w = {0};
        tbj_write_value(&w, item);
        status = tbj_finish(&w, TB_OK, output, output_length);
    } else {
        static const char sentence[] = "the ToolBridge API answered with a body that is not a JSON object";
        log_error(state, context, path, sentence, http_status);
        status = tbj_error_output(TB_TOOL_ERROR, sentence, http_status, output, output_length);
    }
    tbj_free(item);
    return status;
}

/* POSTs the JSON the writer holds (and frees it). */
static tb_status post_item(const plugin_state *state, const tb_call_context *context, const char *path,
                           tbj_writer *body, uint8_t **output, size_t *output_length) {
    if (body->out.failed || !body->done) {
        tbj_writer_free(body);
        return TB_INTERNAL;
    }
    tb_api_request request = {
        .struct_size = sizeof request,
        .method = "POST",
        .path = path,
        .path_length = strlen(path),
        .body = body->out.data,
        .body_length = body->out.length,
    };
    tb_api_response response = {.struct_size = sizeof response};
    tb_status status = state->host->api_request(context, &request, &response);
    tbj_writer_free(body);
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
                                   tbj_arguments *arguments, uint8_t **output, size_t *output_length);

/* The required "text" argument of a capture tool, which must hold some non-blank text. */
static span capture_text(tbj_arguments *arguments) {
    span text = {NULL, 0};
    text.bytes = tbj_require_string(arguments, "text", &text.length);
    if (text.bytes && trim(text).length == 0) tbj_arguments_fail(arguments, "the argument 'text' must not be empty");
    return text;
}

/* Writes "title":…,"<body_key>":… from the split text. Nothing is lost: when the title had to
 * be cut, the body starts with the whole first line, then a newline and the other lines. */
static void write_title_and_body(tbj_writer *w, span text, const char *body_key) {
    span title, cut_line, body;
    split_text(text, &title, &cut_line, &body);
    tbj_write_key(w, "title");
    tbj_write_string_n(w, title.bytes, title.length);
    tbj_write_key(w, body_key);
    tbj_string_begin(w);
    tbj_string_append(w, cut_line.bytes, cut_line.length);
    if (cut_line.length && body.length) tbj_string_append(w, "\n", 1);
    tbj_string_append(w, body.bytes, body.length);
    tbj_string_end(w);
}

static tb_status capture_note(const plugin_state *state, const tb_call_context *context,
                              tbj_arguments *arguments, uint8_t **output, size_t *output_length) {
    span text = capture_text(arguments);
    const tbj_value *tags = tbj_argument(arguments, "tags", TBJ_ARRAY, 0);
    for (const tbj_value *tag = tbj_first(tags); tag; tag = tbj_next(tag))
        if (tbj_type(tag) != TBJ_STRING) tbj_arguments_fail(arguments, "the argument 'tags' must be an array of strings");
    tb_status status = tbj_arguments_status(arguments, output, output_length);
    if (status != TB_OK) return status;

    tbj_writer body = {0};
    tbj_object_begin(&body);
    write_title_and_body(&body, text, "content");
    tbj_write_key(&body, "tags");
    tbj_array_begin(&body);
    for (const tbj_value *tag = tbj_first(tags); tag; tag = tbj_next(tag)) tbj_write_value(&body, tag);
    tbj_array_end(&body);
    tbj_object_end(&body);
    return post_item(state, context, "/v1/notes", &body, output, output_length);
}

static tb_status capture_task(const plugin_state *state, const tb_call_context *context,
                              tbj_arguments *arguments, uint8_t **output, size_t *output_length) {
    span text = capture_text(arguments);
    size_t due_date_length = 0;
    const char *due_date = tbj_optional_string(arguments, "due_date", &due_date_length);
    tb_status status = tbj_arguments_status(arguments, output, output_length);
    if (status != TB_OK) return status;

    tbj_writer body = {0};
    tbj_object_begin(&body);
    write_title_and_body(&body, text, "description");
    tbj_write_key(&body, "status");
    tbj_write_string(&body, "open");
    if (due_date) {
        tbj_write_key(&body, "dueDate");
        tbj_write_string_n(&body, due_date, due_date_length);
    }
    tbj_object_end(&body);
    return post_item(state, context, "/v1/tasks", &body, output, output_length);
}

/* Counts over valid UTF-8: characters are code points, words runs of non-white-space. */
static tb_status text_stats(const plugin_state *state, const tb_call_context *context,
                            tbj_arguments *arguments, uint8_t **output, size_t *output_length) {
    (void)state;
    (void)context;
    span text = {NULL, 0};
    text.bytes = tbj_require_string(arguments, "text", &text.length);
    tb_status status = tbj_arguments_status(arguments, output, output_length);
    if (status != TB_OK) return status;

    size_t characters = 0, words = 0, newlines = 0;
    bool in_word = false;
    for (size_t i = 0; i < text.length; i++) {
        char c = text.bytes[i];
        characters += ((unsigned char)c & 0xC0) != 0x80;
        newlines += c == '\n';
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            words++;
            in_word = true;
        }
    }
    tbj_writer w = {0};
    tbj_object_begin(&w);
    tbj_write_key(&w, "characters");
    tbj_write_int(&w, (int64_t)characters);
    tbj_write_key(&w, "words");
    tbj_write_int(&w, (int64_t)words);
    tbj_write_key(&w, "lines");
    tbj_write_int(&w, text.length ? (int64_t)newlines + 1 : 0);
    tbj_write_key(&w, "bytes");
    tbj_write_int(&w, (int64_t)text.length);
    tbj_object_end(&w);
    return tbj_finish(&w, TB_OK, output, output_length);
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

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    *output = NULL;
    *output_length = 0;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        if (strlen(tools[i].name) != tool_length || memcmp(tools[i].name, tool, tool_length) != 0) continue;
        tbj_arguments arguments;
        tbj_arguments_parse(&arguments, input, input_length);
        tb_status status = tools[i].run(state, context, &arguments, output, output_length);
        tbj_arguments_free(&arguments);
        return status;
    }
    tbj_buffer sentence = {0};
    tbj_append_text(&sentence, "quick_capture has no tool named \"");
    tbj_append(&sentence, tool, tool_length);
    tbj_append_text(&sentence, "\"");
    tb_status status = sentence.failed ? TB_INTERNAL
        : tbj_error_output(TB_UNKNOWN_TOOL, (const char *)sentence.data, -1, output, output_length);
    tbj_buffer_free(&sentence);
    return status;
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
    .free_output = tbj_free_output,
};

/* Every host speaking ABI 1.x is enough: this plugin uses only what 1.0 defines. */
const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

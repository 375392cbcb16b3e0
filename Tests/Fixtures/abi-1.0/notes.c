/* Fixture: a plugin built against the verbatim ABI 1.0 header in this directory, making API
 * requests as a 1.0 plugin does: create a note (POST), read it (GET), rename it (PATCH with
 * If-Match). Each tool answers {"http_status": N, "response_size": S, "body": <the API's body>},
 * S being the response struct_size the host set.
 *
 * Built with -DFUTURE_MINOR it claims ABI 1.9 instead: its descriptor, tb_api_request and
 * tb_api_response each carry fields appended after the 1.0 ones (here by embedding the 1.0
 * struct first, the same layout as appending), which a 1.0..1.8 host must ignore. It also looks
 * for a host service appended in "1.9" the way the header says, and so never calls it here.
 * Its answers add "tail_untouched" (the host wrote nothing past its own response layout) and
 * "future_service" (whether the host's table covered the appended service).
 *
 * Tool inputs are the test's own flat objects of strings ({"uid": "...", "title": "..."}),
 * read by a lookup that is enough for them and nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

/* The header is the 1.0 one: its layout is the one this fixture promises to keep working. */
_Static_assert(sizeof(tb_plugin_descriptor) == 80 && sizeof(tb_api_request) == 56 && sizeof(tb_api_response) == 24
                   && sizeof(tb_host_services) == 64 && TOOLBRIDGE_ABI_MINOR == 0,
               "built against the ABI 1.0 header");

#ifdef FUTURE_MINOR
#define PLUGIN "abi_future"
#define ABI_MINOR 9
#define TAIL_MARK 0xA5A5A5A5A5A5A5A5u

typedef struct {
    tb_plugin_descriptor v1_0;
    uint64_t flags;           /* appended in "1.9" */
    const char *resources_json;
} descriptor_type;

typedef struct {
    tb_api_request v1_0;
    uint64_t options;         /* appended in "1.9" */
    const char *content_type;
} request_type;

typedef struct {
    tb_api_response v1_0;
    uint64_t retry_after_ms;  /* appended in "1.9" */
    uint8_t *headers;
} response_type;

typedef struct {
    tb_host_services v1_0;
    tb_status (*api_request_async)(const tb_call_context *context, const tb_api_request *request, void *callback);
} services_type;

#define BASE(value) ((value).v1_0)
#else
#define PLUGIN "abi_1_0"
#define ABI_MINOR TOOLBRIDGE_ABI_MINOR

typedef tb_plugin_descriptor descriptor_type;
typedef tb_api_request request_type;
typedef tb_api_response response_type;
typedef tb_host_services services_type;

#define BASE(value) (value)
#endif

static const services_type *host;

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)state;
    if (services->struct_size < offsetof(tb_host_services, get_extension) + sizeof services->get_extension) {
        *error_message = "the host's services table is older than ABI 1.0";
        return TB_INVALID_ARGUMENT;
    }
    host = (const services_type *)services;
    return TB_OK;
}

/* Copies the string value of "key" in a flat JSON object into buffer; 0 when it is missing or too long. */
static int string_argument(const uint8_t *input, size_t input_length, const char *key, char *buffer, size_t size) {
    char pattern[64];
    int pattern_length = snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *text = (const char *)input;
    for (size_t at = 0; at + (size_t)pattern_length <= input_length; at++) {
        if (memcmp(text + at, pattern, (size_t)pattern_length) != 0) continue;
        size_t cursor = at + (size_t)pattern_length;
        while (cursor < input_length && (text[cursor] == ' ' || text[cursor] == ':')) cursor++;
        if (cursor >= input_length || text[cursor] != '"') return 0;
        const char *start = text + cursor + 1;
        const char *end = memchr(start, '"', input_length - cursor - 1);
        if (!end || (size_t)(end - start) >= size) return 0;
        memcpy(buffer, start, (size_t)(end - start));
        buffer[end - start] = '\0';
        return 1;
    }
    return 0;
}

/* Sends one API request and answers with what came back. */
static tb_status api_call(const tb_call_context *context, const char *method, const char *path, const char *body,
                      const char *if_match, uint8_t **output, size_t *output_length) {
    request_type request = {0};
    BASE(request).struct_size = sizeof request;
    BASE(request).method = method;
    BASE(request).path = path;
    BASE(request).path_length = strlen(path);
    BASE(request).body = (const uint8_t *)body;
    BASE(request).body_length = body ? strlen(body) : 0;
    BASE(request).if_match = if_match;
    response_type response = {0};
    BASE(response).struct_size = sizeof response;
    char extra[128] = "";
#ifdef FUTURE_MINOR
    static char headers[] = "untouched";
    request.options = TAIL_MARK;
    request.content_type = "application/vnd.future+json";
    response.retry_after_ms = TAIL_MARK;
    response.headers = (uint8_t *)headers;
    /* A service appended after 1.0: used only when the host's table covers it and it is set. */
    int future_service = host->v1_0.struct_size >= offsetof(services_type, api_request_async)
                                                        + sizeof host->api_request_async
                         && host->api_request_async != NULL;
    tb_status status = BASE(*host).api_request(context, &request.v1_0, &response.v1_0);
    snprintf(extra, sizeof extra, ",\"tail_untouched\":%s,\"future_service\":%s",
             response.retry_after_ms == TAIL_MARK && response.headers == (uint8_t *)headers ? "true" : "false",
             future_service ? "true" : "false");
#else
    tb_status status = host->api_request(context, &request, &response);
#endif
    if (status != TB_OK) {
        if (BASE(response).body) BASE(*host).free(BASE(response).body);
        return status;
    }
    size_t body_length = BASE(response).body ? BASE(response).body_length : 0;
    size_t capacity = body_length + 256;
    char *json = malloc(capacity);
    if (!json) {
        BASE(*host).free(BASE(response).body);
        return TB_INTERNAL;
    }
    int head = snprintf(json, capacity, "{\"http_status\":%d,\"response_size\":%u%s,\"body\":",
                        (int)BASE(response).http_status, (unsigned)BASE(response).struct_size, extra);
    size_t length = (size_t)head;
    if (body_length > 0) {
        memcpy(json + length, BASE(response).body, body_length);
        length += body_length;
    } else {
        memcpy(json + length, "null", 4);
        length += 4;
    }
    json[length++] = '}';
    BASE(*host).free(BASE(response).body);
    *output = (uint8_t *)json;
    *output_length = length;
    return TB_OK;
}

/* Sends requests smaller than ABI 1.0's (a request without if_match, a response without
 * body_length) and answers with the statuses api_request gave them. */
static tb_status send_short(const tb_call_context *context, uint8_t **output, size_t *output_length) {
    tb_api_request request = {
        .struct_size = offsetof(tb_api_request, if_match), .method = "GET", .path = "/v1/notes", .path_length = 9};
    tb_api_response response = {.struct_size = sizeof response};
    tb_status short_request = BASE(*host).api_request(context, &request, &response);
    request.struct_size = sizeof request;
    response.struct_size = offsetof(tb_api_response, body_length);
    tb_status short_response = BASE(*host).api_request(context, &request, &response);
    char *json = malloc(64);
    if (!json) return TB_INTERNAL;
    int length = snprintf(json, 64, "{\"short_request\":%d,\"short_response\":%d}", (int)short_request,
                          (int)short_response);
    *output = (uint8_t *)json;
    *output_length = (size_t)length;
    return TB_OK;
}

static int is(const char *tool, size_t length, const char *name) {
    return length == strlen(name) && memcmp(tool, name, length) == 0;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state;
    *output = NULL;
    *output_length = 0;
    char uid[64], title[64], version[24], path[128], body[128];
    int has_uid = string_argument(input, input_length, "uid", uid, sizeof uid);
    int has_title = string_argument(input, input_length, "title", title, sizeof title);
    if (has_uid) snprintf(path, sizeof path, "/v1/notes/%s", uid);
    if (has_title) snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
    if (is(tool, tool_length, PLUGIN "_create_note") && has_title) {
        return api_call(context, "POST", "/v1/notes", body, NULL, output, output_length);
    }
    if (is(tool, tool_length, PLUGIN "_get_note") && has_uid) {
        return api_call(context, "GET", path, NULL, NULL, output, output_length);
    }
    if (is(tool, tool_length, PLUGIN "_rename_note") && has_uid && has_title
        && string_argument(input, input_length, "if_match", version, sizeof version)) {
        return api_call(context, "PATCH", path, body, version, output, output_length);
    }
    if (is(tool, tool_length, PLUGIN "_short_structs")) return send_short(context, output, output_length);
    return TB_INVALID_ARGUMENT;
}

#define TOOL(name) "{\"name\":\"" PLUGIN "_" name "\",\"inputSchema\":{\"type\":\"object\"}}"

static const descriptor_type descriptor = {
#ifdef FUTURE_MINOR
    .v1_0 = {
#endif
    .struct_size = sizeof(descriptor_type),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .name = PLUGIN,
    .version = "1.0.0",
    .description = "Makes API requests as a plugin built for ABI 1.0 (or a later minor) does.",
    .tools_json = "[" TOOL("create_note") "," TOOL("get_note") "," TOOL("rename_note") "," TOOL("short_structs") "]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
#ifdef FUTURE_MINOR
    },
    .flags = UINT64_MAX,
    .resources_json = "[{\"uri\": \"ui://future/ignored\"}]",
#endif
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &BASE(descriptor);
}

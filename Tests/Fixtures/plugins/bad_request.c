/* Fixture: tools that send api_request a malformed request (a CRLF header break in if_match or
 * the method, a raw non-ASCII byte in the path) and one well-formed request, and return what
 * api_request answered as {"api_request": <tb_status>, "http_status": <status or 0>}. The host
 * must answer TB_INVALID_ARGUMENT for the malformed ones, not TB_UNAVAILABLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

static const tb_host_services *host;

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)state, (void)error_message;
    host = services;
    return TB_OK;
}

static int is(const char *tool, size_t length, const char *name) {
    return length == strlen(name) && memcmp(tool, name, length) == 0;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    static const char body[] = "{\"title\":\"injected\"}";
    tb_api_request request = {
        .struct_size = sizeof(tb_api_request),
        .method = "GET",
        .path = "/v1/notes",
        .body = NULL,
        .body_length = 0,
        .if_match = NULL,
    };
    if (is(tool, tool_length, "crlf_if_match")) {
        request.method = "PUT";
        request.path = "/v1/notes/3b241101-e2bb-4255-8caf-4136c566a962";
        request.body = (const uint8_t *)body;
        request.body_length = strlen(body);
        request.if_match = "1\r\nX-Injected: yes";
    } else if (is(tool, tool_length, "crlf_method")) {
        request.method = "GET /v1/notes HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET";
    } else if (is(tool, tool_length, "non_ascii_path")) {
        request.path = "/v1/notes/\xc3\xa9";
    } else if (!is(tool, tool_length, "good_request")) {
        return TB_UNKNOWN_TOOL;
    }
    request.path_length = strlen(request.path);
    tb_api_response response = {.struct_size = sizeof(tb_api_response)};
    tb_status status = host->api_request(context, &request, &response);
    if (response.body) host->free(response.body);
    char json[64];
    int length = snprintf(json, sizeof json, "{\"api_request\":%d,\"http_status\":%d}", (int)status,
                          status == TB_OK ? (int)response.http_status : 0);
    *output = malloc((size_t)length);
    if (!*output) return TB_INTERNAL;
    memcpy(*output, json, (size_t)length);
    *output_length = (size_t)length;
    return TB_OK;
}

#define TOOL(name) "{\"name\":\"" name "\",\"inputSchema\":{\"type\":\"object\"}}"

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "bad_request",
    .version = "1.0.0",
    .description = "Sends the API malformed requests.",
    .tools_json = "[" TOOL("crlf_if_match") "," TOOL("crlf_method") "," TOOL("non_ascii_path") "," TOOL("good_request") "]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

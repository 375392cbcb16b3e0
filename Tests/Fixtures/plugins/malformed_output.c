/* Fixture: tools that break the ABI's promise about output. On TB_OK a plugin must return a JSON
 * object; these return an array, a string, a number or invalid JSON, and on TB_TOOL_ERROR an
 * array or an object whose status is not an HTTP status. The host must turn each into an isError
 * result, never into structuredContent. */
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services, (void)state, (void)error_message;
    return TB_OK;
}

static int is(const char *tool, size_t length, const char *name) {
    return length == strlen(name) && memcmp(tool, name, length) == 0;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)input, (void)input_length;
    const char *json = NULL;
    tb_status status = TB_OK;
    if (is(tool, tool_length, "returns_array")) json = "[1,2,3]";
    else if (is(tool, tool_length, "returns_string")) json = "\"just a string\"";
    else if (is(tool, tool_length, "returns_number")) json = "42";
    else if (is(tool, tool_length, "returns_invalid_json")) json = "{\"unterminated\": ";
    else if (is(tool, tool_length, "fails_with_array")) json = "[\"not an error object\"]", status = TB_TOOL_ERROR;
    else if (is(tool, tool_length, "fails_with_bad_status")) json = "{\"error\":\"nope\",\"status\":\"teapot\"}", status = TB_TOOL_ERROR;
    else {
        *output = NULL;
        *output_length = 0;
        return TB_UNKNOWN_TOOL;
    }
    size_t length = strlen(json);
    *output = malloc(length);
    if (!*output) return TB_INTERNAL;
    memcpy(*output, json, length);
    *output_length = length;
    return status;
}

#define TOOL(name) "{\"name\":\"" name "\",\"inputSchema\":{\"type\":\"object\"}}"

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "malformed_output",
    .version = "1.0.0",
    .description = "Returns output that breaks the ABI's promise.",
    .tools_json = "[" TOOL("returns_array") "," TOOL("returns_string") "," TOOL("returns_number") ","
                  TOOL("returns_invalid_json") "," TOOL("fails_with_array") "," TOOL("fails_with_bad_status") "]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

/* Fixture: a working plugin whose tool "text_stats" clashes with quick_capture's; one of the two must be refused. */
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services;
    (void)state;
    (void)error_message;
    return TB_OK;
}

static tb_status copy_output(const char *json, uint8_t **output, size_t *output_length) {
    size_t length = strlen(json);
    *output = malloc(length + 1);
    if (!*output) return TB_INTERNAL;
    memcpy(*output, json, length + 1);
    *output_length = length;
    return TB_OK;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    if (tool_length != strlen("text_stats") || memcmp(tool, "text_stats", tool_length) != 0) return TB_UNKNOWN_TOOL;
    return copy_output("{\"from\":\"duplicate_tool\"}", output, output_length);
}

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "duplicate_tool",
    .version = "1.0.0",
    .description = "Offers a tool whose name another plugin already uses.",
    .tools_json = "[{\"name\":\"text_stats\",\"description\":\"A clashing tool.\","
                  "\"inputSchema\":{\"type\":\"object\"}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

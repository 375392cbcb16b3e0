/* Fixture: a descriptor declaring struct_size 8 (only struct_size and abi_major); the host must refuse it without reading further. */
#include <stdlib.h>

#include "toolbridge_plugin.h"

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services;
    (void)state;
    (void)error_message;
    return TB_OK;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)tool, (void)tool_length, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    return TB_UNKNOWN_TOOL;
}

/* The fields past the declared 8 bytes are filled in, so a host that ignores struct_size
 * would load this plugin and fail the test instead of crashing. */
static const tb_plugin_descriptor descriptor = {
    .struct_size = 8,
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "short_descriptor",
    .version = "1.0.0",
    .description = "Declares a descriptor smaller than ABI 1.0's.",
    .tools_json = "[{\"name\":\"short_descriptor_tool\",\"inputSchema\":{\"type\":\"object\"}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

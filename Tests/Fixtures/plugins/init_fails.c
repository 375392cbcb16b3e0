/* Fixture: a valid plugin whose init fails with TB_INTERNAL and "database file missing"; its tool must never be offered. */
#include <stdlib.h>

#include "toolbridge_plugin.h"

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services;
    (void)state;
    if (error_message) *error_message = "database file missing";
    return TB_INTERNAL;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)tool, (void)tool_length, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    return TB_INTERNAL;
}

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "init_fails",
    .version = "1.0.0",
    .description = "Fails to initialise.",
    .tools_json = "[{\"name\":\"never_called\",\"inputSchema\":{\"type\":\"object\"}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

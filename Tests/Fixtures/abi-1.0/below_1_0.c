/* Fixture: built against the ABI 1.0 header, but its descriptor declares one field less than
 * ABI 1.0's (it ends before free_output). The host must refuse it, naming both sizes. */
#include <stddef.h>
#include <stdlib.h>

#include "toolbridge_plugin.h"

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services, (void)state, (void)error_message;
    return TB_OK;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)tool, (void)tool_length, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    return TB_UNKNOWN_TOOL;
}

/* Every field is set, so only the declared size can make the host refuse it. */
static const tb_plugin_descriptor descriptor = {
    .struct_size = offsetof(tb_plugin_descriptor, free_output),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "below_1_0",
    .version = "1.0.0",
    .description = "Declares a descriptor one field smaller than ABI 1.0's.",
    .tools_json = "[{\"name\":\"below_1_0_tool\",\"inputSchema\":{\"type\":\"object\"}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

/* Fixture: a well-behaved plugin whose tool count_calls answers {"calls": N}; it must load and work next to the broken ones. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolbridge_plugin.h"

static atomic_uint_fast64_t calls;

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)services;
    (void)state;
    (void)error_message;
    return TB_OK;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)context, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    if (tool_length != strlen("count_calls") || memcmp(tool, "count_calls", tool_length) != 0) return TB_UNKNOWN_TOOL;
    unsigned long long count = (unsigned long long)atomic_fetch_add(&calls, 1) + 1;
    char json[48];
    int length = snprintf(json, sizeof json, "{\"calls\":%llu}", count);
    *output = malloc((size_t)length + 1);
    if (!*output) return TB_INTERNAL;
    memcpy(*output, json, (size_t)length + 1);
    *output_length = (size_t)length;
    return TB_OK;
}

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "counter",
    .version = "1.0.0",
    .description = "Counts its own calls.",
    .tools_json = "[{\"name\":\"count_calls\",\"title\":\"Count calls\","
                  "\"description\":\"Returns how many times this tool has been called, this call included.\","
                  "\"inputSchema\":{\"type\":\"object\",\"properties\":{}},"
                  "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"calls\":{\"type\":\"integer\"}},"
                  "\"required\":[\"calls\"]}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

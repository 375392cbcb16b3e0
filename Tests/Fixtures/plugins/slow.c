/* Fixture: a tool, sleep, that takes about two seconds (in 10 ms steps, stopping early when the
 * call is cancelled) and answers {"slept_ms": N, "cancelled": true|false}. For tests of requests in
 * flight: duplicate ids, cancellation, shutdown while calls run. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "toolbridge_plugin.h"

static const tb_host_services *host;

static tb_status plugin_init(const tb_host_services *services, void **state, const char **error_message) {
    (void)state, (void)error_message;
    host = services;
    return TB_OK;
}

static tb_status plugin_call(void *state, const tb_call_context *context, const char *tool, size_t tool_length,
                             const uint8_t *input, size_t input_length, uint8_t **output, size_t *output_length) {
    (void)state, (void)input, (void)input_length;
    *output = NULL;
    *output_length = 0;
    if (tool_length != strlen("sleep") || memcmp(tool, "sleep", tool_length) != 0) return TB_UNKNOWN_TOOL;
    int slept = 0;
    int cancelled = 0;
    const struct timespec step = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    while (slept < 2000) {
        if (host->is_cancelled(context)) {
            cancelled = 1;
            break;
        }
        nanosleep(&step, NULL);
        slept += 10;
    }
    char json[64];
    int length = snprintf(json, sizeof json, "{\"slept_ms\":%d,\"cancelled\":%s}", slept, cancelled ? "true" : "false");
    *output = malloc((size_t)length);
    if (!*output) return TB_INTERNAL;
    memcpy(*output, json, (size_t)length);
    *output_length = (size_t)length;
    return TB_OK;
}

static const tb_plugin_descriptor descriptor = {
    .struct_size = sizeof(tb_plugin_descriptor),
    .abi_major = TOOLBRIDGE_ABI_MAJOR,
    .abi_minor = TOOLBRIDGE_ABI_MINOR,
    .name = "slow",
    .version = "1.0.0",
    .description = "Takes its time.",
    .tools_json = "[{\"name\":\"sleep\",\"description\":\"Sleeps about two seconds.\","
                  "\"inputSchema\":{\"type\":\"object\",\"properties\":{}}}]",
    .init = plugin_init,
    .call = plugin_call,
    .free_output = free,
};

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return &descriptor;
}

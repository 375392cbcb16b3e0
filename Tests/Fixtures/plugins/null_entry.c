/* Fixture: toolbridge_plugin_v1 returns NULL, as a plugin that needs a newer host does; the host must refuse it. */
#include "toolbridge_plugin.h"

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return NULL;
}

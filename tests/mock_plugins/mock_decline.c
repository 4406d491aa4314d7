/* tests/mock_plugins/mock_decline.c - a plugin library whose entry declines
 * every host (returns NULL), as a plugin does when the host's ABI is one it
 * cannot work with. The host must refuse it with DVREN_ERROR_PLUGIN and a
 * message saying that it declined. */
#include "dvren.h"

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    (void)host_abi_version;
    return NULL;
}

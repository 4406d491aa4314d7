/* tests/mock_plugins/mock_abi2.c - a plugin library built against a future
 * plugin ABI 2.0: its table says abi_version (2 << 16) | 0 and, past the two
 * leading words every version shares (struct_size, abi_version), follows a
 * layout this host does not know. Read as an ABI 1 table, 'count' would be
 * huge and 'plugins' NULL, so a host that looked past the version would
 * crash: it must refuse the library with DVREN_ERROR_PLUGIN ("ABI 2.0",
 * "rebuild") before touching anything else. */
#include "dvren.h"

/* a made-up ABI 2 table */
typedef struct abi2_table {
    uint32_t struct_size;
    uint32_t abi_version;
    uint64_t flags;        /* where ABI 1 has count (and padding) */
    const void* registry;  /* where ABI 1 has plugins */
} abi2_table;

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const abi2_table table = {
        .struct_size = sizeof(abi2_table),
        .abi_version = (2u << 16) | 0u,
        .flags = 0xFFFFFFFFFFFFFFFFull,
        .registry = 0,
    };
    /* like an unwary plugin, it does not check the host's version itself */
    (void)host_abi_version;
    return (const dvren_plugin_table*)(const void*)&table;
}

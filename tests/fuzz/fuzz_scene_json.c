/* tests/fuzz/fuzz_scene_json.c - libFuzzer target: scene JSON through the
 * shared scene reader (tools/dvren_scene.h): parse, then build the stages,
 * camera and plan on a CPU context (nothing is rendered).
 *
 * The plugins come from $DVREN_PLUGIN_PATH, else build/plugins under the
 * working folder (run from the repository root after ./build.sh); without
 * them the build stops at the first stage, and only the parsing is fuzzed.
 * The input's "plugins" list is dropped (it would dlopen any library the
 * input names), and the context's allocator refuses blocks over 64 MiB, so
 * that a grid of 1000^3 voxels is an ordinary OUT_OF_MEMORY error. */
#define _POSIX_C_SOURCE 200809L
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"

#include <stdint.h>
#include <stdlib.h>

static void* fz_alloc(size_t size, size_t align, void* user)
{
    void* p = NULL;
    (void)user;
    if (size > ((size_t)64 << 20)) return NULL;
    if (align < sizeof(void*)) align = sizeof(void*);
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void fz_free(void* p, size_t size, void* user)
{
    (void)size;
    (void)user;
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static dvren_context* ctx;
    dvren_scenefile sf;
    if (!ctx) {
        dvren_context_desc cd;
        const char* path = getenv("DVREN_PLUGIN_PATH");
        memset(&cd, 0, sizeof cd);
        cd.allocator.alloc = fz_alloc;
        cd.allocator.free = fz_free;
        cd.threads = 1;
        cd.plugin_path = path && *path ? path : "build/plugins";
        if (dvren_context_create(&cd, &ctx)) return 0;
    }
    if (dvren_scenefile_parse(&sf, "fuzz.json", (const char*)data, size, NULL) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(sf.root, "plugins");
        dvren_scenefile_build(&sf, ctx);
    }
    dvren_scenefile_free(&sf);
    return 0;
}

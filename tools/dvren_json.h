/* tools/dvren_json.h - two helpers over cJSON for the tools that read JSON
 * files (tools/dvren_scene.h, tools/dvren_foveate.h, tools/dvren_compose.c),
 * so that their error messages say the same things the same way:
 *
 *   dvren_json_type(j)          "a number", "a string", "a boolean", "an array",
 *                               "an object", "null", "nothing" (NULL) or
 *                               "an invalid value": what a file gave where
 *                               something else was expected
 *   dvren_json_unknown_key(obj, allowed, known, cap)
 *                               the first key of the object obj that is not in
 *                               the NULL-terminated list allowed ("" for a key
 *                               cJSON could not name), or NULL when every key
 *                               is allowed; known receives the allowed keys
 *                               joined by ", " (at most cap bytes, cut short
 *                               at a key boundary), for "unknown key 'x'
 *                               (known: a, b, c)" messages
 *
 * Header-only (static inline); needs cJSON (Debian libcjson-dev) and libc. */
#ifndef DVREN_JSON_H
#define DVREN_JSON_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static inline const char* dvren_json_type(const cJSON* j)
{
    if (!j) return "nothing";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

static inline const char* dvren_json_unknown_key(const cJSON* obj, const char* const* allowed, char* known, size_t cap)
{
    const cJSON* it;
    if (known && cap) known[0] = 0;
    cJSON_ArrayForEach(it, obj)
    {
        const char* const* a;
        int ok = 0;
        for (a = allowed; *a && !ok; ++a) ok = it->string && strcmp(*a, it->string) == 0;
        if (!ok) {
            size_t n = 0;
            for (a = allowed; known && *a && n + strlen(*a) + 3 < cap; ++a)
                n += (size_t)snprintf(known + n, cap - n, "%s%s", a == allowed ? "" : ", ", *a);
            return it->string ? it->string : "";
        }
    }
    return NULL;
}

#endif /* DVREN_JSON_H */

/* tests/mock_plugins/mock_noentry.c - a shared library that exports a
 * function but no dvren_plugin_entry: not a dvren plugin. The host must
 * refuse it with DVREN_ERROR_PLUGIN naming the missing symbol. */
#include "dvren.h"

DVREN_PLUGIN_EXPORT int mock_noentry_answer(void);

DVREN_PLUGIN_EXPORT int mock_noentry_answer(void) { return 42; }

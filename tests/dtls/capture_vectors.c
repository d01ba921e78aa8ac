/* Capture-derived vectors of the dtls and stun tests; see
 * capture_vectors.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "capture_vectors.h"

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0';
}

void cv_need_captures(const char *var)
{
    if (env_set(var)) {
        return;
    }
    char missing[128];
    int w = snprintf(missing, sizeof missing, "%s_MISSING", var);
    assert_true(w > 0 && (size_t)w < sizeof missing);
    const char *what = env_set(missing) ? getenv(missing) : NULL;
    if (env_set("CI")) {
        if (what != NULL) {
            fail_msg("%s — capture-derived vectors are required when CI is set", what);
        }
        fail_msg("%s unset (run through meson test) — capture-derived vectors are required "
                 "when CI is set", var);
    }
    if (what != NULL) {
        printf("SKIP: %s — capture-derived vectors not tested\n", what);
    } else {
        printf("SKIP: %s unset (run through meson test) — capture-derived vectors not tested\n",
               var);
    }
    fflush(stdout);
    skip();
}

FILE *cv_open(const char *var, const char *name)
{
    char path[1024];
    cv_need_captures(var);
    int w = snprintf(path, sizeof path, "%s/%s", getenv(var), name);
    assert_true(w > 0 && (size_t)w < sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open test vector %s", path);
    }
    return f;
}

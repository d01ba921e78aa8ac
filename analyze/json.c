/* JSON writer, see json.h. */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void kp_jw_init(struct kp_jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->comma = false;
    if (cap > 0) {
        buf[0] = '\0';
    }
}

size_t kp_jw_finish(struct kp_jw *w)
{
    if (w->cap > 0) {
        w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
    }
    return w->len;
}

static void put(struct kp_jw *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void putc_(struct kp_jw *w, char c) { put(w, &c, 1); }

/* Length of the valid UTF-8 sequence at s (RFC 3629 4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* reject overlong forms, surrogates and values past U+10FFFF */
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return need;
}

size_t kp_json_escape(char *out, size_t cap, const char *s, size_t n)
{
    struct kp_jw w;
    kp_jw_init(&w, out, cap);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(&w, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[8];
            const char *named = NULL;
            switch (c) {
            case '\n': named = "\\n"; break;
            case '\r': named = "\\r"; break;
            case '\t': named = "\\t"; break;
            case '\b': named = "\\b"; break;
            case '\f': named = "\\f"; break;
            default: break;
            }
            if (named != NULL) {
                put(&w, named, 2);
            } else {
                snprintf(e, sizeof(e), "\\u%04x", c);
                put(&w, e, 6);
            }
            i++;
        } else if (c < 0x80) {
            putc_(&w, (char)c);
            i++;
        } else {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0) {
                put(&w, "\\ufffd", 6);
                i++;
            } else {
                put(&w, s + i, l);
                i += l;
            }
        }
    }
    return kp_jw_finish(&w);
}

static void key_(struct kp_jw *w, const char *key)
{
    if (w->comma) {
        putc_(w, ',');
    }
    w->comma = true;
    if (key != NULL) {
        putc_(w, '"');
        put(w, key, strlen(key)); /* keys are our own identifiers */
        put(w, "\":", 2);
    }
}

void kp_jw_obj_open(struct kp_jw *w, const char *key)
{
    key_(w, key);
    putc_(w, '{');
    w->comma = false;
}

void kp_jw_obj_close(struct kp_jw *w)
{
    putc_(w, '}');
    w->comma = true;
}

void kp_jw_arr_open(struct kp_jw *w, const char *key)
{
    key_(w, key);
    putc_(w, '[');
    w->comma = false;
}

void kp_jw_arr_close(struct kp_jw *w)
{
    putc_(w, ']');
    w->comma = true;
}

void kp_jw_strn(struct kp_jw *w, const char *key, const char *s, size_t n)
{
    key_(w, key);
    putc_(w, '"');
    size_t room = w->len < w->cap ? w->cap - w->len : 0;
    size_t need = kp_json_escape(room > 0 ? w->buf + w->len : NULL, room, s, n);
    /* kp_json_escape NUL-terminated inside the room; the closing quote
     * overwrites that NUL. */
    w->len += need;
    putc_(w, '"');
}

void kp_jw_str(struct kp_jw *w, const char *key, const char *s)
{
    kp_jw_strn(w, key, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void kp_jw_int(struct kp_jw *w, const char *key, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    key_(w, key);
    put(w, b, (size_t)n);
}

void kp_jw_bool(struct kp_jw *w, const char *key, bool v)
{
    key_(w, key);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void kp_jw_null(struct kp_jw *w, const char *key)
{
    key_(w, key);
    put(w, "null", 4);
}

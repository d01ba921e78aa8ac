/* A bounded JSON text writer with snprintf semantics: it writes what fits
 * and counts what the whole text needs. */
#ifndef KP_JSON_H
#define KP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kp_jw {
    char *buf;
    size_t cap;
    size_t len;     /* bytes the full text needs so far */
    bool comma;     /* a value was written at this nesting level */
};

void kp_jw_init(struct kp_jw *w, char *buf, size_t cap);
/* NUL-terminate (within cap) and return the full length. */
size_t kp_jw_finish(struct kp_jw *w);

void kp_jw_obj_open(struct kp_jw *w, const char *key);  /* key NULL: a bare value */
void kp_jw_obj_close(struct kp_jw *w);
void kp_jw_arr_open(struct kp_jw *w, const char *key);
void kp_jw_arr_close(struct kp_jw *w);
/* A string value from arbitrary bytes: escaped per RFC 8259 7; bytes that
 * are not valid UTF-8 become U+FFFD so the output is always valid JSON. */
void kp_jw_strn(struct kp_jw *w, const char *key, const char *s, size_t n);
void kp_jw_str(struct kp_jw *w, const char *key, const char *s);
void kp_jw_int(struct kp_jw *w, const char *key, int64_t v);
void kp_jw_bool(struct kp_jw *w, const char *key, bool v);
void kp_jw_null(struct kp_jw *w, const char *key);

/* Escape bytes into a JSON string body (no quotes) for callers that write
 * their own text; returns the length needed. */
size_t kp_json_escape(char *out, size_t cap, const char *s, size_t n);

#endif

/* mmdb_write.c: MaxMind DB writer (format 2.0) and its text inputs.
 *
 * Section references ("spec §...") are to the MaxMind DB File Format
 * Specification v2.0, https://maxmind.github.io/MaxMind-DB/.
 *
 * Shape of the work:
 *   1. Records are built as small key trees (struct kp_mmdbw_rec), encoded
 *      canonically (keys sorted, no pointers) and deduplicated by their
 *      bytes: identical records get one data id.
 *   2. Networks go into an in-memory binary trie whose leaves hold a data id
 *      and the prefix length that set it (the longest-prefix rule of the
 *      header).  The ::ffff:0:0/96 subtree is a fixed alias of ::/96.
 *   3. Writing lays out the data section (pointer dedup of repeated values),
 *      then merges sibling leaves with the same record, numbers the nodes
 *      that remain, picks the record size and streams tree, separator, data
 *      and metadata.
 */
#include "mmdb_write.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Data types, spec §"Output Data Section". */
enum {
    T_PTR = 1,
    T_STR = 2,
    T_U16 = 5,
    T_U32 = 6,
    T_MAP = 7,
    T_U64 = 9,
    T_ARRAY = 11
};

/* Largest payload size a control byte can express, spec §"Payload Size". */
#define MMDB_MAX_PAYLOAD 16843036u

/* Data section separator, spec §"Data Section Separator". */
#define MMDB_SEPARATOR 16u

static const uint8_t metadata_marker[14] = {0xAB, 0xCD, 0xEF, 'M', 'a', 'x', 'M', 'i',
                                            'n',  'd',  '.',  'c', 'o', 'm'};

/* ------------------------------------------------------------ messages */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *rc_text(int rc)
{
    switch (rc) {
    case KP_ENOMEM:
        return "out of memory or database too large";
    case KP_EIO:
        return "I/O error";
    default:
        return "invalid argument (metadata or forced record size)";
    }
}

/* ------------------------------------------------------------ buffers */

struct buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->len) {
        return KP_ENOMEM;
    }
    size_t need = b->len + more;
    if (need <= b->cap) {
        return KP_OK;
    }
    size_t cap = b->cap != 0 ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        return KP_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return KP_OK;
}

static int buf_put(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != KP_OK) {
        return rc;
    }
    if (n != 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    return KP_OK;
}

static int buf_u8(struct buf *b, uint8_t v)
{
    return buf_put(b, &v, 1);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Grow an array of elements of size sz so that it holds at least n + 1. */
static int grow_array(void **arr, size_t *cap, size_t n, size_t sz, size_t max)
{
    if (n < *cap) {
        return KP_OK;
    }
    if (n >= max) {
        return KP_ENOMEM;
    }
    size_t nc = *cap != 0 ? *cap * 2 : 64;
    if (nc > max) {
        nc = max;
    }
    if (nc > SIZE_MAX / sz) {
        return KP_ENOMEM;
    }
    void *p = realloc(*arr, nc * sz);
    if (p == NULL) {
        return KP_ENOMEM;
    }
    *arr = p;
    *cap = nc;
    return KP_OK;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    /* FNV-1a: the inputs are our own canonical encodings, not attacker
     * chosen keys of a long-lived table, so a simple hash is enough. */
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Strict UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing
 * above U+10FFFF.  Spec §"UTF-8 string - 2" requires valid UTF-8. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1Fu;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0Fu;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k) {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            uint8_t cc = s[i + j];
            if ((cc & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += k + 1;
    }
    return true;
}

/* ------------------------------------------------------------- encoding */

/* Control byte(s) of a field, spec §"Data Field Format": type in the top
 * three bits (0 = extended, real type - 7 in the next byte), payload size in
 * the low five bits with 29/30/31 announcing 1/2/3 more size bytes, which
 * come after the extended type byte. */
static int enc_ctrl(struct buf *b, unsigned type, size_t size)
{
    uint8_t hdr[6];
    size_t n = 0;
    unsigned sb;
    uint32_t rest = 0;
    size_t nrest = 0;

    if (size > MMDB_MAX_PAYLOAD) {
        return KP_EINVAL;
    }
    if (size < 29) {
        sb = (unsigned)size;
    } else if (size < 285) {
        sb = 29;
        rest = (uint32_t)(size - 29);
        nrest = 1;
    } else if (size < 65821) {
        sb = 30;
        rest = (uint32_t)(size - 285);
        nrest = 2;
    } else {
        sb = 31;
        rest = (uint32_t)(size - 65821);
        nrest = 3;
    }
    if (type <= 7) {
        hdr[n++] = (uint8_t)((type << 5) | sb);
    } else {
        hdr[n++] = (uint8_t)sb;
        hdr[n++] = (uint8_t)(type - 7);
    }
    for (size_t i = nrest; i > 0; i--) {
        hdr[n++] = (uint8_t)(rest >> (8 * (i - 1)));
    }
    return buf_put(b, hdr, n);
}

/* Unsigned integers use the fewest bytes; 0 has no payload (spec §"integer
 * formats": "A length of zero always indicates the number 0"). */
static int enc_uint(struct buf *b, unsigned type, uint64_t v)
{
    uint8_t tmp[8];
    size_t n = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        uint8_t byte = (uint8_t)(v >> shift);
        if (n == 0 && byte == 0) {
            continue;
        }
        tmp[n++] = byte;
    }
    int rc = enc_ctrl(b, type, n);
    if (rc != KP_OK) {
        return rc;
    }
    return buf_put(b, tmp, n);
}

static int enc_str(struct buf *b, const void *s, size_t len)
{
    int rc = enc_ctrl(b, T_STR, len);
    if (rc != KP_OK) {
        return rc;
    }
    return buf_put(b, s, len);
}

/* Bytes a pointer to data section offset off takes, spec §"Pointers":
 * 11, 19 (+2048), 27 (+526336) or 32 bits of value after the control byte. */
static size_t ptr_len(size_t off)
{
    if (off < 2048) {
        return 2;
    }
    if (off < 526336) {
        return 3;
    }
    if (off < 526336 + ((size_t)1 << 27)) {
        return 4;
    }
    return 5;
}

static int enc_ptr(struct buf *b, size_t off)
{
    uint8_t p[5];
    size_t n = ptr_len(off);
    if (n == 2) {
        p[0] = (uint8_t)(0x20 | (off >> 8));
        p[1] = (uint8_t)off;
    } else if (n == 3) {
        size_t v = off - 2048;
        p[0] = (uint8_t)(0x20 | (1 << 3) | (v >> 16));
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
    } else if (n == 4) {
        size_t v = off - 526336;
        p[0] = (uint8_t)(0x20 | (2 << 3) | (v >> 24));
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
    } else {
        if (off > UINT32_MAX) {
            return KP_ENOMEM;
        }
        p[0] = (uint8_t)(0x20 | (3 << 3));
        p[1] = (uint8_t)(off >> 24);
        p[2] = (uint8_t)(off >> 16);
        p[3] = (uint8_t)(off >> 8);
        p[4] = (uint8_t)off;
    }
    return buf_put(b, p, n);
}

/* Read back a control byte of our own canonical encoding (types we emit
 * only).  Bounds-checked all the same. */
static int dec_ctrl(const uint8_t *p, size_t len, unsigned *type, size_t *size, size_t *hlen)
{
    size_t i = 0;
    if (len < 1) {
        return KP_EINVAL;
    }
    unsigned t = p[0] >> 5;
    unsigned sb = p[0] & 0x1Fu;
    i = 1;
    if (t == 0) {
        if (len < 2) {
            return KP_EINVAL;
        }
        t = 7u + p[1];
        i = 2;
    }
    size_t s = sb;
    if (sb >= 29) {
        size_t extra = sb - 28;
        if (len - i < extra) {
            return KP_EINVAL;
        }
        size_t v = 0;
        for (size_t j = 0; j < extra; j++) {
            v = (v << 8) | p[i + j];
        }
        i += extra;
        s = v + (sb == 29 ? 29 : sb == 30 ? 285 : 65821);
    }
    *type = t;
    *size = s;
    *hlen = i;
    return KP_OK;
}

/* Length of the whole encoded value at p (maps recursively). */
static int enc_extent(const uint8_t *p, size_t len, unsigned depth, size_t *ext)
{
    unsigned type;
    size_t size;
    size_t hlen;
    if (depth > KP_MMDBW_REC_MAX_DEPTH + 1 || dec_ctrl(p, len, &type, &size, &hlen) != KP_OK) {
        return KP_EINVAL;
    }
    if (type != T_MAP) {
        if (len - hlen < size) {
            return KP_EINVAL;
        }
        *ext = hlen + size;
        return KP_OK;
    }
    size_t off = hlen;
    for (size_t i = 0; i < 2 * size; i++) {
        size_t e;
        if (enc_extent(p + off, len - off, depth + 1, &e) != KP_OK) {
            return KP_EINVAL;
        }
        off += e;
    }
    *ext = off;
    return KP_OK;
}

/* ------------------------------------------------------------ records */

enum { E_MAP = 1, E_STR, E_U16, E_U32 };

#define ROOT_PARENT UINT32_MAX

struct rec_ent {
    uint32_t parent;  /* entry index of the enclosing map, ROOT_PARENT at top */
    uint32_t key_off; /* in rec->s */
    uint32_t val_off; /* E_STR: in rec->s */
    uint32_t val_len;
    uint32_t num; /* E_U16, E_U32 */
    uint16_t key_len;
    uint8_t type;
};

struct kp_mmdbw_rec {
    struct rec_ent *e;
    size_t n;
    size_t cap;
    char *s;
    size_t slen;
    size_t scap;
};

int kp_mmdbw_rec_new(struct kp_mmdbw_rec **out)
{
    if (out == NULL) {
        return KP_EINVAL;
    }
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? KP_OK : KP_ENOMEM;
}

void kp_mmdbw_rec_free(struct kp_mmdbw_rec *rec)
{
    if (rec == NULL) {
        return;
    }
    free(rec->e);
    free(rec->s);
    free(rec);
}

void kp_mmdbw_rec_clear(struct kp_mmdbw_rec *rec)
{
    if (rec != NULL) {
        rec->n = 0;
        rec->slen = 0;
    }
}

static int rec_put_bytes(struct kp_mmdbw_rec *rec, const char *p, size_t n, uint32_t *off)
{
    if (n > KP_MMDBW_REC_MAX_BYTES - rec->slen) {
        return KP_EINVAL;
    }
    if (rec->slen + n > rec->scap) {
        size_t nc = rec->scap != 0 ? rec->scap : 128;
        while (nc < rec->slen + n) {
            nc *= 2;
        }
        char *s = realloc(rec->s, nc);
        if (s == NULL) {
            return KP_ENOMEM;
        }
        rec->s = s;
        rec->scap = nc;
    }
    if (n != 0) {
        memcpy(rec->s + rec->slen, p, n);
    }
    *off = (uint32_t)rec->slen;
    rec->slen += n;
    return KP_OK;
}

static uint32_t rec_find(const struct kp_mmdbw_rec *rec, uint32_t parent, const char *key,
                         size_t klen)
{
    for (size_t i = 0; i < rec->n; i++) {
        const struct rec_ent *e = &rec->e[i];
        if (e->parent == parent && e->key_len == klen &&
            memcmp(rec->s + e->key_off, key, klen) == 0) {
            return (uint32_t)i;
        }
    }
    return ROOT_PARENT;
}

static int rec_add(struct kp_mmdbw_rec *rec, uint32_t parent, const char *key, size_t klen,
                   uint8_t type, uint32_t *idx)
{
    if (rec->n >= KP_MMDBW_REC_MAX_ENTRIES) {
        return KP_EINVAL;
    }
    void *arr = rec->e;
    int rc = grow_array(&arr, &rec->cap, rec->n, sizeof(*rec->e), KP_MMDBW_REC_MAX_ENTRIES);
    rec->e = arr;
    if (rc != KP_OK) {
        return rc;
    }
    struct rec_ent e;
    memset(&e, 0, sizeof(e));
    rc = rec_put_bytes(rec, key, klen, &e.key_off);
    if (rc != KP_OK) {
        return rc;
    }
    e.parent = parent;
    e.key_len = (uint16_t)klen;
    e.type = type;
    rec->e[rec->n] = e;
    *idx = (uint32_t)rec->n;
    rec->n++;
    return KP_OK;
}

/* Set path to a value; on failure the record is as it was and *why says
 * what was wrong. */
static int rec_set(struct kp_mmdbw_rec *rec, const char *path, uint8_t type, const char *s,
                   size_t slen, uint32_t num, const char **why)
{
    const char *why_unused = "";
    const char **w = why != NULL ? why : &why_unused;
    size_t n0;
    size_t slen0;
    uint32_t parent = ROOT_PARENT;
    unsigned depth = 0;
    int rc = KP_EINVAL;

    if (rec == NULL || path == NULL || (type == E_STR && s == NULL && slen != 0)) {
        *w = "bad argument";
        return KP_EINVAL;
    }
    n0 = rec->n;
    slen0 = rec->slen;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t klen = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
        uint32_t idx;
        if (klen == 0) {
            *w = "empty key";
            goto undo;
        }
        if (klen > 255) {
            *w = "key longer than 255 bytes";
            goto undo;
        }
        if (!utf8_valid((const uint8_t *)seg, klen)) {
            *w = "key is not valid UTF-8";
            goto undo;
        }
        if (++depth > KP_MMDBW_REC_MAX_DEPTH) {
            *w = "keys nested too deep";
            goto undo;
        }
        idx = rec_find(rec, parent, seg, klen);
        if (dot == NULL) {
            if (idx != ROOT_PARENT) {
                *w = "duplicate key";
                goto undo;
            }
            if (type == E_STR && !utf8_valid((const uint8_t *)s, slen)) {
                *w = "value is not valid UTF-8";
                goto undo;
            }
            if (type == E_STR && slen > MMDB_MAX_PAYLOAD) {
                *w = "value too long";
                goto undo;
            }
            rc = rec_add(rec, parent, seg, klen, type, &idx);
            if (rc != KP_OK) {
                *w = rc == KP_ENOMEM ? "out of memory" : "record too large";
                goto undo;
            }
            if (type == E_STR) {
                uint32_t off = 0;
                rc = rec_put_bytes(rec, s, slen, &off);
                if (rc != KP_OK) {
                    *w = rc == KP_ENOMEM ? "out of memory" : "record too large";
                    goto undo;
                }
                rec->e[idx].val_off = off;
                rec->e[idx].val_len = (uint32_t)slen;
            } else {
                rec->e[idx].num = num;
            }
            return KP_OK;
        }
        if (idx == ROOT_PARENT) {
            rc = rec_add(rec, parent, seg, klen, E_MAP, &idx);
            if (rc != KP_OK) {
                *w = rc == KP_ENOMEM ? "out of memory" : "record too large";
                goto undo;
            }
        } else if (rec->e[idx].type != E_MAP) {
            *w = "key path runs through a value that is not a map";
            goto undo;
        }
        parent = idx;
        seg = dot + 1;
    }
undo:
    rec->n = n0;
    rec->slen = slen0;
    return rc == KP_ENOMEM ? KP_ENOMEM : KP_EINVAL;
}

int kp_mmdbw_rec_set_str(struct kp_mmdbw_rec *rec, const char *path, const char *s, size_t len)
{
    return rec_set(rec, path, E_STR, s, len, 0, NULL);
}

int kp_mmdbw_rec_set_u32(struct kp_mmdbw_rec *rec, const char *path, uint32_t v)
{
    return rec_set(rec, path, E_U32, NULL, 0, v, NULL);
}

int kp_mmdbw_rec_set_u16(struct kp_mmdbw_rec *rec, const char *path, uint16_t v)
{
    return rec_set(rec, path, E_U16, NULL, 0, v, NULL);
}

static int key_cmp(const struct kp_mmdbw_rec *rec, uint32_t a, uint32_t b)
{
    const struct rec_ent *ea = &rec->e[a];
    const struct rec_ent *eb = &rec->e[b];
    size_t n = ea->key_len < eb->key_len ? ea->key_len : eb->key_len;
    int c = memcmp(rec->s + ea->key_off, rec->s + eb->key_off, n);
    if (c != 0) {
        return c;
    }
    return (int)ea->key_len - (int)eb->key_len;
}

/* Canonical encoding: keys in byte order, no pointers, so that equal
 * records have equal bytes (dedup compares bytes). */
static int rec_encode_map(const struct kp_mmdbw_rec *rec, uint32_t parent, struct buf *out)
{
    uint32_t kids[KP_MMDBW_REC_MAX_ENTRIES];
    size_t nk = 0;
    int rc;

    for (size_t i = 0; i < rec->n; i++) {
        if (rec->e[i].parent == parent) {
            kids[nk++] = (uint32_t)i;
        }
    }
    for (size_t i = 1; i < nk; i++) {
        uint32_t k = kids[i];
        size_t j = i;
        while (j > 0 && key_cmp(rec, kids[j - 1], k) > 0) {
            kids[j] = kids[j - 1];
            j--;
        }
        kids[j] = k;
    }
    rc = enc_ctrl(out, T_MAP, nk);
    for (size_t i = 0; i < nk && rc == KP_OK; i++) {
        const struct rec_ent *e = &rec->e[kids[i]];
        rc = enc_str(out, rec->s + e->key_off, e->key_len);
        if (rc != KP_OK) {
            break;
        }
        switch (e->type) {
        case E_STR:
            rc = enc_str(out, rec->s + e->val_off, e->val_len);
            break;
        case E_U16:
            rc = enc_uint(out, T_U16, e->num);
            break;
        case E_U32:
            rc = enc_uint(out, T_U32, e->num);
            break;
        default:
            rc = rec_encode_map(rec, kids[i], out);
            break;
        }
    }
    return rc;
}

/* --------------------------------------------------------------- writer */

/* Kinds of a search tree record in memory. */
enum { R_EMPTY = 0, R_NODE, R_DATA, R_ALIAS };

struct tnode {
    uint32_t v[2];    /* R_NODE: node index; R_DATA: data id */
    uint8_t kind[2];
    uint8_t plen[2];  /* R_DATA: prefix length of the insert that set it */
};

struct recslot {
    uint64_t hash;
    size_t off; /* in blobs */
    size_t len;
};

struct kp_mmdbw {
    struct tnode *nodes;
    size_t n_nodes;
    size_t cap_nodes;
    uint32_t v4_parent; /* node whose left record is ::/96 */

    struct buf blobs; /* canonical encodings of the distinct records */
    struct recslot *recs;
    size_t n_recs;
    size_t cap_recs;
    uint32_t *rtab; /* open addressing: record id + 1, 0 free */
    size_t rtab_cap;

    struct buf scratch;
    uint64_t networks;
};

static int node_new(struct kp_mmdbw *w, uint32_t *idx)
{
    void *arr = w->nodes;
    int rc = grow_array(&arr, &w->cap_nodes, w->n_nodes, sizeof(*w->nodes), KP_MMDBW_MAX_NODES);
    w->nodes = arr;
    if (rc != KP_OK) {
        return rc;
    }
    memset(&w->nodes[w->n_nodes], 0, sizeof(*w->nodes));
    *idx = (uint32_t)w->n_nodes;
    w->n_nodes++;
    return KP_OK;
}

/* Build the fixed skeleton: the path of 96 zero bits to ::/96 and the path
 * to ::ffff:0:0/96 whose last record is the alias (spec §"IPv4 addresses in
 * an IPv6 tree": MaxMind's strategy, which we follow). */
static int tree_init(struct kp_mmdbw *w)
{
    uint32_t n;
    uint32_t at80 = 0;
    int rc = node_new(w, &n); /* root, depth 0 */
    for (unsigned d = 1; d < 96 && rc == KP_OK; d++) {
        uint32_t m;
        rc = node_new(w, &m);
        if (rc == KP_OK) {
            w->nodes[n].kind[0] = R_NODE;
            w->nodes[n].v[0] = m;
            if (d == 80) {
                at80 = m;
            }
            n = m;
        }
    }
    if (rc != KP_OK) {
        return rc;
    }
    w->v4_parent = n; /* depth 95: its left record covers ::/96 */
    /* ::ffff:0:0/96 = 80 zero bits then 16 one bits. */
    n = at80;
    for (unsigned d = 81; d < 96 + 1 && rc == KP_OK; d++) {
        if (d == 96) {
            w->nodes[n].kind[1] = R_ALIAS;
            break;
        }
        uint32_t m;
        rc = node_new(w, &m);
        if (rc == KP_OK) {
            w->nodes[n].kind[1] = R_NODE;
            w->nodes[n].v[1] = m;
            n = m;
        }
    }
    return rc;
}

int kp_mmdbw_new(struct kp_mmdbw **out)
{
    if (out == NULL) {
        return KP_EINVAL;
    }
    struct kp_mmdbw *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return KP_ENOMEM;
    }
    int rc = tree_init(w);
    if (rc != KP_OK) {
        kp_mmdbw_free(w);
        return rc;
    }
    *out = w;
    return KP_OK;
}

void kp_mmdbw_free(struct kp_mmdbw *w)
{
    if (w == NULL) {
        return;
    }
    free(w->nodes);
    buf_free(&w->blobs);
    free(w->recs);
    free(w->rtab);
    buf_free(&w->scratch);
    free(w);
}

void kp_mmdbw_counts(const struct kp_mmdbw *w, struct kp_mmdbw_counts *out)
{
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (w != NULL) {
        out->networks = w->networks;
        out->records = w->n_recs;
        out->nodes = w->n_nodes;
    }
}

static int rtab_grow(struct kp_mmdbw *w)
{
    size_t nc = w->rtab_cap != 0 ? w->rtab_cap * 2 : 1024;
    if (nc > SIZE_MAX / sizeof(uint32_t)) {
        return KP_ENOMEM;
    }
    uint32_t *t = calloc(nc, sizeof(*t));
    if (t == NULL) {
        return KP_ENOMEM;
    }
    for (size_t i = 0; i < w->n_recs; i++) {
        size_t j = (size_t)w->recs[i].hash & (nc - 1);
        while (t[j] != 0) {
            j = (j + 1) & (nc - 1);
        }
        t[j] = (uint32_t)i + 1;
    }
    free(w->rtab);
    w->rtab = t;
    w->rtab_cap = nc;
    return KP_OK;
}

/* Data id of a record: encode canonically, then find or add. */
static int record_id(struct kp_mmdbw *w, const struct kp_mmdbw_rec *rec, uint32_t *id)
{
    int rc;
    w->scratch.len = 0;
    rc = rec_encode_map(rec, ROOT_PARENT, &w->scratch);
    if (rc != KP_OK) {
        return rc;
    }
    const uint8_t *p = w->scratch.p;
    size_t len = w->scratch.len;
    uint64_t h = hash_bytes(p, len);

    if ((w->n_recs + 1) * 2 > w->rtab_cap) {
        rc = rtab_grow(w);
        if (rc != KP_OK) {
            return rc;
        }
    }
    size_t mask = w->rtab_cap - 1;
    size_t j = (size_t)h & mask;
    while (w->rtab[j] != 0) {
        const struct recslot *r = &w->recs[w->rtab[j] - 1];
        if (r->hash == h && r->len == len && memcmp(w->blobs.p + r->off, p, len) == 0) {
            *id = w->rtab[j] - 1;
            return KP_OK;
        }
        j = (j + 1) & mask;
    }
    if (len > KP_MMDBW_MAX_DATA - w->blobs.len || w->n_recs >= UINT32_MAX / 2) {
        return KP_ENOMEM;
    }
    void *arr = w->recs;
    rc = grow_array(&arr, &w->cap_recs, w->n_recs, sizeof(*w->recs), UINT32_MAX / 2);
    w->recs = arr;
    if (rc != KP_OK) {
        return rc;
    }
    size_t off = w->blobs.len;
    rc = buf_put(&w->blobs, p, len);
    if (rc != KP_OK) {
        return rc;
    }
    w->recs[w->n_recs].hash = h;
    w->recs[w->n_recs].off = off;
    w->recs[w->n_recs].len = len;
    w->rtab[j] = (uint32_t)w->n_recs + 1;
    *id = (uint32_t)w->n_recs;
    w->n_recs++;
    return KP_OK;
}

static unsigned addr_bit(const uint8_t a[16], unsigned d)
{
    return (a[d >> 3] >> (7 - (d & 7))) & 1u;
}

static bool is_mapped(const uint8_t a[16])
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* Give every leaf below node n that was set by a prefix no longer than plen
 * the record id: the longest-prefix rule.  The alias is skipped: ::ffff:0:0/96
 * always shows ::/96.  Depth is at most 128. */
static void tree_fill(struct kp_mmdbw *w, uint32_t n, unsigned plen, uint32_t id)
{
    for (unsigned b = 0; b < 2; b++) {
        struct tnode *t = &w->nodes[n];
        switch (t->kind[b]) {
        case R_NODE:
            tree_fill(w, t->v[b], plen, id);
            break;
        case R_EMPTY:
            t->kind[b] = R_DATA;
            t->v[b] = id;
            t->plen[b] = (uint8_t)plen;
            break;
        case R_DATA:
            if (t->plen[b] <= plen) {
                t->v[b] = id;
                t->plen[b] = (uint8_t)plen;
            }
            break;
        default:
            break;
        }
    }
}

static int tree_set(struct kp_mmdbw *w, const uint8_t in[16], unsigned plen, uint32_t id)
{
    uint8_t a[16];
    memcpy(a, in, 16);
    /* IPv4-mapped networks are stored at ::/96, where the alias sends
     * ::ffff:0:0/96 lookups. */
    if (plen >= 96 && is_mapped(a)) {
        a[10] = 0;
        a[11] = 0;
    }
    if (plen == 0) {
        tree_fill(w, 0, 0, id);
        return KP_OK;
    }
    uint32_t n = 0;
    for (unsigned d = 0;; d++) {
        unsigned bit = addr_bit(a, d);
        struct tnode *t = &w->nodes[n];
        if (d + 1 == plen) {
            if (t->kind[bit] == R_NODE) {
                tree_fill(w, t->v[bit], plen, id);
            } else if (t->kind[bit] == R_ALIAS) {
                return KP_EINVAL; /* unreachable: remapped above */
            } else {
                t->kind[bit] = R_DATA;
                t->v[bit] = id;
                t->plen[bit] = (uint8_t)plen;
            }
            return KP_OK;
        }
        if (t->kind[bit] == R_NODE) {
            n = t->v[bit];
            continue;
        }
        if (t->kind[bit] == R_ALIAS) {
            return KP_EINVAL; /* unreachable: remapped above */
        }
        /* Split a leaf: the new node starts with the leaf's record on both
         * sides, so the addresses it covered keep their data. */
        uint8_t k = t->kind[bit];
        uint32_t v = t->v[bit];
        uint8_t pl = t->plen[bit];
        uint32_t m;
        int rc = node_new(w, &m); /* may move w->nodes */
        if (rc != KP_OK) {
            return rc;
        }
        for (unsigned s = 0; s < 2; s++) {
            w->nodes[m].kind[s] = k;
            w->nodes[m].v[s] = v;
            w->nodes[m].plen[s] = pl;
        }
        w->nodes[n].kind[bit] = R_NODE;
        w->nodes[n].v[bit] = m;
        n = m;
    }
}

static bool host_bits_zero(const uint8_t a[16], unsigned plen)
{
    for (unsigned d = plen; d < 128; d++) {
        if (addr_bit(a, d) != 0) {
            return false;
        }
    }
    return true;
}

int kp_mmdbw_insert(struct kp_mmdbw *w, const uint8_t net[16], unsigned plen,
                    const struct kp_mmdbw_rec *rec)
{
    uint32_t id;
    if (w == NULL || net == NULL || rec == NULL || plen > 128 || !host_bits_zero(net, plen)) {
        return KP_EINVAL;
    }
    int rc = record_id(w, rec, &id);
    if (rc != KP_OK) {
        return rc;
    }
    rc = tree_set(w, net, plen, id);
    if (rc == KP_OK) {
        w->networks++;
    }
    return rc;
}

/* ------------------------------------------------------- range to CIDR */

struct u128 {
    uint64_t hi;
    uint64_t lo;
};

static struct u128 u128_load(const uint8_t a[16])
{
    struct u128 v = {0, 0};
    for (int i = 0; i < 8; i++) {
        v.hi = (v.hi << 8) | a[i];
        v.lo = (v.lo << 8) | a[8 + i];
    }
    return v;
}

static void u128_store(struct u128 v, uint8_t a[16])
{
    for (int i = 7; i >= 0; i--) {
        a[i] = (uint8_t)v.hi;
        a[8 + i] = (uint8_t)v.lo;
        v.hi >>= 8;
        v.lo >>= 8;
    }
}

static int u128_cmp(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    if (a.lo != b.lo) {
        return a.lo < b.lo ? -1 : 1;
    }
    return 0;
}

static struct u128 u128_sub(struct u128 a, struct u128 b)
{
    struct u128 r;
    r.lo = a.lo - b.lo;
    r.hi = a.hi - b.hi - (a.lo < b.lo ? 1 : 0);
    return r;
}

static unsigned u128_ctz(struct u128 v)
{
    if (v.lo != 0) {
        return (unsigned)__builtin_ctzll(v.lo);
    }
    if (v.hi != 0) {
        return 64u + (unsigned)__builtin_ctzll(v.hi);
    }
    return 128;
}

/* floor(log2(v + 1)): the largest k with 2^k - 1 <= v. */
static unsigned u128_log2_plus1(struct u128 v)
{
    if (v.hi == UINT64_MAX && v.lo == UINT64_MAX) {
        return 128;
    }
    struct u128 w = v;
    w.lo++;
    if (w.lo == 0) {
        w.hi++;
    }
    if (w.hi != 0) {
        return 64u + 63u - (unsigned)__builtin_clzll(w.hi);
    }
    return 63u - (unsigned)__builtin_clzll(w.lo);
}

int kp_mmdbw_range_cidrs(const uint8_t lo[16], const uint8_t hi[16], kp_mmdbw_cidr_cb cb,
                         void *ctx)
{
    if (lo == NULL || hi == NULL || cb == NULL) {
        return KP_EINVAL;
    }
    struct u128 cur = u128_load(lo);
    struct u128 end = u128_load(hi);
    if (u128_cmp(cur, end) > 0) {
        return KP_EINVAL;
    }
    for (;;) {
        /* The biggest block that starts at cur (alignment) and stays
         * within the range (length). */
        unsigned k = u128_ctz(cur);
        unsigned kmax = u128_log2_plus1(u128_sub(end, cur));
        if (kmax < k) {
            k = kmax;
        }
        uint8_t net[16];
        u128_store(cur, net);
        int rc = cb(net, 128 - k, ctx);
        if (rc != 0) {
            return rc;
        }
        if (k == 128) {
            return KP_OK;
        }
        struct u128 next = cur;
        if (k >= 64) {
            next.hi += (uint64_t)1 << (k - 64);
            if (next.hi < cur.hi) {
                return KP_OK; /* wrapped past ffff...: done */
            }
        } else {
            next.lo += (uint64_t)1 << k;
            if (next.lo < cur.lo) {
                next.hi++;
                if (next.hi == 0) {
                    return KP_OK;
                }
            }
        }
        if (u128_cmp(next, end) > 0) {
            return KP_OK;
        }
        cur = next;
    }
}

struct range_ctx {
    struct kp_mmdbw *w;
    uint32_t id;
};

static int range_block(const uint8_t net[16], unsigned plen, void *vctx)
{
    struct range_ctx *c = vctx;
    int rc = tree_set(c->w, net, plen, c->id);
    if (rc == KP_OK) {
        c->w->networks++;
    }
    return rc;
}

int kp_mmdbw_insert_range(struct kp_mmdbw *w, const uint8_t lo[16], const uint8_t hi[16],
                          const struct kp_mmdbw_rec *rec)
{
    if (w == NULL || lo == NULL || hi == NULL || rec == NULL || is_mapped(lo) != is_mapped(hi) ||
        u128_cmp(u128_load(lo), u128_load(hi)) > 0) {
        return KP_EINVAL;
    }
    struct range_ctx c = {w, 0};
    int rc = record_id(w, rec, &c.id);
    if (rc != KP_OK) {
        return rc;
    }
    return kp_mmdbw_range_cidrs(lo, hi, range_block, &c);
}

/* ---------------------------------------------------------------- write */

/* A value already written in full in the data section. */
struct vslot {
    uint64_t hash;
    const uint8_t *src; /* canonical bytes, in w->blobs */
    size_t len;
    size_t out; /* data section offset */
};

struct wctx {
    const struct kp_mmdbw *w;
    bool no_alias;
    struct buf data;
    size_t *rec_off; /* data section offset of each record */
    struct vslot *vt;
    size_t vt_n;
    size_t vt_cap;
    /* canonical tree */
    uint8_t *ck;
    uint32_t *cv;
    uint32_t *num;
    uint32_t *order;
    uint32_t node_count;
};

#define UNSET8 0xFFu
#define UNSET32 UINT32_MAX

static int vt_grow(struct wctx *c)
{
    size_t nc = c->vt_cap != 0 ? c->vt_cap * 2 : 4096;
    if (nc > SIZE_MAX / sizeof(struct vslot)) {
        return KP_ENOMEM;
    }
    struct vslot *t = calloc(nc, sizeof(*t));
    if (t == NULL) {
        return KP_ENOMEM;
    }
    for (size_t i = 0; i < c->vt_cap; i++) {
        if (c->vt[i].src != NULL) {
            size_t j = (size_t)c->vt[i].hash & (nc - 1);
            while (t[j].src != NULL) {
                j = (j + 1) & (nc - 1);
            }
            t[j] = c->vt[i];
        }
    }
    free(c->vt);
    c->vt = t;
    c->vt_cap = nc;
    return KP_OK;
}

/* Write one value of a record into the data section.  A value met before
 * becomes a pointer to its first copy when the pointer is shorter (spec
 * §"pointer - 1"); only full copies are remembered, so no pointer ever
 * points to a pointer.  Top-level records are always written in full: the
 * search tree points at them. */
static int emit_value(struct wctx *c, const uint8_t *p, size_t len, bool top, unsigned depth)
{
    uint64_t h = hash_bytes(p, len);
    struct vslot *found = NULL;
    size_t j = 0;
    int rc;

    if (depth > KP_MMDBW_REC_MAX_DEPTH + 1) {
        return KP_EINVAL;
    }
    if ((c->vt_n + 1) * 2 > c->vt_cap) {
        rc = vt_grow(c);
        if (rc != KP_OK) {
            return rc;
        }
    }
    j = (size_t)h & (c->vt_cap - 1);
    while (c->vt[j].src != NULL) {
        struct vslot *s = &c->vt[j];
        if (s->hash == h && s->len == len && memcmp(s->src, p, len) == 0) {
            found = s;
            break;
        }
        j = (j + 1) & (c->vt_cap - 1);
    }
    if (!top && found != NULL && ptr_len(found->out) < len) {
        return enc_ptr(&c->data, found->out);
    }

    size_t out = c->data.len;
    unsigned type;
    size_t size;
    size_t hlen;
    rc = dec_ctrl(p, len, &type, &size, &hlen);
    if (rc != KP_OK) {
        return rc;
    }
    if (type == T_MAP) {
        rc = buf_put(&c->data, p, hlen);
        size_t off = hlen;
        for (size_t i = 0; i < 2 * size && rc == KP_OK; i++) {
            size_t ext;
            rc = enc_extent(p + off, len - off, depth + 1, &ext);
            if (rc == KP_OK) {
                rc = emit_value(c, p + off, ext, false, depth + 1);
                off += ext;
            }
        }
    } else {
        rc = buf_put(&c->data, p, len);
    }
    if (rc != KP_OK) {
        return rc;
    }
    if (c->data.len > KP_MMDBW_MAX_DATA) {
        return KP_ENOMEM;
    }
    if (found == NULL) {
        /* The table may have been rehashed by nested values: probe again. */
        if ((c->vt_n + 1) * 2 > c->vt_cap) {
            rc = vt_grow(c);
            if (rc != KP_OK) {
                return rc;
            }
        }
        j = (size_t)h & (c->vt_cap - 1);
        while (c->vt[j].src != NULL) {
            j = (j + 1) & (c->vt_cap - 1);
        }
        c->vt[j].hash = h;
        c->vt[j].src = p;
        c->vt[j].len = len;
        c->vt[j].out = out;
        c->vt_n++;
    }
    return KP_OK;
}

static void canon_node(struct wctx *c, uint32_t n);

/* What a record of the in-memory tree becomes after merging: a leaf (kind,
 * data id) or R_NODE with the node that stays. */
static void canon_rec(struct wctx *c, uint8_t kind, uint32_t v, uint8_t *ok, uint32_t *ov)
{
    if (kind == R_ALIAS && c->no_alias) {
        *ok = R_EMPTY;
        *ov = 0;
        return;
    }
    if (kind == R_ALIAS) {
        const struct tnode *p = &c->w->nodes[c->w->v4_parent];
        canon_rec(c, p->kind[0], p->v[0], ok, ov);
        return;
    }
    if (kind == R_NODE) {
        canon_node(c, v);
        *ok = c->ck[v];
        *ov = c->cv[v];
        return;
    }
    *ok = kind;
    *ov = kind == R_DATA ? v : 0;
}

/* A node whose two sides are the same leaf is that leaf (a merged, shorter
 * network); the root always stays a node. */
static void canon_node(struct wctx *c, uint32_t n)
{
    if (c->ck[n] != UNSET8) {
        return;
    }
    uint8_t k0;
    uint8_t k1;
    uint32_t v0;
    uint32_t v1;
    const struct tnode *t = &c->w->nodes[n];
    canon_rec(c, t->kind[0], t->v[0], &k0, &v0);
    canon_rec(c, t->kind[1], t->v[1], &k1, &v1);
    if (n != 0 && k0 != R_NODE && k0 == k1 && v0 == v1) {
        c->ck[n] = k0;
        c->cv[n] = v0;
    } else {
        c->ck[n] = R_NODE;
        c->cv[n] = n;
    }
}

/* Node numbers in depth-first preorder; node 0 is the root (spec §"Binary
 * Search Tree Section": "The top node is node 0"). */
static void number_nodes(struct wctx *c, uint32_t n)
{
    c->num[n] = c->node_count;
    c->order[c->node_count] = n;
    c->node_count++;
    for (unsigned b = 0; b < 2; b++) {
        const struct tnode *t = &c->w->nodes[n];
        uint8_t k;
        uint32_t v;
        canon_rec(c, t->kind[b], t->v[b], &k, &v);
        if (k == R_NODE && c->num[v] == UNSET32) {
            number_nodes(c, v);
        }
    }
}

unsigned kp_mmdbw_pick_record_size(uint64_t node_count, uint64_t data_bytes)
{
    static const unsigned sizes[3] = {24, 28, 32};
    if (node_count > UINT32_MAX || data_bytes > UINT32_MAX) {
        return 0;
    }
    /* Largest record value: node_count + 16 + last data offset (spec
     * §"Search Lookup Algorithm"); "empty" is node_count itself. */
    uint64_t max = node_count + MMDB_SEPARATOR + data_bytes;
    for (unsigned i = 0; i < 3; i++) {
        if (max <= ((uint64_t)1 << sizes[i])) {
            return sizes[i];
        }
    }
    return 0;
}

static uint64_t record_value(const struct wctx *c, uint8_t k, uint32_t v)
{
    if (k == R_NODE) {
        return c->num[v];
    }
    if (k == R_DATA) {
        return (uint64_t)c->node_count + MMDB_SEPARATOR + c->rec_off[v];
    }
    return c->node_count; /* spec: "equal to the number of nodes": no data */
}

/* Node layout, spec §"Node Layout": big-endian records; with 28 bits the
 * high nibbles of both records share the middle byte. */
static size_t pack_node(uint8_t *o, unsigned rs, uint64_t l, uint64_t r)
{
    if (rs == 24) {
        o[0] = (uint8_t)(l >> 16);
        o[1] = (uint8_t)(l >> 8);
        o[2] = (uint8_t)l;
        o[3] = (uint8_t)(r >> 16);
        o[4] = (uint8_t)(r >> 8);
        o[5] = (uint8_t)r;
        return 6;
    }
    if (rs == 28) {
        o[0] = (uint8_t)(l >> 16);
        o[1] = (uint8_t)(l >> 8);
        o[2] = (uint8_t)l;
        o[3] = (uint8_t)((((l >> 24) & 0x0F) << 4) | ((r >> 24) & 0x0F));
        o[4] = (uint8_t)(r >> 16);
        o[5] = (uint8_t)(r >> 8);
        o[6] = (uint8_t)r;
        return 7;
    }
    for (int i = 0; i < 4; i++) {
        o[i] = (uint8_t)(l >> (24 - 8 * i));
        o[4 + i] = (uint8_t)(r >> (24 - 8 * i));
    }
    return 8;
}

static int enc_key(struct buf *b, const char *k)
{
    return enc_str(b, k, strlen(k));
}

/* Metadata map, spec §"Database Metadata". */
static int encode_metadata(struct buf *m, const struct kp_mmdbw_meta *meta, uint32_t node_count,
                           unsigned rs)
{
    const char *type = meta->database_type != NULL ? meta->database_type : "";
    const char *desc = meta->description_en;
    int rc = buf_put(m, metadata_marker, sizeof(metadata_marker));
    rc = rc != KP_OK ? rc : enc_ctrl(m, T_MAP, 9);
    rc = rc != KP_OK ? rc : enc_key(m, "binary_format_major_version");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U16, 2);
    rc = rc != KP_OK ? rc : enc_key(m, "binary_format_minor_version");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U16, 0);
    rc = rc != KP_OK ? rc : enc_key(m, "build_epoch");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U64, meta->build_epoch);
    rc = rc != KP_OK ? rc : enc_key(m, "database_type");
    rc = rc != KP_OK ? rc : enc_str(m, type, strlen(type));
    rc = rc != KP_OK ? rc : enc_key(m, "description");
    rc = rc != KP_OK ? rc : enc_ctrl(m, T_MAP, desc != NULL ? 1 : 0);
    if (desc != NULL) {
        rc = rc != KP_OK ? rc : enc_key(m, "en");
        rc = rc != KP_OK ? rc : enc_str(m, desc, strlen(desc));
    }
    rc = rc != KP_OK ? rc : enc_key(m, "ip_version");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U16, 6);
    rc = rc != KP_OK ? rc : enc_key(m, "languages");
    rc = rc != KP_OK ? rc : enc_ctrl(m, T_ARRAY, 0);
    rc = rc != KP_OK ? rc : enc_key(m, "node_count");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U32, node_count);
    rc = rc != KP_OK ? rc : enc_key(m, "record_size");
    rc = rc != KP_OK ? rc : enc_uint(m, T_U16, rs);
    return rc;
}

static bool meta_str_ok(const char *s)
{
    if (s == NULL) {
        return true;
    }
    size_t n = strlen(s);
    return n <= KP_MMDBW_MAX_META_STR && utf8_valid((const uint8_t *)s, n);
}

static int write_all(FILE *fp, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, fp) == n ? KP_OK : KP_EIO;
}

static void wctx_free(struct wctx *c)
{
    buf_free(&c->data);
    free(c->rec_off);
    free(c->vt);
    free(c->ck);
    free(c->cv);
    free(c->num);
    free(c->order);
}

int kp_mmdbw_write(const struct kp_mmdbw *w, const struct kp_mmdbw_meta *meta, FILE *fp,
                   struct kp_mmdbw_info *info)
{
    struct wctx c;
    struct buf md = {NULL, 0, 0};
    int rc = KP_OK;
    unsigned rs;
    uint64_t file_bytes = 0;

    memset(&c, 0, sizeof(c));
    /* build_epoch 0 is refused by libmaxminddb ("could not find build_epoch"). */
    if (w == NULL || meta == NULL || fp == NULL || meta->build_epoch == 0 ||
        !meta_str_ok(meta->database_type) ||
        !meta_str_ok(meta->description_en) ||
        (meta->record_size != 0 && meta->record_size != 24 && meta->record_size != 28 &&
         meta->record_size != 32)) {
        return KP_EINVAL;
    }
    c.w = w;
    c.no_alias = meta->no_ipv4_alias != 0;

    /* 1. Data section: records in id order (first seen first), so output
     * depends only on the inserts. */
    c.rec_off = calloc(w->n_recs != 0 ? w->n_recs : 1, sizeof(*c.rec_off));
    if (c.rec_off == NULL) {
        rc = KP_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w->n_recs && rc == KP_OK; i++) {
        c.rec_off[i] = c.data.len;
        rc = emit_value(&c, w->blobs.p + w->recs[i].off, w->recs[i].len, true, 0);
    }
    if (rc != KP_OK) {
        goto out;
    }

    /* 2. Merge and number the search tree. */
    c.ck = malloc(w->n_nodes);
    c.cv = malloc(w->n_nodes * sizeof(*c.cv));
    c.num = malloc(w->n_nodes * sizeof(*c.num));
    c.order = malloc(w->n_nodes * sizeof(*c.order));
    if (c.ck == NULL || c.cv == NULL || c.num == NULL || c.order == NULL) {
        rc = KP_ENOMEM;
        goto out;
    }
    memset(c.ck, UNSET8, w->n_nodes);
    memset(c.num, 0xFF, w->n_nodes * sizeof(*c.num));
    canon_node(&c, 0);
    number_nodes(&c, 0);

    /* 3. Record size. */
    rs = kp_mmdbw_pick_record_size(c.node_count, c.data.len);
    if (rs == 0) {
        rc = KP_ENOMEM;
        goto out;
    }
    if (meta->record_size != 0) {
        if (meta->record_size < rs) {
            rc = KP_EINVAL;
            goto out;
        }
        rs = meta->record_size;
    }

    /* 4. Tree, separator, data, metadata. */
    uint8_t chunk[8 * 1024];
    size_t used = 0;
    for (uint32_t i = 0; i < c.node_count && rc == KP_OK; i++) {
        const struct tnode *t = &w->nodes[c.order[i]];
        uint8_t k0;
        uint8_t k1;
        uint32_t v0;
        uint32_t v1;
        canon_rec(&c, t->kind[0], t->v[0], &k0, &v0);
        canon_rec(&c, t->kind[1], t->v[1], &k1, &v1);
        used += pack_node(chunk + used, rs, record_value(&c, k0, v0), record_value(&c, k1, v1));
        if (used > sizeof(chunk) - 8) {
            rc = write_all(fp, chunk, used);
            file_bytes += used;
            used = 0;
        }
    }
    if (rc == KP_OK) {
        rc = write_all(fp, chunk, used);
        file_bytes += used;
    }
    if (rc == KP_OK) {
        static const uint8_t zeros[MMDB_SEPARATOR];
        rc = write_all(fp, zeros, sizeof(zeros));
        file_bytes += sizeof(zeros);
    }
    if (rc == KP_OK) {
        rc = write_all(fp, c.data.p, c.data.len);
        file_bytes += c.data.len;
    }
    if (rc == KP_OK) {
        rc = encode_metadata(&md, meta, c.node_count, rs);
    }
    if (rc == KP_OK) {
        rc = write_all(fp, md.p, md.len);
        file_bytes += md.len;
    }
    if (rc == KP_OK && fflush(fp) != 0) {
        rc = KP_EIO;
    }
    if (rc == KP_OK && info != NULL) {
        info->node_count = c.node_count;
        info->record_size = rs;
        info->tree_bytes = (uint64_t)c.node_count * rs / 4;
        info->data_bytes = c.data.len;
        info->file_bytes = file_bytes;
    }
out:
    buf_free(&md);
    wctx_free(&c);
    return rc;
}

int kp_mmdbw_write_file(const struct kp_mmdbw *w, const struct kp_mmdbw_meta *meta,
                        const char *path, struct kp_mmdbw_info *info, char *err, size_t errlen)
{
    int rc;
    if (path == NULL) {
        set_err(err, errlen, "no output file");
        return KP_EINVAL;
    }
    if (strcmp(path, "-") == 0) {
        rc = kp_mmdbw_write(w, meta, stdout, info);
        if (rc != KP_OK) {
            set_err(err, errlen, "%s: %s", "<stdout>",
                    rc == KP_EIO ? strerror(errno) : rc_text(rc));
        }
        return rc;
    }
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof(".tmpXXXXXX"));
    if (tmp == NULL) {
        set_err(err, errlen, "%s: %s", path, "out of memory");
        return KP_ENOMEM;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmpXXXXXX", sizeof(".tmpXXXXXX"));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return KP_EIO;
    }
    /* mkstemp makes the file 0600; databases are meant to be shared. */
    (void)fchmod(fd, 0644);
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
        set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return KP_EIO;
    }
    rc = kp_mmdbw_write(w, meta, fp, info);
    int saved = errno;
    if (rc == KP_OK && fsync(fileno(fp)) != 0) {
        saved = errno;
        rc = KP_EIO;
    }
    if (fclose(fp) != 0 && rc == KP_OK) {
        saved = errno;
        rc = KP_EIO;
    }
    if (rc == KP_OK && rename(tmp, path) != 0) {
        saved = errno;
        rc = KP_EIO;
    }
    if (rc != KP_OK) {
        unlink(tmp);
        set_err(err, errlen, "%s: cannot write: %s", path,
                rc == KP_EIO ? strerror(saved) : rc_text(rc));
    }
    free(tmp);
    return rc;
}

/* ------------------------------------------------------ address parsing */

int kp_mmdbw_parse_ip(const char *s, size_t len, uint8_t ip[16], int *is_v4)
{
    char tmp[64];
    if (s == NULL || ip == NULL || len == 0 || len >= sizeof(tmp)) {
        return KP_EINVAL;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (memchr(tmp, '\0', len) != NULL) {
        return KP_EINVAL;
    }
    if (memchr(tmp, ':', len) != NULL) {
        if (inet_pton(AF_INET6, tmp, ip) != 1) {
            return KP_EINVAL;
        }
        if (is_v4 != NULL) {
            *is_v4 = 0;
        }
        return KP_OK;
    }
    uint8_t v4[4];
    if (inet_pton(AF_INET, tmp, v4) != 1) {
        return KP_EINVAL;
    }
    memset(ip, 0, 10);
    ip[10] = 0xff;
    ip[11] = 0xff;
    memcpy(ip + 12, v4, 4);
    if (is_v4 != NULL) {
        *is_v4 = 1;
    }
    return KP_OK;
}

int kp_mmdbw_parse_net(const char *s, size_t len, uint8_t net[16], unsigned *plen,
                       const char **why)
{
    const char *why_unused = "";
    const char **w = why != NULL ? why : &why_unused;
    int v4 = 0;
    unsigned pl;

    if (s == NULL || net == NULL || plen == NULL) {
        *w = "bad argument";
        return KP_EINVAL;
    }
    const char *slash = memchr(s, '/', len);
    size_t alen = slash != NULL ? (size_t)(slash - s) : len;
    if (kp_mmdbw_parse_ip(s, alen, net, &v4) != KP_OK) {
        *w = "not an IPv4 or IPv6 address";
        return KP_EINVAL;
    }
    if (slash == NULL) {
        pl = 128;
    } else {
        const char *p = slash + 1;
        size_t n = len - alen - 1;
        if (n == 0 || n > 3) {
            *w = "bad prefix length";
            return KP_EINVAL;
        }
        pl = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] < '0' || p[i] > '9') {
                *w = "bad prefix length";
                return KP_EINVAL;
            }
            pl = pl * 10 + (unsigned)(p[i] - '0');
        }
        if (pl > (v4 ? 32u : 128u)) {
            *w = "prefix length out of range";
            return KP_EINVAL;
        }
        if (v4) {
            pl += 96;
        }
    }
    if (!host_bits_zero(net, pl)) {
        *w = "host bits set (address is not the start of the network)";
        return KP_EINVAL;
    }
    *plen = pl;
    return KP_OK;
}

/* ------------------------------------------------------------------ CSV */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 4180 §2: fields separated by commas; a field containing commas,
 * quotes or line breaks is enclosed in double quotes; a quote inside is
 * doubled (rule 7).  We unquote in place: the write position never passes
 * the read position. */
int kp_mmdbw_csv_split(char *rec, size_t len, struct kp_mmdbw_field *fields, size_t max,
                       size_t *n, const char **why)
{
    const char *why_unused = "";
    const char **w = why != NULL ? why : &why_unused;
    size_t i = 0;
    size_t nf = 0;

    if (rec == NULL || fields == NULL || n == NULL) {
        *w = "bad argument";
        return KP_EINVAL;
    }
    for (;;) {
        while (i < len && is_blank(rec[i])) {
            i++;
        }
        if (nf == max) {
            *w = "too many fields";
            return KP_EINVAL;
        }
        if (i < len && rec[i] == '"') {
            size_t out = i;
            size_t start = i;
            i++;
            for (;;) {
                if (i >= len) {
                    *w = "unterminated quoted field";
                    return KP_EINVAL;
                }
                if (rec[i] == '"') {
                    if (i + 1 < len && rec[i + 1] == '"') {
                        rec[out++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                rec[out++] = rec[i++];
            }
            fields[nf].p = rec + start;
            fields[nf].len = out - start;
            nf++;
            while (i < len && is_blank(rec[i])) {
                i++;
            }
            if (i < len && rec[i] != ',') {
                *w = "text after a closing quote";
                return KP_EINVAL;
            }
        } else {
            size_t start = i;
            while (i < len && rec[i] != ',') {
                if (rec[i] == '"') {
                    *w = "quote inside an unquoted field";
                    return KP_EINVAL;
                }
                i++;
            }
            size_t end = i;
            while (end > start && is_blank(rec[end - 1])) {
                end--;
            }
            fields[nf].p = rec + start;
            fields[nf].len = end - start;
            nf++;
        }
        if (i >= len) {
            break;
        }
        i++; /* the comma */
    }
    *n = nf;
    return KP_OK;
}

/* ---------------------------------------------------------- line reader */

/* Reads lines of at most KP_MMDBW_MAX_LINE bytes from a stream with one
 * bounded buffer; lengths are exact, so NUL bytes are seen (and refused). */
struct lrd {
    FILE *fp;
    char *buf;
    size_t cap;
    size_t pos;
    size_t end;
    bool eof;
    unsigned long line;
};

enum { LRD_EOF = 0, LRD_LINE = 1, LRD_TOO_LONG = -1, LRD_IO = -2 };

static int lrd_next(struct lrd *r, char **line, size_t *len)
{
    for (;;) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->end - r->pos);
        if (nl != NULL || (r->eof && r->pos < r->end)) {
            size_t n = nl != NULL ? (size_t)(nl - start) : r->end - r->pos;
            r->pos += n + (nl != NULL ? 1 : 0);
            r->line++;
            if (n > 0 && start[n - 1] == '\r') {
                n--;
            }
            if (n > KP_MMDBW_MAX_LINE) {
                return LRD_TOO_LONG;
            }
            *line = start;
            *len = n;
            return LRD_LINE;
        }
        if (r->eof) {
            return LRD_EOF;
        }
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->end - r->pos);
            r->end -= r->pos;
            r->pos = 0;
        }
        if (r->end == r->cap) {
            r->line++;
            return LRD_TOO_LONG;
        }
        size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->fp);
        r->end += got;
        if (got == 0) {
            if (ferror(r->fp)) {
                return LRD_IO;
            }
            r->eof = true;
        }
    }
}

static int lrd_open(struct lrd *r, FILE *fp)
{
    memset(r, 0, sizeof(*r));
    r->fp = fp;
    r->cap = KP_MMDBW_MAX_LINE + 2; /* a full line plus "\r\n" */
    r->buf = malloc(r->cap);
    return r->buf != NULL ? KP_OK : KP_ENOMEM;
}

/* Copy s into a message, making bytes outside printable ASCII visible as '?'
 * (input files may hold terminal escapes) and cutting long tokens. */
static const char *msg_token(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t o = 0;
    size_t room = dstlen - 4; /* leave space for "..." and the NUL */
    for (size_t i = 0; i < n; i++) {
        if (o == room) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[o] = '\0';
    return dst;
}

static int lrd_error(int lr, const char *name, unsigned long line, char *err, size_t errlen)
{
    if (lr == LRD_TOO_LONG) {
        set_err(err, errlen, "%s:%lu: line longer than %u bytes", name, line,
                (unsigned)KP_MMDBW_MAX_LINE);
        return KP_EINVAL;
    }
    set_err(err, errlen, "%s:%lu: read error: %s", name, line + 1, strerror(errno));
    return KP_EIO;
}

/* ----------------------------------------------------------------- spec */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c == ':';
}

/* Digits only, as a uint32; false if not all digits or too large. */
static bool parse_u32(const char *s, size_t n, uint32_t *v, bool *too_big)
{
    uint64_t x = 0;
    *too_big = false;
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        x = x * 10 + (uint64_t)(s[i] - '0');
        if (x > UINT32_MAX) {
            *too_big = true;
            /* keep scanning: a non-digit later makes it a string */
            x = (uint64_t)UINT32_MAX + 1;
        }
    }
    *v = (uint32_t)x;
    return true;
}

/* One spec line (no newline, no NUL).  msg gets what is wrong. */
static int spec_line(struct kp_mmdbw *w, struct kp_mmdbw_rec *rec, char *line, size_t len,
                     char *msg, size_t msglen)
{
    char tok[80];
    size_t i = 0;
    const char *why = "";
    uint8_t net[16];
    unsigned plen;
    size_t pairs = 0;

    while (i < len && is_space(line[i])) {
        i++;
    }
    if (i == len || line[i] == '#') {
        return 1; /* blank or comment */
    }
    size_t ns = i;
    while (i < len && !is_space(line[i]) && line[i] != '#') {
        i++;
    }
    if (kp_mmdbw_parse_net(line + ns, i - ns, net, &plen, &why) != KP_OK) {
        set_err(msg, msglen, "bad network '%s': %s",
                msg_token(tok, sizeof(tok), line + ns, i - ns), why);
        return KP_EINVAL;
    }
    kp_mmdbw_rec_clear(rec);
    for (;;) {
        while (i < len && is_space(line[i])) {
            i++;
        }
        if (i == len || line[i] == '#') {
            break;
        }
        size_t ks = i;
        while (i < len && line[i] != '=' && !is_space(line[i]) && line[i] != '#') {
            if (!key_char(line[i])) {
                set_err(msg, msglen, "bad character '%s' in key (use A-Z a-z 0-9 _ - . :)",
                        msg_token(tok, sizeof(tok), line + i, 1));
                return KP_EINVAL;
            }
            i++;
        }
        if (i == len || line[i] != '=') {
            set_err(msg, msglen, "expected key=value, found '%s'",
                    msg_token(tok, sizeof(tok), line + ks, i - ks));
            return KP_EINVAL;
        }
        if (i == ks) {
            set_err(msg, msglen, "empty key before '='");
            return KP_EINVAL;
        }
        size_t ke = i;
        line[ke] = '\0'; /* the key becomes a C string in place of '=' */
        i++;
        char *val = line + i;
        size_t vlen = 0;
        bool quoted = false;
        if (i < len && line[i] == '"') {
            /* "..." with \" and \\; unescaped in place. */
            quoted = true;
            i++;
            val = line + i;
            for (;;) {
                if (i >= len) {
                    set_err(msg, msglen, "unterminated quoted value of key '%s'",
                            msg_token(tok, sizeof(tok), line + ks, ke - ks));
                    return KP_EINVAL;
                }
                char c = line[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (i + 1 >= len || (line[i + 1] != '"' && line[i + 1] != '\\')) {
                        set_err(msg, msglen, "bad escape in value of key '%s' (only \\\" and \\\\)",
                                msg_token(tok, sizeof(tok), line + ks, ke - ks));
                        return KP_EINVAL;
                    }
                    c = line[i + 1];
                    i++;
                }
                val[vlen++] = c;
                i++;
            }
            if (i < len && !is_space(line[i]) && line[i] != '#') {
                set_err(msg, msglen, "text after the closing quote of key '%s'",
                        msg_token(tok, sizeof(tok), line + ks, ke - ks));
                return KP_EINVAL;
            }
        } else {
            while (i < len && !is_space(line[i]) && line[i] != '#') {
                if (line[i] == '"') {
                    set_err(msg, msglen, "quote inside the unquoted value of key '%s'",
                            msg_token(tok, sizeof(tok), line + ks, ke - ks));
                    return KP_EINVAL;
                }
                i++;
            }
            vlen = (size_t)(line + i - val);
            if (vlen == 0) {
                set_err(msg, msglen, "empty value of key '%s' (write \"\" for an empty string)",
                        msg_token(tok, sizeof(tok), line + ks, ke - ks));
                return KP_EINVAL;
            }
        }
        uint32_t num = 0;
        bool too_big = false;
        int rc;
        if (!quoted && parse_u32(val, vlen, &num, &too_big)) {
            if (too_big) {
                set_err(msg, msglen, "integer value of key '%s' is above 4294967295",
                        msg_token(tok, sizeof(tok), line + ks, ke - ks));
                return KP_EINVAL;
            }
            rc = rec_set(rec, line + ks, E_U32, NULL, 0, num, &why);
        } else {
            rc = rec_set(rec, line + ks, E_STR, val, vlen, 0, &why);
        }
        if (rc != KP_OK) {
            set_err(msg, msglen, "key '%s': %s", msg_token(tok, sizeof(tok), line + ks, ke - ks),
                    why);
            return rc;
        }
        pairs++;
    }
    if (pairs == 0) {
        set_err(msg, msglen, "no key=value after the network");
        return KP_EINVAL;
    }
    int rc = kp_mmdbw_insert(w, net, plen, rec);
    if (rc != KP_OK) {
        set_err(msg, msglen, "%s", rc == KP_ENOMEM ? "out of memory (database too large)"
                                                  : "cannot insert the network");
        return rc;
    }
    return KP_OK;
}

int kp_mmdbw_load_spec(struct kp_mmdbw *w, FILE *fp, const char *name, char *err,
                       size_t errlen)
{
    struct lrd r;
    struct kp_mmdbw_rec *rec = NULL;
    char msg[256];
    int rc;

    if (name == NULL) {
        name = "<spec>";
    }
    if (w == NULL || fp == NULL) {
        set_err(err, errlen, "%s: bad argument", name);
        return KP_EINVAL;
    }
    rc = lrd_open(&r, fp);
    if (rc == KP_OK) {
        rc = kp_mmdbw_rec_new(&rec);
    }
    if (rc != KP_OK) {
        set_err(err, errlen, "%s: out of memory", name);
        goto out;
    }
    for (;;) {
        char *line;
        size_t len;
        int lr = lrd_next(&r, &line, &len);
        if (lr == LRD_EOF) {
            rc = KP_OK;
            break;
        }
        if (lr != LRD_LINE) {
            rc = lrd_error(lr, name, r.line, err, errlen);
            break;
        }
        if (memchr(line, '\0', len) != NULL) {
            set_err(err, errlen, "%s:%lu: NUL byte in line (not a text file?)", name, r.line);
            rc = KP_EINVAL;
            break;
        }
        msg[0] = '\0';
        rc = spec_line(w, rec, line, len, msg, sizeof(msg));
        if (rc < 0) {
            set_err(err, errlen, "%s:%lu: %s", name, r.line, msg);
            break;
        }
    }
out:
    kp_mmdbw_rec_free(rec);
    free(r.buf);
    return rc < 0 ? rc : KP_OK;
}

/* -------------------------------------------------------------- ASN CSV */

static int quote_count_odd(const char *s, size_t n)
{
    size_t q = 0;
    for (size_t i = 0; i < n; i++) {
        q += s[i] == '"';
    }
    return (int)(q & 1);
}

/* One ASN row: start, end, AS number, organisation. */
static int asn_row(struct kp_mmdbw *w, struct kp_mmdbw_rec *rec, struct kp_mmdbw_field *f,
                   size_t nf, char *msg, size_t msglen)
{
    char tok[80];
    uint8_t lo[16];
    uint8_t hi[16];
    uint32_t asn;
    bool too_big;
    int rc;

    if (nf != 4) {
        set_err(msg, msglen, "expected 4 fields (start,end,asn,organisation), found %zu", nf);
        return KP_EINVAL;
    }
    if (kp_mmdbw_parse_ip(f[0].p, f[0].len, lo, NULL) != KP_OK) {
        set_err(msg, msglen, "bad start address '%s'",
                msg_token(tok, sizeof(tok), f[0].p, f[0].len));
        return KP_EINVAL;
    }
    if (kp_mmdbw_parse_ip(f[1].p, f[1].len, hi, NULL) != KP_OK) {
        set_err(msg, msglen, "bad end address '%s'",
                msg_token(tok, sizeof(tok), f[1].p, f[1].len));
        return KP_EINVAL;
    }
    if (is_mapped(lo) != is_mapped(hi)) {
        set_err(msg, msglen, "start and end addresses are of different families");
        return KP_EINVAL;
    }
    if (u128_cmp(u128_load(lo), u128_load(hi)) > 0) {
        set_err(msg, msglen, "end address is below start address");
        return KP_EINVAL;
    }
    const char *a = f[2].p;
    size_t alen = f[2].len;
    if (alen > 2 && (a[0] == 'A' || a[0] == 'a') && (a[1] == 'S' || a[1] == 's')) {
        a += 2;
        alen -= 2;
    }
    if (!parse_u32(a, alen, &asn, &too_big) || too_big) {
        set_err(msg, msglen, "bad AS number '%s'", msg_token(tok, sizeof(tok), f[2].p, f[2].len));
        return KP_EINVAL;
    }
    kp_mmdbw_rec_clear(rec);
    rc = kp_mmdbw_rec_set_u32(rec, "autonomous_system_number", asn);
    if (rc == KP_OK && f[3].len != 0) {
        rc = kp_mmdbw_rec_set_str(rec, "autonomous_system_organization", f[3].p, f[3].len);
        if (rc == KP_EINVAL) {
            set_err(msg, msglen, "organisation is not valid UTF-8 or too long");
            return rc;
        }
    }
    if (rc == KP_OK) {
        rc = kp_mmdbw_insert_range(w, lo, hi, rec);
    }
    if (rc != KP_OK) {
        set_err(msg, msglen, "%s", rc == KP_ENOMEM ? "out of memory (database too large)"
                                                  : "cannot insert the range");
    }
    return rc;
}

int kp_mmdbw_load_asn_csv(struct kp_mmdbw *w, FILE *fp, const char *name, uint64_t *rows,
                          char *err, size_t errlen)
{
    struct lrd r;
    struct kp_mmdbw_rec *rec = NULL;
    struct buf acc = {NULL, 0, 0};
    struct kp_mmdbw_field f[KP_MMDBW_CSV_MAX_FIELDS];
    char msg[256];
    int rc;

    if (name == NULL) {
        name = "<csv>";
    }
    if (w == NULL || fp == NULL) {
        set_err(err, errlen, "%s: bad argument", name);
        return KP_EINVAL;
    }
    rc = lrd_open(&r, fp);
    if (rc == KP_OK) {
        rc = kp_mmdbw_rec_new(&rec);
    }
    if (rc != KP_OK) {
        set_err(err, errlen, "%s: out of memory", name);
        goto out;
    }
    for (bool first = true;; first = false) {
        char *line;
        size_t len;
        int lr = lrd_next(&r, &line, &len);
        unsigned long start_line = r.line;
        if (lr == LRD_EOF) {
            rc = KP_OK;
            break;
        }
        if (lr != LRD_LINE) {
            rc = lrd_error(lr, name, r.line, err, errlen);
            break;
        }
        /* A quoted field may hold line breaks (RFC 4180 §2 rule 6): join
         * lines while a quote is open, within the line bound. */
        if (quote_count_odd(line, len)) {
            acc.len = 0;
            rc = buf_put(&acc, line, len);
            while (rc == KP_OK && quote_count_odd((const char *)acc.p, acc.len)) {
                lr = lrd_next(&r, &line, &len);
                if (lr == LRD_EOF) {
                    break; /* csv_split reports the open quote */
                }
                if (lr != LRD_LINE) {
                    rc = lrd_error(lr, name, r.line, err, errlen);
                    goto out;
                }
                if (acc.len + 1 + len > KP_MMDBW_MAX_LINE) {
                    set_err(err, errlen, "%s:%lu: record longer than %u bytes", name,
                            start_line, (unsigned)KP_MMDBW_MAX_LINE);
                    rc = KP_EINVAL;
                    goto out;
                }
                rc = buf_u8(&acc, '\n');
                if (rc == KP_OK) {
                    rc = buf_put(&acc, line, len);
                }
            }
            if (rc != KP_OK) {
                set_err(err, errlen, "%s:%lu: out of memory", name, start_line);
                goto out;
            }
            line = (char *)acc.p;
            len = acc.len;
        }
        if (memchr(line, '\0', len) != NULL) {
            set_err(err, errlen, "%s:%lu: NUL byte in line (not a text file?)", name, start_line);
            rc = KP_EINVAL;
            break;
        }
        size_t i = 0;
        while (i < len && is_space(line[i])) {
            i++;
        }
        if (i == len) {
            continue; /* blank line */
        }
        size_t nf = 0;
        const char *why = "";
        if (kp_mmdbw_csv_split(line, len, f, KP_MMDBW_CSV_MAX_FIELDS, &nf, &why) != KP_OK) {
            set_err(err, errlen, "%s:%lu: %s", name, start_line, why);
            rc = KP_EINVAL;
            break;
        }
        if (first && f[0].len >= 14 && memcmp(f[0].p, "ip_range_start", 14) == 0) {
            continue; /* header */
        }
        msg[0] = '\0';
        rc = asn_row(w, rec, f, nf, msg, sizeof(msg));
        if (rc != KP_OK) {
            set_err(err, errlen, "%s:%lu: %s", name, start_line, msg);
            break;
        }
        if (rows != NULL) {
            (*rows)++;
        }
    }
out:
    buf_free(&acc);
    kp_mmdbw_rec_free(rec);
    free(r.buf);
    return rc;
}

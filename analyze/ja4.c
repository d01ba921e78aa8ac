/* JA4 TLS client fingerprint; see ja4.h and FoxIO's JA4.md. */
#include "crypto.h"
#include "ja4.h"

#include <openssl/evp.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* JA4.md "TLS and DTLS Version". */
static const char *version_code(uint16_t v)
{
    switch (v) {
    case KP_TLS_V_TLS13:
        return "13";
    case KP_TLS_V_TLS12:
        return "12";
    case KP_TLS_V_TLS11:
        return "11";
    case KP_TLS_V_TLS10:
        return "10";
    case KP_TLS_V_SSL3:
        return "s3";
    case KP_TLS_V_SSL2:
        return "s2";
    case KP_TLS_V_DTLS10:
        return "d1";
    case KP_TLS_V_DTLS12:
        return "d2";
    case KP_TLS_V_DTLS13:
        return "d3";
    default:
        return "00";
    }
}

/* Order in which "highest" is taken: numeric, except that DTLS minor
 * versions count down (RFC 6347 4.1: 1.0 is 0xfeff, 1.2 is 0xfefd). */
static uint32_t version_rank(uint16_t v)
{
    if ((v >> 8) == 0xfe) {
        return 0xfe00u + (0xffu - (v & 0xffu));
    }
    return v;
}

static uint16_t ja4_version(const struct kp_tls_client_hello *ch)
{
    bool found = false;
    uint16_t best = 0;
    if (ch->has_supported_versions) {
        for (size_t i = 0; i < ch->n_versions; i++) {
            uint16_t v = ch->versions[i];
            if (kp_tls_is_grease(v)) {
                continue;
            }
            if (!found || version_rank(v) > version_rank(best)) {
                best = v;
                found = true;
            }
        }
    }
    /* Without supported_versions (or with only GREASE in it), the
     * ClientHello's own version; the record version is ignored. */
    return found ? best : ch->legacy_version;
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* JA4.md "ALPN Extension Value". */
static void ja4_alpn(const struct kp_tls_client_hello *ch, char out[2])
{
    uint8_t first, last;
    out[0] = '0';
    out[1] = '0';
    if (!ch->has_alpn || ch->n_alpn == 0) {
        return;
    }
    const struct kp_rd *v = &ch->alpn[0];
    if (!kp_rd_peek_u8(v, 0, &first) || !kp_rd_peek_u8(v, v->len - 1, &last)) {
        return; /* empty first name */
    }
    if (is_alnum(first) && is_alnum(last)) {
        out[0] = (char)first;
        out[1] = (char)last;
    } else {
        out[0] = hex_digits[first >> 4];
        out[1] = hex_digits[last & 0x0f];
    }
}

static size_t count_non_grease(const uint16_t *a, size_t n, size_t total)
{
    size_t c = total - n; /* capped-off entries: counted as non-GREASE */
    for (size_t i = 0; i < n; i++) {
        if (!kp_tls_is_grease(a[i])) {
            c++;
        }
    }
    return c;
}

/* Copy the entries to keep into dst (cap >= n) and sort them ascending. */
static size_t filter_sort(const uint16_t *src, size_t n, uint16_t *dst, bool drop_sni_alpn)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t v = src[i];
        if (kp_tls_is_grease(v)) {
            continue;
        }
        if (drop_sni_alpn && (v == KP_TLS_EXT_SERVER_NAME || v == KP_TLS_EXT_ALPN)) {
            continue;
        }
        /* Insertion sort: the lists are short (at most KP_TLS_MAX_CIPHERS). */
        size_t j = k++;
        while (j > 0 && dst[j - 1] > v) {
            dst[j] = dst[j - 1];
            j--;
        }
        dst[j] = v;
    }
    return k;
}

/* A bounded string builder that counts what it could not store. */
struct sbuf {
    char *p;
    size_t cap; /* bytes available for characters (NUL excluded) */
    size_t len; /* full length written so far */
};

static void sb_putc(struct sbuf *b, char c)
{
    if (b->len < b->cap) {
        b->p[b->len] = c;
    }
    b->len++;
}

static void sb_puts(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sb_putc(b, s[i]);
    }
}

static void sb_hex16_list(struct sbuf *b, const uint16_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            sb_putc(b, ',');
        }
        sb_putc(b, hex_digits[(a[i] >> 12) & 0xf]);
        sb_putc(b, hex_digits[(a[i] >> 8) & 0xf]);
        sb_putc(b, hex_digits[(a[i] >> 4) & 0xf]);
        sb_putc(b, hex_digits[a[i] & 0xf]);
    }
}

/* The three pieces JA4 hashes or prints. */
struct ja4_parts {
    char a[11]; /* the first part, NUL-terminated */
    uint16_t ciphers[KP_TLS_MAX_CIPHERS];
    size_t n_ciphers;
    uint16_t exts[KP_TLS_MAX_EXTS];
    size_t n_exts;
    uint16_t sigalgs[KP_TLS_MAX_SIGALGS];
    size_t n_sigalgs;
    bool exact;
};

static void ja4_parts(const struct kp_tls_client_hello *ch, char proto, struct ja4_parts *p)
{
    size_t nc = count_non_grease(ch->ciphers, ch->n_ciphers, ch->ciphers_total);
    size_t ne = count_non_grease(ch->exts, ch->n_exts, ch->exts_total);
    nc = nc > 99 ? 99 : nc;
    ne = ne > 99 ? 99 : ne;
    const char *ver = version_code(ja4_version(ch));
    char alpn[2];
    ja4_alpn(ch, alpn);

    p->a[0] = (proto == 'q' || proto == 'd') ? proto : 't';
    p->a[1] = ver[0];
    p->a[2] = ver[1];
    p->a[3] = ch->has_sni ? 'd' : 'i';
    p->a[4] = (char)('0' + nc / 10);
    p->a[5] = (char)('0' + nc % 10);
    p->a[6] = (char)('0' + ne / 10);
    p->a[7] = (char)('0' + ne % 10);
    p->a[8] = alpn[0];
    p->a[9] = alpn[1];
    p->a[10] = '\0';

    p->n_ciphers = filter_sort(ch->ciphers, ch->n_ciphers, p->ciphers, false);
    p->n_exts = filter_sort(ch->exts, ch->n_exts, p->exts, true);
    /* Signature algorithms keep their wire order; GREASE is dropped as
     * everywhere in JA4. */
    p->n_sigalgs = 0;
    for (size_t i = 0; i < ch->n_sigalgs; i++) {
        if (!kp_tls_is_grease(ch->sigalgs[i])) {
            p->sigalgs[p->n_sigalgs++] = ch->sigalgs[i];
        }
    }
    p->exact = ch->n_ciphers == ch->ciphers_total && ch->n_exts == ch->exts_total &&
               ch->n_sigalgs == ch->sigalgs_total && ch->n_versions == ch->versions_total;
}

/* Longest list text: 5 characters per entry. */
#define CIPHER_TEXT_CAP (KP_TLS_MAX_CIPHERS * 5)
#define EXT_TEXT_CAP ((KP_TLS_MAX_EXTS + KP_TLS_MAX_SIGALGS) * 5 + 1)

/* First 12 hex digits of SHA-256(text); false (and zeros) if it failed. */
static bool hash12(const char *text, size_t len, char out[12])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (kp_crypto_sha256() == NULL ||
        EVP_Digest(text, len, md, &mdlen, kp_crypto_sha256(), NULL) != 1 || mdlen < 6) {
        memset(out, '0', 12);
        return false;
    }
    for (size_t i = 0; i < 6; i++) {
        out[2 * i] = hex_digits[md[i] >> 4];
        out[2 * i + 1] = hex_digits[md[i] & 0xf];
    }
    return true;
}

bool kp_ja4(const struct kp_tls_client_hello *ch, char proto, char out[KP_JA4_LEN + 1])
{
    struct ja4_parts p;
    char text[EXT_TEXT_CAP > CIPHER_TEXT_CAP ? EXT_TEXT_CAP : CIPHER_TEXT_CAP];
    ja4_parts(ch, proto, &p);
    bool ok = p.exact;

    memcpy(out, p.a, 10);
    out[10] = '_';
    /* JA4.md "Cipher hash": an empty list is written as 12 zeros rather than
     * the hash of nothing. */
    if (p.n_ciphers == 0) {
        memset(out + 11, '0', 12);
    } else {
        struct sbuf b = {text, sizeof text, 0};
        sb_hex16_list(&b, p.ciphers, p.n_ciphers);
        ok = hash12(text, b.len, out + 11) && ok;
    }
    out[23] = '_';
    /* JA4.md "Extension hash". */
    if (p.n_exts == 0) {
        memset(out + 24, '0', 12);
    } else {
        struct sbuf b = {text, sizeof text, 0};
        sb_hex16_list(&b, p.exts, p.n_exts);
        if (p.n_sigalgs > 0) {
            sb_putc(&b, '_');
            sb_hex16_list(&b, p.sigalgs, p.n_sigalgs);
        }
        ok = hash12(text, b.len, out + 24) && ok;
    }
    out[KP_JA4_LEN] = '\0';
    return ok;
}

size_t kp_ja4_raw(const struct kp_tls_client_hello *ch, char proto, char *buf, size_t cap)
{
    struct ja4_parts p;
    ja4_parts(ch, proto, &p);
    struct sbuf b = {buf, cap > 0 ? cap - 1 : 0, 0};
    sb_puts(&b, p.a, 10);
    sb_putc(&b, '_');
    sb_hex16_list(&b, p.ciphers, p.n_ciphers);
    sb_putc(&b, '_');
    sb_hex16_list(&b, p.exts, p.n_exts);
    if (p.n_sigalgs > 0) {
        sb_putc(&b, '_');
        sb_hex16_list(&b, p.sigalgs, p.n_sigalgs);
    }
    if (cap > 0) {
        buf[b.len < b.cap ? b.len : b.cap] = '\0';
    }
    return b.len;
}

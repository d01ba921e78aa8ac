/* SIP message and SDP parsing; see sip.h. */
#include "crypto.h"
#include "sip.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

/* ---- Small view helpers ------------------------------------------------------ */

static bool is_wsp(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool is_lws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" /
 * "+" / "`" / "'" / "~"). */
static bool is_token_char(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) {
        return true;
    }
    return c != 0 && strchr("-.!%*_+`'~", c) != NULL;
}

static bool all_token(struct kp_rd v)
{
    uint8_t c;
    if (v.len == 0) {
        return false;
    }
    while (kp_rd_u8(&v, &c)) {
        if (!is_token_char(c)) {
            return false;
        }
    }
    return true;
}

/* Case-insensitive: v starts with s (n bytes), or (prefix_ok) v is a prefix
 * of s. */
static bool ci_prefix(struct kp_rd v, const char *s, size_t n, bool prefix_ok)
{
    if (v.len < n && !prefix_ok) {
        return false;
    }
    size_t m = v.len < n ? v.len : n;
    for (size_t i = 0; i < m; i++) {
        uint8_t c;
        if (!kp_rd_u8(&v, &c) || lower(c) != lower((uint8_t)s[i])) {
            return false;
        }
    }
    return true;
}

static bool ci_eq(struct kp_rd v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && ci_prefix(v, s, n, false);
}

/* Exact (case-sensitive) prefix, or v a prefix of s when prefix_ok. */
static bool cs_prefix(struct kp_rd v, const char *s, size_t n, bool prefix_ok)
{
    if (v.len < n && !prefix_ok) {
        return false;
    }
    size_t m = v.len < n ? v.len : n;
    for (size_t i = 0; i < m; i++) {
        uint8_t c;
        if (!kp_rd_u8(&v, &c) || c != (uint8_t)s[i]) {
            return false;
        }
    }
    return true;
}

static struct kp_rd take(struct kp_rd v, size_t n)
{
    struct kp_rd out = {NULL, 0};
    if (!kp_rd_sub(&v, &out, n)) {
        out.p = NULL;
        out.len = 0;
    }
    return out;
}

/* Strip LWS (SP, HT, CR, LF) at both ends. */
static struct kp_rd trim(struct kp_rd v)
{
    uint8_t c;
    while (kp_rd_peek_u8(&v, 0, &c) && is_lws(c)) {
        if (!kp_rd_skip(&v, 1)) {
            break;
        }
    }
    while (v.len > 0 && kp_rd_peek_u8(&v, v.len - 1, &c) && is_lws(c)) {
        v = take(v, v.len - 1);
    }
    return v;
}

/* Next whitespace-delimited word of *r (leading SP/HT skipped). */
static bool next_word(struct kp_rd *r, struct kp_rd *w)
{
    uint8_t c;
    while (kp_rd_peek_u8(r, 0, &c) && is_wsp(c)) {
        if (!kp_rd_skip(r, 1)) {
            return false;
        }
    }
    size_t n = 0;
    while (kp_rd_peek_u8(r, n, &c) && !is_wsp(c)) {
        n++;
    }
    return n > 0 && kp_rd_sub(r, w, n);
}

static void skip_wsp(struct kp_rd *r)
{
    uint8_t c;
    while (kp_rd_peek_u8(r, 0, &c) && is_wsp(c)) {
        if (!kp_rd_skip(r, 1)) {
            return;
        }
    }
}

/* Split v at the first byte equal to sep: *head before it, *tail after it.
 * False (nothing written) if sep does not occur. */
static bool split_at(struct kp_rd v, uint8_t sep, struct kp_rd *head, struct kp_rd *tail)
{
    uint8_t c;
    for (size_t i = 0; kp_rd_peek_u8(&v, i, &c); i++) {
        if (c == sep) {
            struct kp_rd t = v;
            if (!kp_rd_sub(&t, head, i) || !kp_rd_skip(&t, 1)) {
                return false;
            }
            *tail = t;
            return true;
        }
    }
    return false;
}

/* Decimal, at most max_digits digits, the whole view. */
static bool parse_uint(struct kp_rd v, size_t max_digits, uint32_t *out)
{
    uint64_t x = 0;
    uint8_t c;
    if (v.len == 0 || v.len > max_digits) {
        return false;
    }
    while (kp_rd_u8(&v, &c)) {
        if (!is_digit(c)) {
            return false;
        }
        x = x * 10 + (uint64_t)(c - '0');
    }
    if (x > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

/* A line and how many bytes it consumed with its terminator. */
static bool get_line(struct kp_rd *r, struct kp_rd *line, size_t *consumed, bool *bare_lf)
{
    size_t before = r->len;
    if (!kp_rd_line(r, line)) {
        return false;
    }
    *consumed = before - r->len;
    *bare_lf = *consumed - line->len == 1;
    return true;
}

/* ---- SIP start line --------------------------------------------------------- */

/* Methods of RFC 3261 and its extensions (RFC 3262 PRACK, 6665
 * SUBSCRIBE/NOTIFY, 3903 PUBLISH, 6086 INFO, 3515 REFER, 3428 MESSAGE,
 * 3311 UPDATE).  Only used to call a line-less prefix SIP-shaped. */
static const char *const known_methods[] = {
    "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
};

static bool known_method(struct kp_rd m)
{
    for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        size_t n = strlen(known_methods[i]);
        if (m.len == n && cs_prefix(m, known_methods[i], n, false)) {
            return true;
        }
    }
    return false;
}

/* Could the bytes of an incomplete first line start a SIP message? */
static bool plausible_prefix(struct kp_rd v)
{
    if (ci_prefix(v, "SIP/", 4, true)) {
        return true;
    }
    for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        char buf[16];
        size_t n = strlen(known_methods[i]);
        memcpy(buf, known_methods[i], n);
        buf[n] = ' ';
        if (cs_prefix(v, buf, n + 1, true)) {
            return true;
        }
    }
    return false;
}

/* RFC 3261 25.1: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT. */
static bool version_ok(struct kp_sip_msg *out, struct kp_rd v)
{
    if (!ci_prefix(v, "SIP/", 4, false)) {
        return false;
    }
    struct kp_rd num = v, maj, min;
    uint32_t x;
    if (!kp_rd_skip(&num, 4) || !split_at(num, '.', &maj, &min) || !parse_uint(maj, 3, &x) ||
        !parse_uint(min, 3, &x)) {
        return false;
    }
    if (!ci_eq(v, "SIP/2.0")) {
        out->anomalies |= KP_SIP_ANOM_VERSION;
    }
    return true;
}

static enum kp_res parse_start_line(struct kp_sip_msg *out, struct kp_rd line)
{
    struct kp_rd r = line, w1, w2;
    if (ci_prefix(line, "SIP/", 4, false)) {
        /* RFC 3261 7.2: SIP-Version SP Status-Code SP Reason-Phrase. */
        uint32_t code;
        if (!next_word(&r, &w1) || !version_ok(out, w1) || !kp_rd_skip(&r, 1) ||
            !kp_rd_sub(&r, &w2, 3) || !parse_uint(w2, 3, &code) || code < 100 || code > 699) {
            return KP_RES_MALFORMED;
        }
        uint8_t c;
        if (kp_rd_peek_u8(&r, 0, &c)) {
            if (c != ' ') {
                return KP_RES_MALFORMED;
            }
            if (!kp_rd_skip(&r, 1)) {
                return KP_RES_MALFORMED;
            }
        }
        out->is_request = false;
        out->version = w1;
        out->status_code = (uint16_t)code;
        out->reason = r;
        return KP_RES_OK;
    }
    /* RFC 3261 7.1: Method SP Request-URI SP SIP-Version. */
    struct kp_rd method, uri, version, extra;
    size_t n = 0;
    uint8_t c;
    while (kp_rd_peek_u8(&r, n, &c) && c != ' ') {
        n++;
    }
    if (!kp_rd_sub(&r, &method, n) || !all_token(method) || !kp_rd_skip(&r, 1)) {
        return KP_RES_NOT_MINE;
    }
    bool known = known_method(method);
    if (!next_word(&r, &uri) || !next_word(&r, &version) || next_word(&r, &extra) ||
        !version_ok(out, version)) {
        return known ? KP_RES_MALFORMED : KP_RES_NOT_MINE;
    }
    out->is_request = true;
    out->method = method;
    out->request_uri = uri;
    out->version = version;
    return KP_RES_OK;
}

/* ---- SIP headers -------------------------------------------------------------- */

static bool name_is(struct kp_rd name, const char *full, const char *compact)
{
    return ci_eq(name, full) || (compact != NULL && ci_eq(name, compact));
}

static void set_once(struct kp_sip_msg *out, struct kp_rd *slot, bool *seen, struct kp_rd v)
{
    if (*seen) {
        out->anomalies |= KP_SIP_ANOM_DUP_HEADER;
        return;
    }
    *seen = true;
    *slot = v;
}

/* RFC 3261 20.16: CSeq = 1*DIGIT LWS Method. */
static void parse_cseq(struct kp_sip_msg *out, struct kp_rd v)
{
    struct kp_rd r = v, num, method, extra;
    if (!next_word(&r, &num) || !parse_uint(num, 10, &out->cseq_num) ||
        !next_word(&r, &method) || !all_token(method) || next_word(&r, &extra)) {
        out->anomalies |= KP_SIP_ANOM_BAD_CSEQ;
        out->cseq_num = 0;
        return;
    }
    out->has_cseq_num = true;
    out->cseq_method = method;
}

struct seen {
    bool call_id, from, to, cseq, ctype, ua;
};

static bool is_content_length(struct kp_rd name)
{
    return name_is(name, "Content-Length", "l");
}

/* A Content-Length value (already trimmed) on top of the ones seen before
 * (*has, *cl); shared by kp_sip_parse and kp_sip_frame so that both frame a
 * stream alike.  *dup is set for a repeated header of the same value. */
static enum kp_res content_length(bool *has, uint32_t *cl, bool *dup, struct kp_rd value)
{
    /* RFC 3261 20.14: 1*DIGIT.  Two different values would let two
     * parsers frame the stream differently: refuse. */
    uint32_t n;
    if (!parse_uint(value, 10, &n)) {
        return KP_RES_MALFORMED;
    }
    if (*has) {
        if (n != *cl) {
            return KP_RES_MALFORMED;
        }
        *dup = true;
    }
    if (n > KP_SIP_MAX_BODY) {
        return KP_RES_MALFORMED;
    }
    *has = true;
    *cl = n;
    return KP_RES_OK;
}

/* One unfolded header field. */
static enum kp_res header(struct kp_sip_msg *out, struct seen *s, struct kp_rd name,
                          struct kp_rd value)
{
    out->headers_total++;
    value = trim(value);
    if (name_is(name, "Call-ID", "i")) {
        set_once(out, &out->call_id, &s->call_id, value);
    } else if (name_is(name, "From", "f")) {
        set_once(out, &out->from, &s->from, value);
    } else if (name_is(name, "To", "t")) {
        set_once(out, &out->to, &s->to, value);
    } else if (name_is(name, "CSeq", NULL)) {
        if (!s->cseq) {
            parse_cseq(out, value);
        }
        set_once(out, &out->cseq, &s->cseq, value);
    } else if (name_is(name, "Via", "v")) {
        if (out->n_via < KP_SIP_MAX_VIA) {
            out->via[out->n_via++] = value;
        }
        out->via_total++;
    } else if (name_is(name, "Contact", "m")) {
        if (out->contact_total == 0) {
            out->contact = value;
        }
        out->contact_total++;
    } else if (name_is(name, "Content-Type", "c")) {
        set_once(out, &out->content_type, &s->ctype, value);
    } else if (name_is(name, "User-Agent", NULL) || name_is(name, "Server", NULL)) {
        set_once(out, &out->user_agent, &s->ua, value);
    } else if (is_content_length(name)) {
        bool dup = false;
        enum kp_res res = content_length(&out->has_content_length, &out->content_length, &dup,
                                         value);
        if (dup) {
            out->anomalies |= KP_SIP_ANOM_DUP_HEADER;
        }
        return res;
    }
    return KP_RES_OK;
}

enum kp_res kp_sip_parse(struct kp_sip_msg *out, struct kp_rd data, bool stream)
{
    memset(out, 0, sizeof(*out));
    struct kp_rd r = data, line;
    size_t consumed;
    bool bare;
    uint8_t c;

    /* RFC 3261 7.5: CRLFs before the start line are ignored. */
    while (kp_rd_peek_u8(&r, 0, &c) && (c == '\r' || c == '\n')) {
        out->anomalies |= KP_SIP_ANOM_LEADING_CRLF;
        if (!kp_rd_skip(&r, 1)) {
            break;
        }
    }
    out->start = data.len - r.len;
    out->msg_len = out->start;
    if (kp_rd_left(&r) == 0) {
        return KP_RES_TRUNCATED;
    }

    /* The headers are looked for in the first KP_SIP_MAX_HEADER_BYTES only,
     * so a huge stream prefix without a line end costs no more than that. */
    bool capped = data.len > KP_SIP_MAX_HEADER_BYTES;
    r = take(data, capped ? KP_SIP_MAX_HEADER_BYTES : data.len);
    if (!kp_rd_skip(&r, out->start)) {
        return KP_RES_MALFORMED; /* more leading CRLFs than the cap */
    }

    /* Start line. */
    if (!get_line(&r, &line, &consumed, &bare)) {
        if (!plausible_prefix(r)) {
            return KP_RES_NOT_MINE;
        }
        return capped ? KP_RES_MALFORMED : KP_RES_TRUNCATED;
    }
    if (bare) {
        out->anomalies |= KP_SIP_ANOM_BARE_LF;
    }
    enum kp_res res = parse_start_line(out, line);
    if (res != KP_RES_OK) {
        return res;
    }

    /* Header fields until the empty line (RFC 3261 7.3); lines starting
     * with SP or HT continue the previous field (7.3.1). */
    struct seen seen;
    memset(&seen, 0, sizeof(seen));
    bool have = false;
    struct kp_rd name = {NULL, 0}, vstart = {NULL, 0};
    size_t vspan = 0;
    for (;;) {
        struct kp_rd before = r;
        if (!get_line(&r, &line, &consumed, &bare)) {
            return capped ? KP_RES_MALFORMED : KP_RES_TRUNCATED;
        }
        if (bare) {
            out->anomalies |= KP_SIP_ANOM_BARE_LF;
        }
        if (line.len > 0 && kp_rd_peek_u8(&line, 0, &c) && is_wsp(c)) {
            if (have) {
                out->folded_total++;
                vspan = vstart.len - r.len - (consumed - line.len);
            } else {
                out->anomalies |= KP_SIP_ANOM_BAD_HEADER_LINE;
            }
            continue;
        }
        if (have) {
            res = header(out, &seen, name, take(vstart, vspan));
            if (res != KP_RES_OK) {
                return res;
            }
            have = false;
        }
        if (line.len == 0) {
            break;
        }
        struct kp_rd n, v;
        if (!split_at(line, ':', &n, &v)) {
            out->anomalies |= KP_SIP_ANOM_BAD_HEADER_LINE;
            continue;
        }
        n = trim(n); /* HCOLON = *( SP / HTAB ) ":" SWS */
        if (!all_token(n)) {
            out->anomalies |= KP_SIP_ANOM_BAD_HEADER_LINE;
            continue;
        }
        size_t skip = line.len - v.len;
        vstart = before;
        if (!kp_rd_skip(&vstart, skip)) {
            return KP_RES_MALFORMED;
        }
        name = n;
        vspan = v.len;
        have = true;
    }
    /* r is a view of the capped prefix: re-cut the rest from data. */
    out->header_len = (capped ? KP_SIP_MAX_HEADER_BYTES : data.len) - r.len;
    r = data;
    if (!kp_rd_skip(&r, out->header_len)) {
        return KP_RES_MALFORMED;
    }

    /* Body (RFC 3261 7.4, 18.3, 20.14). */
    uint32_t cl = out->content_length;
    if (!out->has_content_length) {
        if (stream) {
            out->anomalies |= KP_SIP_ANOM_NO_CONTENT_LENGTH;
            cl = 0;
        } else {
            out->body = r;
            out->msg_len = data.len;
            return KP_RES_OK;
        }
    }
    if (!kp_rd_sub(&r, &out->body, cl)) {
        out->need = out->header_len + cl;
        return KP_RES_TRUNCATED;
    }
    out->msg_len = out->header_len + cl;
    if (!stream && kp_rd_left(&r) > 0) {
        out->anomalies |= KP_SIP_ANOM_TRAILING_BYTES;
    }
    return KP_RES_OK;
}

/* ---- SIP stream framing --------------------------------------------------------- */

enum {
    FR_LEADING = 0, /* in the CRLFs before the start line */
    FR_START,       /* in the start line */
    FR_HEADERS,     /* in the header lines */
    FR_BODY,        /* headers complete: waiting for `need` bytes */
    FR_DECIDED      /* kp_sip_parse no longer says TRUNCATED */
};

/* The line that starts at fs->line, if its LF has arrived below `lim`: the
 * search goes on from fs->scan, so no byte is looked at twice.  *line is as
 * kp_rd_line cuts it (without CRLF or bare LF); *nl is the offset of the LF. */
static bool frame_line(struct kp_sip_frame_state *fs, struct kp_rd data, size_t lim,
                       struct kp_rd *line, size_t *nl)
{
    uint8_t c;
    if (fs->scan < fs->line) {
        fs->scan = fs->line;
    }
    for (; fs->scan < lim; fs->scan++) {
        if (kp_rd_peek_u8(&data, fs->scan, &c) && c == '\n') {
            struct kp_rd r = data;
            if (!kp_rd_skip(&r, fs->line) || !kp_rd_line(&r, line)) {
                return false; /* unreachable: the LF lies after fs->line */
            }
            *nl = fs->scan++;
            return true;
        }
    }
    return false;
}

/* One complete line of the header section (it starts at fs->line; `line`
 * excludes its terminator), judged as kp_sip_parse's header loop judges
 * it.  Returns KP_RES_MALFORMED where kp_sip_parse does, KP_RES_OK
 * otherwise.  Only Content-Length can fail a message, and only once its
 * field is complete: at the next line that is not a continuation. */
static enum kp_res frame_header_line(struct kp_sip_frame_state *fs, struct kp_rd data,
                                     struct kp_rd line)
{
    uint8_t c;
    if (line.len > 0 && kp_rd_peek_u8(&line, 0, &c) && is_wsp(c)) {
        /* RFC 3261 7.3.1: a continuation line extends the pending value. */
        if (fs->have_field) {
            fs->value_end = fs->line + line.len;
        }
        return KP_RES_OK;
    }
    if (fs->have_field) {
        fs->have_field = false;
        if (fs->field_cl) {
            struct kp_rd v = data;
            if (!kp_rd_skip(&v, fs->value) || fs->value_end < fs->value) {
                return KP_RES_MALFORMED; /* unreachable: the value lies in data */
            }
            bool dup = false;
            enum kp_res res = content_length(&fs->has_content_length, &fs->content_length, &dup,
                                             trim(take(v, fs->value_end - fs->value)));
            if (res != KP_RES_OK) {
                return res;
            }
        }
    }
    if (line.len == 0) {
        return KP_RES_OK; /* the end of the headers: the caller moves on */
    }
    struct kp_rd n, v;
    if (!split_at(line, ':', &n, &v)) {
        return KP_RES_OK; /* a bad header line: skipped, as kp_sip_parse does */
    }
    n = trim(n);
    if (!all_token(n)) {
        return KP_RES_OK;
    }
    fs->have_field = true;
    fs->field_cl = is_content_length(n);
    fs->value = fs->line + (line.len - v.len);
    fs->value_end = fs->line + line.len;
    return KP_RES_OK;
}

/* Mirror of kp_sip_parse(out, data, true) that keeps its place: it looks at
 * every byte once over all the calls for one message and answers whether
 * kp_sip_parse could give anything but TRUNCATED.  The checks that can end
 * a message early are the ones kp_sip_parse makes, in the same order: the
 * leading CRLFs against KP_SIP_MAX_HEADER_BYTES, a start line that is not
 * SIP (complete, or an implausible beginning), header lines past the cap,
 * and every Content-Length value as soon as its field is complete (a later
 * non-continuation line). */
enum kp_res kp_sip_frame(struct kp_sip_frame_state *fs, struct kp_rd data)
{
    const size_t cap = KP_SIP_MAX_HEADER_BYTES;
    bool capped = data.len > cap;
    size_t lim = capped ? cap : data.len;
    uint8_t c;
    size_t nl;

    if (fs->phase == FR_LEADING) {
        /* RFC 3261 7.5: CRLFs before the start line are ignored. */
        while (kp_rd_peek_u8(&data, fs->line, &c) && (c == '\r' || c == '\n')) {
            fs->line++;
        }
        if (fs->line == data.len) {
            return KP_RES_TRUNCATED;
        }
        if (fs->line > cap) {
            fs->phase = FR_DECIDED; /* kp_sip_parse: MALFORMED */
            return KP_RES_OK;
        }
        fs->phase = FR_START;
    }
    if (fs->phase == FR_START) {
        struct kp_rd line;
        if (!frame_line(fs, data, lim, &line, &nl)) {
            struct kp_rd head = take(data, lim);
            if (!kp_rd_skip(&head, fs->line) || !plausible_prefix(head) || capped) {
                fs->phase = FR_DECIDED; /* kp_sip_parse: NOT_MINE or MALFORMED */
                return KP_RES_OK;
            }
            return KP_RES_TRUNCATED;
        }
        /* The start line is complete: judged once, by kp_sip_parse's own
         * function (its results other than the verdict are not kept). */
        struct kp_sip_msg m;
        memset(&m, 0, sizeof(m));
        if (parse_start_line(&m, line) != KP_RES_OK) {
            fs->phase = FR_DECIDED; /* kp_sip_parse: NOT_MINE or MALFORMED */
            return KP_RES_OK;
        }
        fs->line = nl + 1;
        fs->phase = FR_HEADERS;
    }
    while (fs->phase == FR_HEADERS) {
        struct kp_rd line;
        if (!frame_line(fs, data, lim, &line, &nl)) {
            if (capped) {
                fs->phase = FR_DECIDED; /* kp_sip_parse: MALFORMED */
                return KP_RES_OK;
            }
            return KP_RES_TRUNCATED;
        }
        if (frame_header_line(fs, data, line) != KP_RES_OK) {
            fs->phase = FR_DECIDED; /* kp_sip_parse: MALFORMED */
            return KP_RES_OK;
        }
        fs->line = nl + 1;
        if (line.len == 0) {
            /* RFC 3261 18.3: in a stream, Content-Length frames the body;
             * kp_sip_parse takes it as 0 when absent. */
            fs->need = fs->line + (fs->has_content_length ? fs->content_length : 0);
            fs->phase = FR_BODY;
        }
    }
    if (fs->phase == FR_BODY && data.len < fs->need) {
        return KP_RES_TRUNCATED;
    }
    return KP_RES_OK;
}

/* ---- SDP ------------------------------------------------------------------------ */

/* RFC 8866 5.7: c=<nettype> <addrtype> <connection-address>. */
static void parse_conn(struct kp_sdp *sdp, struct kp_sdp_conn *c, struct kp_rd v)
{
    struct kp_rd r = v, net, type, addr, extra, host, rest;
    memset(c, 0, sizeof(*c));
    c->present = true;
    if (!next_word(&r, &net) || !next_word(&r, &type) || !next_word(&r, &addr) ||
        next_word(&r, &extra) || !ci_eq(net, "IN") ||
        (!ci_eq(type, "IP4") && !ci_eq(type, "IP6"))) {
        sdp->anomalies |= KP_SDP_ANOM_BAD_CONN;
        return;
    }
    c->ip6 = ci_eq(type, "IP6");
    /* Multicast suffixes: /ttl[/count] (IP4), /count (IP6). */
    if (split_at(addr, '/', &host, &rest)) {
        addr = host;
    }
    c->addr_text = addr;
    char buf[64];
    if (addr.len == 0 || addr.len >= sizeof(buf)) {
        return;
    }
    struct kp_rd a = addr;
    if (!kp_rd_copy(&a, buf, addr.len)) {
        return;
    }
    buf[addr.len] = '\0';
    if (c->ip6) {
        c->addr_ok = inet_pton(AF_INET6, buf, c->addr.b) == 1;
    } else if (inet_pton(AF_INET, buf, c->addr.b + 12) == 1) {
        c->addr.b[10] = 0xff;
        c->addr.b[11] = 0xff;
        c->addr_ok = true;
    }
}

/* RFC 8866 5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static void parse_media(struct kp_sdp *sdp, struct kp_sdp_media *m, struct kp_rd v)
{
    struct kp_rd r = v, port, p, count;
    uint32_t x;
    if (!next_word(&r, &m->media) || !next_word(&r, &port) || !next_word(&r, &m->proto)) {
        sdp->anomalies |= KP_SDP_ANOM_BAD_MEDIA;
        return;
    }
    skip_wsp(&r);
    m->fmts = trim(r);
    if (m->fmts.len == 0) {
        sdp->anomalies |= KP_SDP_ANOM_BAD_MEDIA;
    }
    m->n_ports = 1;
    if (split_at(port, '/', &p, &count)) {
        port = p;
        if (parse_uint(count, 5, &x) && x >= 1 && x <= 65535) {
            m->n_ports = (uint16_t)x;
        }
    }
    if (parse_uint(port, 5, &x) && x <= 65535) {
        m->port_ok = true;
        m->port = (uint16_t)x;
    }
}

static int b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (is_digit(c)) {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* RFC 4648 4 base64, '=' padding optional (some SDES writers drop it). */
static bool b64_decode(struct kp_rd in, uint8_t *out, size_t cap, size_t *n)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0, pad = 0;
    uint8_t c;
    while (kp_rd_u8(&in, &c)) {
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_val(c);
        if (v < 0 || pad > 0) {
            return false; /* bad character, or data after padding */
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) {
                return false;
            }
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    if (pad > 2 || bits >= 6 || o == 0) {
        return false;
    }
    *n = o;
    return true;
}

/* SHA-256 over the bytes of in (a view), copied through a small buffer
 * that is wiped afterwards. */
static bool sha256_view(struct kp_rd in, uint8_t *md, unsigned int *md_len)
{
    uint8_t chunk[64];
    bool ok = false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || kp_crypto_sha256() == NULL ||
        EVP_DigestInit_ex(ctx, kp_crypto_sha256(), NULL) != 1) {
        goto free_ctx;
    }
    while (kp_rd_left(&in) > 0) {
        size_t n = kp_rd_left(&in) < sizeof(chunk) ? kp_rd_left(&in) : sizeof(chunk);
        if (!kp_rd_copy(&in, chunk, n) || EVP_DigestUpdate(ctx, chunk, n) != 1) {
            goto free_ctx;
        }
    }
    ok = EVP_DigestFinal_ex(ctx, md, md_len) == 1;
free_ctx:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* SHA-256 of the key (decoded if possible) into the crypto record; the
 * decoded copy is wiped before returning. */
static bool hash_key(struct kp_sdp_crypto *k, struct kp_rd key)
{
    uint8_t buf[KP_SDP_MAX_KEY_B64];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    size_t n = 0;
    bool ok;
    if (key.len <= KP_SDP_MAX_KEY_B64 && b64_decode(key, buf, sizeof(buf), &n)) {
        k->key_b64_ok = true;
        k->key_len = (uint8_t)n;
        ok = sha256_view(kp_rd_make(buf, n), md, &md_len);
    } else {
        ok = sha256_view(key, md, &md_len);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok || md_len < KP_SDP_KEY_HASH_LEN) {
        OPENSSL_cleanse(md, sizeof(md));
        return false;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < KP_SDP_KEY_HASH_LEN; i++) {
        k->key_hash[i] = md[i];
        k->key_hash_hex[2 * i] = hex[md[i] >> 4];
        k->key_hash_hex[2 * i + 1] = hex[md[i] & 0x0f];
    }
    k->key_hash_hex[2 * KP_SDP_KEY_HASH_LEN] = '\0';
    OPENSSL_cleanse(md, sizeof(md));
    return true;
}

/* RFC 4568 9.1: a=crypto:<tag> 1*WSP <crypto-suite> 1*WSP <key-params>
 * *(1*WSP <session-param>); key-params = key-param *(";" key-param);
 * key-param = "inline:" key-salt ["|" lifetime] ["|" mki] (6.1).
 * Returns false for a line that does not fit (nothing stored), and sets
 * *nomem when hashing failed. */
static bool parse_crypto(struct kp_sdp_crypto *k, struct kp_rd v, bool *nomem)
{
    struct kp_rd r = v, tag, params, first, more;
    memset(k, 0, sizeof(*k));
    if (!next_word(&r, &tag) || !parse_uint(tag, 9, &k->tag) || !next_word(&r, &k->suite) ||
        !all_token(k->suite) || !next_word(&r, &params)) {
        return false;
    }
    skip_wsp(&r);
    k->session_params = trim(r);

    /* Count and check every key-param; only the first is hashed. */
    struct kp_rd walk = params;
    bool last = false;
    while (!last) {
        struct kp_rd kp;
        if (!split_at(walk, ';', &kp, &more)) {
            kp = walk;
            last = true;
        } else {
            walk = more;
        }
        if (!ci_prefix(kp, "inline:", 7, false) || kp.len == 7) {
            return false;
        }
        k->n_keys++;
    }
    if (!split_at(params, ';', &first, &more)) {
        first = params;
    }
    struct kp_rd info = first, key, opt, opt2;
    if (!kp_rd_skip(&info, 7)) {
        return false;
    }
    /* key-salt ["|" lifetime] ["|" mki]: an optional field with a ':' is
     * the MKI (mki-value ":" mki-length), otherwise the lifetime. */
    if (split_at(info, '|', &key, &opt)) {
        struct kp_rd head, tail;
        if (split_at(opt, '|', &opt, &opt2)) {
            k->lifetime = opt;
            k->mki = opt2;
        } else if (split_at(opt, ':', &head, &tail)) {
            k->mki = opt;
        } else {
            k->lifetime = opt;
        }
    } else {
        key = info;
    }
    if (key.len == 0) {
        return false;
    }
    if (!hash_key(k, key)) {
        *nomem = true;
        return false;
    }
    return true;
}

enum kp_res kp_sdp_parse(struct kp_sdp *out, struct kp_rd body)
{
    memset(out, 0, sizeof(*out));
    struct kp_rd r = body, line;
    struct kp_sdp_media scratch;
    struct kp_sdp_media *cur = NULL;
    bool in_media = false;
    size_t consumed;
    bool bare;

    while (kp_rd_left(&r) > 0) {
        if (!get_line(&r, &line, &consumed, &bare)) {
            line = r; /* last line without an end */
            r = kp_rd_make(NULL, 0);
        } else if (bare) {
            out->anomalies |= KP_SDP_ANOM_BARE_LF;
        }
        out->lines_total++;
        uint8_t type, eq;
        struct kp_rd v = line;
        bool shaped = kp_rd_u8(&v, &type) && kp_rd_u8(&v, &eq) && eq == '=' &&
                      type >= 'a' && type <= 'z';
        if (out->lines_total == 1) {
            /* RFC 8866 5: a session description begins with v=. */
            if (!shaped || type != 'v') {
                return KP_RES_NOT_MINE;
            }
            if (!kp_rd_eq(&v, "0", 1)) {
                out->anomalies |= KP_SDP_ANOM_VERSION;
            }
            continue;
        }
        if (!shaped) {
            if (line.len > 0) {
                out->anomalies |= KP_SDP_ANOM_BAD_LINE;
            }
            continue;
        }
        struct kp_sdp_attrs *attrs = in_media ? &cur->attrs : &out->attrs;
        switch (type) {
        case 'o':
            if (!in_media) {
                out->origin = v;
            }
            break;
        case 's':
            if (!in_media) {
                out->session_name = v;
            }
            break;
        case 'c':
            parse_conn(out, in_media ? &cur->conn : &out->conn, v);
            break;
        case 'm':
            out->media_total++;
            if (out->n_media < KP_SDP_MAX_MEDIA) {
                cur = &out->media[out->n_media++];
            } else {
                out->anomalies |= KP_SDP_ANOM_CAPPED;
                cur = &scratch;
            }
            memset(cur, 0, sizeof(*cur));
            in_media = true;
            parse_media(out, cur, v);
            break;
        case 'a': {
            struct kp_rd name, value = {NULL, 0}, w1, w2;
            if (!split_at(v, ':', &name, &value)) {
                name = v;
            }
            if (ci_eq(name, "rtcp-mux")) {
                attrs->rtcp_mux = true;
            } else if (ci_eq(name, "ice-ufrag")) {
                attrs->ice_ufrag = true;
            } else if (ci_eq(name, "setup")) {
                attrs->setup = trim(value);
            } else if (ci_eq(name, "fingerprint")) {
                /* RFC 8122 5: hash-func SP fingerprint. */
                struct kp_rd vr = value;
                if (attrs->fp_total == 0 && next_word(&vr, &w1) && next_word(&vr, &w2)) {
                    attrs->fp_hash = w1;
                    attrs->fp_value = w2;
                }
                attrs->fp_total++;
            } else if (ci_eq(name, "zrtp-hash")) {
                /* RFC 6189 8.1: zrtp-version SP zrtp-hash-value. */
                struct kp_rd vr = value;
                if (attrs->zrtp_total == 0 && next_word(&vr, &w1) && next_word(&vr, &w2)) {
                    attrs->zrtp_version = w1;
                    attrs->zrtp_hash = w2;
                }
                attrs->zrtp_total++;
            } else if (ci_eq(name, "crypto")) {
                struct kp_sdp_crypto k;
                bool nomem = false;
                attrs->crypto_total++;
                out->crypto_total++;
                bool ok = parse_crypto(&k, value, &nomem);
                if (nomem) {
                    OPENSSL_cleanse(&k, sizeof(k));
                    return KP_RES_NOMEM;
                }
                if (!ok) {
                    out->anomalies |= KP_SDP_ANOM_BAD_CRYPTO;
                } else if (out->n_crypto < KP_SDP_MAX_CRYPTO) {
                    k.session_level = !in_media;
                    k.media = in_media ? out->media_total - 1 : 0;
                    out->crypto[out->n_crypto++] = k;
                } else {
                    out->anomalies |= KP_SDP_ANOM_CAPPED;
                }
                OPENSSL_cleanse(&k, sizeof(k));
            }
            break;
        }
        default:
            break;
        }
    }
    if (out->lines_total == 0) {
        return KP_RES_NOT_MINE;
    }
    return KP_RES_OK;
}

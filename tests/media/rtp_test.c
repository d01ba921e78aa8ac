/* RTP / RTCP / SRTCP parsing and the multi-packet validator (analyze/rtp.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_test_util.h"
#include "rtp.h"

/* ---- Real vectors, fields equal to tshark's ------------------------------------- */

static void check_num(const struct mt_rec *r, const char *key, uint64_t got)
{
    const char *want = mt_get(r, key);
    if (want != NULL && mt_num(want) != got) {
        fail_msg("%s: %s = %llu, tshark says %s", r->name, key, (unsigned long long)got, want);
    }
}

static void check_rtp_fields(const struct mt_rec *r, const struct kp_rtp *h)
{
    char parts[32][256];
    check_num(r, "rtp.version", h->version);
    check_num(r, "rtp.padding", h->padding);
    check_num(r, "rtp.ext", h->extension);
    check_num(r, "rtp.cc", h->csrc_count);
    check_num(r, "rtp.marker", h->marker);
    check_num(r, "rtp.p_type", h->pt);
    check_num(r, "rtp.seq", h->seq);
    check_num(r, "rtp.timestamp", h->ts);
    check_num(r, "rtp.ssrc", h->ssrc);
    const char *v = mt_get(r, "rtp.csrc.item");
    if (v != NULL) {
        size_t n = mt_split(v, parts, 32);
        assert_int_equal(n, h->csrc_count);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(mt_num(parts[i]), h->csrc[i]);
        }
    }
    if (h->extension) {
        check_num(r, "rtp.ext.profile", h->ext_profile);
        check_num(r, "rtp.ext.len", h->ext_words);
    }
    v = mt_get(r, "rtp.ext.rfc5285.id");
    if (v != NULL) {
        size_t n = mt_split(v, parts, 32);
        assert_int_equal(n, h->ext_total);
        for (size_t i = 0; i < n && i < h->n_ext; i++) {
            assert_int_equal(mt_num(parts[i]), h->ext[i].id);
        }
    }
    v = mt_get(r, "rtp.padding.count");
    if (v != NULL) {
        /* SRTP: the last byte is part of the authentication tag, so a count
         * larger than the payload is reported as an anomaly, not trusted. */
        if (h->anomalies & KP_RTP_ANOM_BAD_PADDING) {
            assert_true(mt_num(v) > h->payload.len || mt_num(v) == 0);
        } else {
            assert_int_equal(mt_num(v), h->pad_len);
        }
    }
}

static void rtp_views_inside(const struct kp_rtp *h, const uint8_t *p, size_t n)
{
    assert_true(mt_in(h->payload, p, n));
    assert_true(mt_in(h->ext_data, p, n));
    for (size_t i = 0; i < h->n_ext; i++) {
        assert_true(mt_in(h->ext[i].data, p, n));
        assert_true(mt_in(h->ext[i].data, h->ext_data.p, h->ext_data.len));
    }
    assert_true(h->header_len + h->payload.len + h->pad_len == n);
}

static void test_rtp_vectors(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "rtp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_rtp h;
        if (kp_rtp_parse(&h, kp_rd_make(p, r->len)) != KP_RES_OK) {
            fail_msg("%s: not parsed", r->name);
        }
        check_rtp_fields(r, &h);
        rtp_views_inside(&h, p, r->len);
        assert_int_equal(kp_rtp_demux(kp_rd_make(p, r->len)), KP_RTP_DEMUX_RTP);
        free(p);
    }
    mt_free(&v);
}

/* Every prefix: TRUNCATED while the header is cut, OK (views inside the
 * prefix) once it is whole. */
static void test_rtp_truncated(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "rtp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        struct kp_rtp full;
        assert_int_equal(kp_rtp_parse(&full, kp_rd_make(r->data, r->len)), KP_RES_OK);
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *p = mt_copy(r->data, n);
            struct kp_rtp h;
            enum kp_res res = kp_rtp_parse(&h, kp_rd_make(p, n));
            if (n < full.header_len) {
                assert_int_equal(res, KP_RES_TRUNCATED);
            } else {
                assert_int_equal(res, KP_RES_OK);
                assert_int_equal(h.header_len, full.header_len);
                rtp_views_inside(&h, p, n);
            }
            free(p);
        }
    }
    mt_free(&v);
}

/* ---- Hand-built RTP ---------------------------------------------------------------- */

static void rtp_fixed(struct mt_bld *b, uint8_t b0, uint8_t b1)
{
    mt_init(b);
    mt_u8(b, b0);
    mt_u8(b, b1);
    mt_u16(b, 0x1234);
    mt_u32(b, 0xdeadbeef);
    mt_u32(b, 0x01020304);
}

static enum kp_res parse_bld(const struct mt_bld *b, struct kp_rtp *h)
{
    uint8_t *p = mt_copy(b->b, b->len);
    enum kp_res res = kp_rtp_parse(h, kp_rd_make(p, b->len));
    if (res == KP_RES_OK) {
        rtp_views_inside(h, p, b->len);
    }
    free(p);
    return res;
}

static void test_rtp_two_byte_ext(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtp h;
    /* RFC 8285 4.3: profile 0x100 + appbits, ID/length bytes, zero padding. */
    rtp_fixed(&b, 0x90, 0x60);
    mt_u16(&b, 0x1005);
    mt_u16(&b, 3);
    mt_u8(&b, 1); /* id 1, empty */
    mt_u8(&b, 0);
    mt_u8(&b, 0); /* padding */
    mt_u8(&b, 200); /* id 200, 3 bytes */
    mt_u8(&b, 3);
    mt_str_add(&b, "abc");
    mt_zeros(&b, 12 - 8);
    mt_str_add(&b, "payload");
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.ext_form, KP_RTP_EXT_TWO_BYTE);
    assert_int_equal(h.ext_profile, 0x1005);
    assert_int_equal(h.ext_total, 2);
    assert_int_equal(h.ext[0].id, 1);
    assert_int_equal(h.ext[0].data.len, 0);
    assert_int_equal(h.ext[1].id, 200);
    assert_true(kp_rd_eq(&h.ext[1].data, "abc", 3));
    assert_int_equal(h.header_len, 12 + 4 + 12);
    assert_true(kp_rd_eq(&h.payload, "payload", 7));
    assert_int_equal(h.anomalies, 0);

    /* Length one word too long: the block runs past the packet. */
    b.b[15] = 12;
    assert_int_equal(parse_bld(&b, &h), KP_RES_TRUNCATED);
    /* One word too short: element 200's header is cut by the block's end;
     * the elements before it stay. */
    b.b[15] = 1;
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_true(h.anomalies & KP_RTP_ANOM_EXT_TRAILING);
    assert_int_equal(h.ext_total, 1);
    /* Element length larger than the block. */
    b.b[15] = 3;
    b.b[16 + 4] = 0xff;
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_true(h.anomalies & KP_RTP_ANOM_EXT_TRAILING);
    assert_int_equal(h.ext_total, 1);
    b.b[16 + 4] = 3;
}

static void test_rtp_one_byte_ext(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtp h;
    rtp_fixed(&b, 0x90, 0x6f);
    mt_u16(&b, 0xBEDE);
    mt_u16(&b, 2);
    mt_u8(&b, 0x10); /* id 1, 1 byte */
    mt_u8(&b, 0xaa);
    mt_u8(&b, 0x00); /* padding */
    mt_u8(&b, 0x22); /* id 2, 3 bytes */
    mt_str_add(&b, "xyz");
    mt_u8(&b, 0xf0); /* id 15: stop */
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.ext_form, KP_RTP_EXT_ONE_BYTE);
    assert_int_equal(h.ext_total, 2);
    assert_int_equal(h.ext[1].id, 2);
    assert_true(kp_rd_eq(&h.ext[1].data, "xyz", 3));
    assert_true(h.anomalies & KP_RTP_ANOM_EXT_ID15);
    assert_int_equal(h.payload.len, 0);

    /* More elements than stored: capped, counted. */
    rtp_fixed(&b, 0x90, 0x6f);
    mt_u16(&b, 0xBEDE);
    mt_u16(&b, 20);
    for (int i = 0; i < 40; i++) {
        mt_u8(&b, 0x10);
        mt_u8(&b, (uint8_t)i);
    }
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.ext_total, 40);
    assert_int_equal(h.n_ext, KP_RTP_MAX_EXT_ELEMS);

    /* Other profile: opaque. */
    rtp_fixed(&b, 0x90, 0x00);
    mt_u16(&b, 0xABAC);
    mt_u16(&b, 1);
    mt_u32(&b, 0xffffffff);
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.ext_form, KP_RTP_EXT_OTHER);
    assert_int_equal(h.n_ext, 0);

    /* Hostile length 0xffff. */
    rtp_fixed(&b, 0x90, 0x00);
    mt_u16(&b, 0xBEDE);
    mt_u16(&b, 0xffff);
    mt_zeros(&b, 100);
    assert_int_equal(parse_bld(&b, &h), KP_RES_TRUNCATED);
}

static void test_rtp_csrc_padding(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtp h;
    rtp_fixed(&b, 0xaf, 0x08); /* P, CC = 15 */
    for (uint32_t i = 0; i < 15; i++) {
        mt_u32(&b, 1000 + i);
    }
    mt_str_add(&b, "pay");
    mt_u8(&b, 0);
    mt_u8(&b, 0);
    mt_u8(&b, 3); /* 3 bytes of padding, this one included */
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.csrc_count, 15);
    assert_int_equal(h.csrc[14], 1014);
    assert_int_equal(h.header_len, 12 + 60);
    assert_int_equal(h.pad_len, 3);
    assert_true(kp_rd_eq(&h.payload, "pay", 3));
    /* Count 0, and count larger than the payload: anomaly, bytes kept. */
    b.b[b.len - 1] = 0;
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_true(h.anomalies & KP_RTP_ANOM_BAD_PADDING);
    assert_int_equal(h.payload.len, 6);
    b.b[b.len - 1] = 7;
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_true(h.anomalies & KP_RTP_ANOM_BAD_PADDING);
    b.b[b.len - 1] = 6;
    assert_int_equal(parse_bld(&b, &h), KP_RES_OK);
    assert_int_equal(h.payload.len, 0);
    /* CSRC list cut short. */
    b.len = 12 + 4 * 14 + 2;
    assert_int_equal(parse_bld(&b, &h), KP_RES_TRUNCATED);
}

static void test_rtp_not_mine(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtp h;
    for (unsigned v = 0; v < 4; v++) {
        rtp_fixed(&b, (uint8_t)(v << 6), 0x00);
        assert_int_equal(parse_bld(&b, &h), v == 2 ? KP_RES_OK : KP_RES_NOT_MINE);
    }
    /* RFC 5761 4: PT 64..95 with or without the marker. */
    for (unsigned pt = 0; pt < 128; pt++) {
        for (unsigned m = 0; m < 2; m++) {
            rtp_fixed(&b, 0x80, (uint8_t)(m << 7 | pt));
            enum kp_res res = parse_bld(&b, &h);
            bool rtcp_range = pt >= 64 && pt <= 95;
            assert_int_equal(res, rtcp_range ? KP_RES_NOT_MINE : KP_RES_OK);
            enum kp_rtp_demux d = kp_rtp_demux(kp_rd_make(b.b, b.len));
            assert_int_equal(d, rtcp_range && m ? KP_RTP_DEMUX_RTCP : KP_RTP_DEMUX_RTP);
        }
    }
    static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00};
    assert_int_equal(kp_rtp_demux(kp_rd_make(stun, 4)), KP_RTP_DEMUX_NONE);
    assert_int_equal(kp_rtp_demux(kp_rd_make(stun, 1)), KP_RTP_DEMUX_NONE);
    assert_int_equal(kp_rtp_parse(&h, kp_rd_make(NULL, 0)), KP_RES_TRUNCATED);
}

/* ---- RTCP ------------------------------------------------------------------------- */

static void rtcp_views_inside(const struct kp_rtcp *c, const uint8_t *p, size_t n)
{
    assert_true(c->walked <= n);
    assert_true(mt_in(c->tail, p, n));
    assert_int_equal(c->walked + c->tail.len, n);
    for (size_t i = 0; i < c->n_pkts; i++) {
        assert_true(mt_in(c->pkts[i].body, p, n));
        assert_true(c->pkts[i].offset + c->pkts[i].size <= n);
    }
    assert_true(mt_in(c->cname, p, n));
    assert_true(mt_in(c->bye_reason, p, n));
    assert_true(mt_in(c->app_name, p, n));
    assert_int_equal(c->tiled, c->walked == n);
}

static const struct kp_srtcp_cand *cand_for(const struct kp_rtcp *c, uint8_t tag)
{
    for (size_t i = 0; i < KP_SRTCP_N_TAGS; i++) {
        if (c->srtcp[i].tag_len == tag) {
            return &c->srtcp[i];
        }
    }
    fail_msg("no candidate for tag length %u", tag);
    return NULL;
}

static void test_rtcp_vectors(void **state)
{
    (void)state;
    struct mt_vec v;
    char parts[32][256];
    mt_load(&v, "rtcp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_rtcp c;
        if (kp_rtcp_parse(&c, kp_rd_make(p, r->len)) != KP_RES_OK) {
            fail_msg("%s: not parsed", r->name);
        }
        rtcp_views_inside(&c, p, r->len);
        assert_int_equal(kp_rtp_demux(kp_rd_make(p, r->len)), KP_RTP_DEMUX_RTCP);
        /* Plain compounds: every packet as tshark; SRTCP: the clear first
         * header only (tshark dissects ciphertext after it as packets too). */
        size_t n = mt_split(mt_get(r, "rtcp.pt"), parts, 32);
        if (c.tiled) {
            assert_int_equal(n, c.n_pkts);
        }
        for (size_t k = 0; k < (c.tiled ? n : 1); k++) {
            assert_int_equal(mt_num(parts[k]), c.pkts[k].pt);
        }
        n = mt_split(mt_get(r, "rtcp.length"), parts, 32);
        for (size_t k = 0; k < (c.tiled ? n : 1); k++) {
            assert_int_equal(mt_num(parts[k]), c.pkts[k].length);
        }
        if (mt_get(r, "rtcp.rc") != NULL) {
            mt_split(mt_get(r, "rtcp.rc"), parts, 32);
            assert_int_equal(mt_num(parts[0]), c.pkts[0].count);
        }
        mt_split(mt_get(r, "rtcp.senderssrc"), parts, 32);
        assert_int_equal(mt_num(parts[0]), c.pkts[0].ssrc);
        if (c.tiled && c.pkts[0].pt == KP_RTCP_SR) {
            assert_true(c.has_sr);
            check_num(r, "rtcp.timestamp.rtp", c.sr_rtp_ts);
            check_num(r, "rtcp.sender.packetcount", c.sr_packets);
            check_num(r, "rtcp.sender.octetcount", c.sr_octets);
        }
        const char *types = mt_get(r, "rtcp.sdes.type");
        if (types != NULL && c.tiled) {
            char texts[8][256];
            mt_split(types, parts, 32);
            mt_split(mt_get(r, "rtcp.sdes.text"), texts, 8);
            assert_string_equal(parts[0], "1");
            assert_true(c.has_cname);
            mt_assert_view(c.cname, texts[0], r->name);
        }
        if (mt_get(r, "srtcp.index") != NULL) {
            /* This call's SRTCP uses 32-bit tags (ZRTP said HS32). */
            assert_false(c.tiled);
            const struct kp_srtcp_cand *k = cand_for(&c, 4);
            assert_true(k->valid);
            check_num(r, "srtcp.e", k->e);
            check_num(r, "srtcp.index", k->index);
            assert_false(cand_for(&c, 10)->valid); /* 184 - 14 is not whole words */
        }
        free(p);
    }
    mt_free(&v);
}

static void test_rtcp_truncated(void **state)
{
    (void)state;
    struct mt_vec v;
    mt_load(&v, "rtcp");
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        struct kp_rtcp full;
        assert_int_equal(kp_rtcp_parse(&full, kp_rd_make(r->data, r->len)), KP_RES_OK);
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *p = mt_copy(r->data, n);
            struct kp_rtcp c;
            enum kp_res res = kp_rtcp_parse(&c, kp_rd_make(p, n));
            if (n < full.pkts[0].size) {
                assert_int_equal(res, KP_RES_TRUNCATED);
            } else {
                assert_int_equal(res, KP_RES_OK);
                rtcp_views_inside(&c, p, n);
            }
            free(p);
        }
    }
    mt_free(&v);
}

/* SR(1 report) + SDES(CNAME) + BYE(reason) + APP, built by hand. */
static void build_compound(struct mt_bld *b)
{
    mt_init(b);
    mt_u8(b, 0x81);
    mt_u8(b, 200);
    mt_u16(b, 12);
    mt_u32(b, 0x11111111);
    mt_u32(b, 0xe0000000);
    mt_u32(b, 0x80000000);
    mt_u32(b, 160);
    mt_u32(b, 7);
    mt_u32(b, 700);
    for (int i = 0; i < 6; i++) {
        mt_u32(b, 0x22222222);
    }
    /* SDES: one chunk, CNAME "host@x" (6), END, padding to a word. */
    mt_u8(b, 0x81);
    mt_u8(b, 202);
    mt_u16(b, 4);
    mt_u32(b, 0x11111111);
    mt_u8(b, 1);
    mt_u8(b, 6);
    mt_str_add(b, "host@x");
    mt_zeros(b, 4);
    /* BYE: one SSRC, reason "done" (1 + 4, padded to 8). */
    mt_u8(b, 0x81);
    mt_u8(b, 203);
    mt_u16(b, 3);
    mt_u32(b, 0x11111111);
    mt_u8(b, 4);
    mt_str_add(b, "done");
    mt_zeros(b, 3);
    /* APP "KPRV" with 4 bytes of data. */
    mt_u8(b, 0x80);
    mt_u8(b, 204);
    mt_u16(b, 3);
    mt_u32(b, 0x11111111);
    mt_str_add(b, "KPRV");
    mt_u32(b, 0xcafef00d);
}

static void test_rtcp_hand(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtcp c;
    build_compound(&b);
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_true(c.tiled);
    assert_int_equal(c.n_pkts, 4);
    assert_int_equal(c.anomalies, 0);
    assert_true(c.has_sr);
    assert_int_equal(c.sr_ntp, 0xe000000080000000ull);
    assert_int_equal(c.sr_rtp_ts, 160);
    assert_int_equal(c.sr_packets, 7);
    assert_int_equal(c.sr_octets, 700);
    mt_assert_view(c.cname, "host@x", "cname");
    assert_int_equal(c.cname_ssrc, 0x11111111);
    mt_assert_view(c.bye_reason, "done", "bye");
    mt_assert_view(c.app_name, "KPRV", "app");
    assert_string_equal(kp_rtcp_type_name(c.pkts[3].pt), "APP");
    assert_null(kp_rtcp_type_name(199));
    for (size_t i = 0; i < KP_SRTCP_N_TAGS; i++) {
        assert_false(c.srtcp[i].valid);
    }

    /* Length of the SDES ±1: the walk stops there, the rest is the tail. */
    size_t sdes = 52;
    assert_int_equal(b.len, 104);
    b.b[sdes + 3] = 5;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_false(c.tiled);
    assert_int_equal(c.n_pkts, 2);
    b.b[sdes + 3] = 3;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_true(c.anomalies & KP_RTCP_ANOM_BAD_BODY); /* the chunk now lacks its END */
    assert_false(c.tiled);
    b.b[sdes + 3] = 4;
    /* First packet length ±1. */
    b.b[3] = 13;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, 55)), KP_RES_TRUNCATED);
    b.b[3] = 0xff;
    b.b[2] = 0xff;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_TRUNCATED);
    b.b[2] = 0;
    b.b[3] = 11;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_false(c.tiled);
    assert_int_equal(c.n_pkts, 1);
    b.b[3] = 12;
    /* Padding on a packet that is not last. */
    b.b[0] |= 0x20;
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_true(c.anomalies & KP_RTCP_ANOM_PADDING_NOT_LAST);
    b.b[0] &= (uint8_t)~0x20;
    /* Not RTCP. */
    static const uint8_t rtp[] = {0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0};
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(rtp, sizeof rtp)), KP_RES_NOT_MINE);
    static const uint8_t v1[] = {0x41, 200, 0x00, 0x00};
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(v1, sizeof v1)), KP_RES_NOT_MINE);
}

/* Many small packets: capped, counted. */
static void test_rtcp_many(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_rtcp c;
    mt_init(&b);
    for (int i = 0; i < 1000; i++) {
        mt_u8(&b, 0x80);
        mt_u8(&b, i == 0 ? 201 : 205);
        mt_u16(&b, 1);
        mt_u32(&b, (uint32_t)i);
    }
    assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(b.b, b.len)), KP_RES_OK);
    assert_true(c.tiled);
    assert_int_equal(c.pkts_total, 1000);
    assert_int_equal(c.n_pkts, KP_RTCP_MAX_PKTS);
    assert_true(c.anomalies & KP_RTCP_ANOM_CAPPED);
}

/* ---- Validator ------------------------------------------------------------------- */

static void test_track_real_stream(void **state)
{
    (void)state;
    struct mt_vec v;
    struct kp_rtp_track t;
    kp_rtp_track_init(&t);
    mt_load(&v, "stream");
    size_t fed = 0;
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        if (strncmp(r->name, "opus_", 5) != 0) {
            continue;
        }
        struct kp_rtp h;
        assert_int_equal(kp_rtp_parse(&h, kp_rd_make(r->data, r->len)), KP_RES_OK);
        check_num(r, "rtp.seq", h.seq);
        bool is = kp_rtp_track_rtp(&t, &h);
        fed++;
        assert_int_equal(is, fed >= KP_RTP_TRACK_MIN);
        if (is) {
            assert_int_equal(t.rtp_ssrc, mt_num(mt_get(r, "rtp.ssrc")));
        }
    }
    assert_true(fed >= 5);
    assert_int_equal(t.inconsistent, 0);

    /* SRTCP from the ZRTP call: index 1..5, E set, 32-bit tag. */
    size_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        if (strncmp(r->name, "srtcp_", 6) != 0) {
            continue;
        }
        struct kp_rtcp c;
        assert_int_equal(kp_rtcp_parse(&c, kp_rd_make(r->data, r->len)), KP_RES_OK);
        bool is = kp_rtp_track_rtcp(&t, &c);
        n++;
        assert_int_equal(is, n >= KP_RTP_TRACK_MIN);
    }
    assert_int_equal(n, 5);
    assert_int_equal(t.srtcp_tag_len, 4);
    assert_true(t.srtcp_encrypted);
    mt_free(&v);
}

static struct kp_rtp mk(uint32_t ssrc, uint16_t seq, uint32_t ts, uint8_t pt)
{
    struct kp_rtp h;
    memset(&h, 0, sizeof(h));
    h.version = 2;
    h.ssrc = ssrc;
    h.seq = seq;
    h.ts = ts;
    h.pt = pt;
    return h;
}

static void test_track_rules(void **state)
{
    (void)state;
    struct kp_rtp_track t;
    struct kp_rtp h;

    /* Sequence wrap 65535 -> 0 is continuous. */
    kp_rtp_track_init(&t);
    h = mk(7, 65534, 100, 0);
    assert_false(kp_rtp_track_rtp(&t, &h));
    h = mk(7, 65535, 260, 0);
    assert_false(kp_rtp_track_rtp(&t, &h));
    h = mk(7, 0, 420, 0);
    assert_true(kp_rtp_track_rtp(&t, &h));

    /* Timestamp wrap is continuous too; backwards breaks the run. */
    kp_rtp_track_init(&t);
    h = mk(7, 1, 0xffffff00u, 0);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(7, 2, 0x00000010u, 0);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(7, 3, 0x00000005u, 0);
    assert_false(kp_rtp_track_rtp(&t, &h));
    assert_int_equal(t.inconsistent, 1);

    /* Payload type change restarts; a duplicate is neither. */
    kp_rtp_track_init(&t);
    h = mk(9, 10, 0, 0);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(9, 11, 160, 8);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(9, 11, 160, 8);
    (void)kp_rtp_track_rtp(&t, &h);
    assert_int_equal(t.reordered, 1);
    h = mk(9, 12, 320, 8);
    assert_false(kp_rtp_track_rtp(&t, &h));
    h = mk(9, 13, 480, 8);
    assert_true(kp_rtp_track_rtp(&t, &h));
    assert_int_equal(t.rtp_pt, 8);

    /* Big sequence jump restarts. */
    kp_rtp_track_init(&t);
    h = mk(1, 100, 0, 0);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(1, 100 + KP_RTP_MAX_DROPOUT, 10, 0);
    (void)kp_rtp_track_rtp(&t, &h);
    h = mk(1, 101 + KP_RTP_MAX_DROPOUT, 20, 0);
    assert_false(kp_rtp_track_rtp(&t, &h));

    /* Two interleaved SSRCs each qualify; more SSRCs than slots evict. */
    kp_rtp_track_init(&t);
    for (uint16_t s = 0; s < 3; s++) {
        h = mk(100, s, s * 160u, 0);
        (void)kp_rtp_track_rtp(&t, &h);
        h = mk(200, (uint16_t)(5000 + s), s * 3000u, 96);
        (void)kp_rtp_track_rtp(&t, &h);
    }
    assert_true(t.is_rtp);
    assert_int_equal(t.rtp_ssrc, 100);
    kp_rtp_track_init(&t);
    for (uint32_t i = 0; i < 100; i++) {
        h = mk(1000 + i % (KP_RTP_TRACK_SLOTS + 1), (uint16_t)i, i, 0);
        assert_false(kp_rtp_track_rtp(&t, &h));
    }
}

/* Random datagrams that happen to have version 2 never make a stream. */
static void test_track_random(void **state)
{
    (void)state;
    struct kp_rtp_track t;
    uint32_t x = 12345;
    uint8_t buf[64];
    kp_rtp_track_init(&t);
    size_t parsed = 0;
    for (int i = 0; i < 20000; i++) {
        for (size_t k = 0; k < sizeof buf; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = (uint8_t)(x >> 16);
        }
        buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f));
        struct kp_rtp h;
        struct kp_rtcp c;
        if (kp_rtp_parse(&h, kp_rd_make(buf, sizeof buf)) == KP_RES_OK) {
            parsed++;
            assert_false(kp_rtp_track_rtp(&t, &h));
        }
        if (kp_rtcp_parse(&c, kp_rd_make(buf, sizeof buf)) == KP_RES_OK) {
            rtcp_views_inside(&c, buf, sizeof buf);
            assert_false(kp_rtp_track_rtcp(&t, &c));
        }
    }
    assert_true(parsed > 1000);
}

/* The Zfone call's SRTP (ZRTP-keyed): RTP headers in clear, a stream. */
struct walk_state {
    struct kp_rtp_track t;
    size_t rtp, rtcp;
};

static void walk_zfone(const uint8_t *p, size_t n, uint16_t sport, uint16_t dport, uint8_t proto,
                       void *user)
{
    struct walk_state *w = user;
    if (proto != 17 || !(sport == 49848 && dport == 64508)) {
        return;
    }
    struct kp_rtp h;
    if (kp_rtp_demux(kp_rd_make(p, n)) == KP_RTP_DEMUX_RTP &&
        kp_rtp_parse(&h, kp_rd_make(p, n)) == KP_RES_OK) {
        rtp_views_inside(&h, p, n);
        (void)kp_rtp_track_rtp(&w->t, &h);
        w->rtp++;
    }
}

static void test_track_capture(void **state)
{
    (void)state;
    static struct walk_state w;
    kp_rtp_track_init(&w.t);
    mt_walk("sip_zrtp_asterisk_zfone_wireshark.pcap", true, walk_zfone, &w);
    assert_true(w.rtp > 100);
    assert_true(w.t.is_rtp);
    assert_true(w.t.consistent > w.rtp * 9 / 10);
}

/* Mutated real RTP and RTCP: no crash, views inside. */
static void test_rtp_mutations(void **state)
{
    (void)state;
    const char *files[] = {"rtp", "rtcp", "stream"};
    uint32_t seed = 5;
    for (size_t f = 0; f < 3; f++) {
        struct mt_vec v;
        mt_load(&v, files[f]);
        for (size_t i = 0; i < v.n; i++) {
            for (int k = 0; k < 1000; k++) {
                uint8_t *p = mt_copy(v.rec[i].data, v.rec[i].len);
                mt_mutate(p, v.rec[i].len, &seed);
                struct kp_rtp h;
                struct kp_rtcp c;
                if (kp_rtp_parse(&h, kp_rd_make(p, v.rec[i].len)) == KP_RES_OK) {
                    rtp_views_inside(&h, p, v.rec[i].len);
                }
                if (kp_rtcp_parse(&c, kp_rd_make(p, v.rec[i].len)) == KP_RES_OK) {
                    rtcp_views_inside(&c, p, v.rec[i].len);
                }
                free(p);
            }
        }
        mt_free(&v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_vectors),
        cmocka_unit_test(test_rtp_truncated),
        cmocka_unit_test(test_rtp_two_byte_ext),
        cmocka_unit_test(test_rtp_one_byte_ext),
        cmocka_unit_test(test_rtp_csrc_padding),
        cmocka_unit_test(test_rtp_not_mine),
        cmocka_unit_test(test_rtcp_vectors),
        cmocka_unit_test(test_rtcp_truncated),
        cmocka_unit_test(test_rtcp_hand),
        cmocka_unit_test(test_rtcp_many),
        cmocka_unit_test(test_track_real_stream),
        cmocka_unit_test(test_track_rules),
        cmocka_unit_test(test_track_random),
        cmocka_unit_test(test_track_capture),
        cmocka_unit_test(test_rtp_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

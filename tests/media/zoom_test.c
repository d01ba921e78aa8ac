/* Zoom media encapsulation (analyze/zoom.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_test_util.h"
#include "zoom.h"

static const char *dir_name(enum kp_zoom_dir d)
{
    return d == KP_ZOOM_DIR_TO_ZOOM ? "to" : d == KP_ZOOM_DIR_FROM_ZOOM ? "from" : "unknown";
}

static void check_num(const struct mt_rec *r, const char *key, uint64_t got)
{
    const char *want = mt_get(r, key);
    if (want != NULL && mt_num(want) != got) {
        fail_msg("%s: %s = %llu, expected %s", r->name, key, (unsigned long long)got, want);
    }
}

static void views_inside(const struct kp_zoom_pkt *z, const uint8_t *p, size_t n)
{
    if (z->has_rtp) {
        assert_true(z->rtp_off + z->rtp.header_len <= n);
        assert_true(mt_in(z->rtp.payload, p, n));
        assert_true(mt_in(z->rtp.ext_data, p, n));
        for (size_t i = 0; i < z->rtp.n_ext; i++) {
            assert_true(mt_in(z->rtp.ext[i].data, p, n));
        }
    }
    if (z->has_rtcp) {
        assert_true(z->rtp_off + z->rtcp.walked <= n);
        assert_true(mt_in(z->rtcp.tail, p, n));
        for (size_t i = 0; i < z->rtcp.n_pkts; i++) {
            assert_true(mt_in(z->rtcp.pkts[i].body, p, n));
        }
    }
    for (size_t i = 0; i < z->n_p2p_items; i++) {
        assert_true(mt_in(z->p2p_item[i], p, n));
    }
    if (z->has_inner) {
        assert_true(z->inner_off < n);
    }
}

/* The vectors cut from the project's samples/ (always there) or from
 * ../shared/pcaps (skipped or failed by mt_load when missing). */
static void load(struct mt_vec *v, bool samples)
{
    if (samples) {
        mt_load_samples(v, "zoom_samples");
    } else {
        mt_load(v, "zoom");
    }
}

static void check_vectors(bool samples)
{
    struct mt_vec v;
    char parts[8][256];
    load(&v, samples);
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        bool server = mt_num(mt_get(r, "zoom.server")) != 0;
        uint8_t *p = mt_copy(r->data, r->len);
        struct kp_zoom_pkt z;
        enum kp_res res = kp_zoom_parse(&z, kp_rd_make(p, r->len), server);
        const char *want_res = mt_get(r, "zoom.res");
        if (want_res != NULL && strcmp(want_res, "not-mine") == 0) {
            assert_int_equal(res, KP_RES_NOT_MINE);
            free(p);
            continue;
        }
        if (res != KP_RES_OK) {
            fail_msg("%s: result %d", r->name, res);
        }
        views_inside(&z, p, r->len);
        assert_string_equal(kp_zoom_kind_name(z.kind), mt_get(r, "zoom.kind"));
        if (mt_get(r, "zoom.dir") != NULL) {
            assert_string_equal(dir_name(z.dir), mt_get(r, "zoom.dir"));
        }
        if (mt_get(r, "zoom.outer_seq") != NULL && z.kind != KP_ZOOM_UNKNOWN) {
            assert_true(z.has_outer_seq || strcmp(dir_name(z.dir), "unknown") == 0);
        }
        if (z.has_outer_seq) {
            check_num(r, "zoom.outer_seq", z.outer_seq);
        }
        check_num(r, "zoom.inner_type", z.inner_type);
        if (mt_get(r, "zoom.rtp_off") != NULL) {
            check_num(r, "zoom.rtp_off", z.rtp_off);
            check_num(r, "zoom.rtp_alt", z.rtp_alt);
            assert_int_equal(z.rtp_off, z.inner_off + z.rtp_rel);
        }
        if (z.has_rtp) {
            check_num(r, "rtp.version", z.rtp.version);
            check_num(r, "rtp.marker", z.rtp.marker);
            check_num(r, "rtp.p_type", z.rtp.pt);
            check_num(r, "rtp.seq", z.rtp.seq);
            check_num(r, "rtp.timestamp", z.rtp.ts);
            check_num(r, "rtp.ssrc", z.rtp.ssrc);
            check_num(r, "rtp.ext", z.rtp.extension);
            if (z.rtp.extension) {
                check_num(r, "rtp.ext.profile", z.rtp.ext_profile);
                check_num(r, "rtp.ext.len", z.rtp.ext_words);
            }
            const char *ids = mt_get(r, "rtp.ext.rfc5285.id");
            if (ids != NULL) {
                size_t n = mt_split(ids, parts, 8);
                assert_int_equal(n, z.rtp.ext_total);
                for (size_t k = 0; k < n; k++) {
                    assert_int_equal(mt_num(parts[k]), z.rtp.ext[k].id);
                }
            }
            /* Audio/video: the inner sequence number mirrors RTP's in these
             * captures (NOTES.md: inner +9..10). */
            if (z.has_media_seq && strncmp(r->name, "citizenlab", 10) == 0) {
                assert_int_equal(z.media_seq, z.rtp.seq);
                assert_int_equal(z.media_ts, z.rtp.ts);
            }
        }
        if (z.has_rtcp) {
            size_t n = mt_split(mt_get(r, "rtcp.pt"), parts, 8);
            assert_int_equal(n, z.rtcp.n_pkts);
            for (size_t k = 0; k < n; k++) {
                assert_int_equal(mt_num(parts[k]), z.rtcp.pkts[k].pt);
            }
            check_num(r, "rtcp.sender.packetcount", z.rtcp.sr_packets);
            check_num(r, "rtcp.sender.octetcount", z.rtcp.sr_octets);
            check_num(r, "rtcp.timestamp.rtp", z.rtcp.sr_rtp_ts);
            mt_split(mt_get(r, "rtcp.senderssrc"), parts, 8);
            assert_int_equal(mt_num(parts[0]), z.rtcp.pkts[0].ssrc);
        }
        if (z.kind == KP_ZOOM_P2P_HELLO) {
            /* zoom_p2p_ndpi.pcapng frame 63: the peer's address as text and
             * a UUID, then four zero bytes. */
            assert_true(z.p2p_list_ok);
            assert_int_equal(z.p2p_list_off, 24);
            assert_int_equal(z.p2p_items_total, 2);
            mt_assert_view(z.p2p_item[0], "192.168.1.226", r->name);
            assert_int_equal(z.p2p_item[1].len, 36);
        }
        free(p);
    }
    mt_free(&v);
}

static void test_zoom_sample_vectors(void **state)
{
    (void)state;
    check_vectors(true);
}

static void test_zoom_vectors(void **state)
{
    (void)state;
    check_vectors(false);
}

/* Every prefix of every vector: no crash, views inside the prefix, and a
 * media kind only once the RTP/RTCP header is there. */
static void check_truncated(bool samples)
{
    struct mt_vec v;
    load(&v, samples);
    for (size_t i = 0; i < v.n; i++) {
        const struct mt_rec *r = &v.rec[i];
        bool server = mt_num(mt_get(r, "zoom.server")) != 0;
        struct kp_zoom_pkt full;
        enum kp_res full_res = kp_zoom_parse(&full, kp_rd_make(r->data, r->len), server);
        for (size_t n = 0; n <= r->len; n++) {
            uint8_t *p = mt_copy(r->data, n);
            struct kp_zoom_pkt z;
            enum kp_res res = kp_zoom_parse(&z, kp_rd_make(p, n), server);
            if (res == KP_RES_OK) {
                views_inside(&z, p, n);
                if (z.has_rtp) {
                    assert_true(n >= z.rtp_off + KP_RTP_HDR_LEN);
                }
            }
            if (full_res == KP_RES_OK && (full.has_rtp || full.has_rtcp)) {
                size_t need = full.rtp_off + (full.has_rtp ? full.rtp.header_len
                                                           : full.rtcp.pkts[0].size);
                if (n >= need && !full.has_rtcp) {
                    /* RTP view once the header is whole (RTCP's strict
                     * alternatives may need the whole compound). */
                    assert_int_equal(res, KP_RES_OK);
                    assert_int_equal(z.kind, full.kind);
                    assert_int_equal(z.rtp_off, full.rtp_off);
                }
            }
            if (n == 0) {
                assert_int_equal(res, KP_RES_TRUNCATED);
            }
            free(p);
        }
    }
    mt_free(&v);
}

static void test_zoom_sample_truncated(void **state)
{
    (void)state;
    check_truncated(true);
}

static void test_zoom_truncated(void **state)
{
    (void)state;
    check_truncated(false);
}

/* ---- Hand-built layouts ---------------------------------------------------------- */

static void rtp_hdr(struct mt_bld *b, bool ext)
{
    mt_u8(b, ext ? 0x90 : 0x80);
    mt_u8(b, 98);
    mt_u16(b, 0x4242);
    mt_u32(b, 90000);
    mt_u32(b, 0x0a0b0c0d);
    if (ext) {
        mt_u16(b, 0xBEDE);
        mt_u16(b, 1);
        mt_u8(b, 0x10);
        mt_u8(b, 0x01);
        mt_u16(b, 0);
    }
    mt_str_add(b, "encrypted-media");
}

static void outer(struct mt_bld *b, uint16_t seq, uint8_t dir)
{
    mt_init(b);
    mt_u8(b, 0x05);
    mt_u16(b, seq);
    mt_u32(b, 0x01020304);
    mt_u8(b, dir);
}

/* Parses an exact-size copy, kept until the next call so that the views
 * can be checked. */
static enum kp_res parse(const struct mt_bld *b, bool server, struct kp_zoom_pkt *z)
{
    static uint8_t *p;
    free(p);
    p = mt_copy(b->b, b->len);
    enum kp_res res = kp_zoom_parse(z, kp_rd_make(p, b->len), server);
    if (res == KP_RES_OK) {
        views_inside(z, p, b->len);
    }
    return res;
}

static void test_zoom_screen_share(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_zoom_pkt z;
    /* Type 13 via the server: subtype 0x1e at +7, RTP at +27. */
    outer(&b, 7, 0x04);
    mt_u8(&b, 13);
    mt_zeros(&b, 6);
    mt_u8(&b, 0x1e);
    mt_zeros(&b, 27 - 8);
    rtp_hdr(&b, false);
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_SCREEN);
    assert_int_equal(z.dir, KP_ZOOM_DIR_FROM_ZOOM);
    assert_int_equal(z.rtp_off, 8 + 27);
    assert_false(z.rtp_alt);
    assert_int_equal(z.rtp.ssrc, 0x0a0b0c0d);
    /* Other subtype: not media; still Zoom framing. */
    b.b[8 + 7] = 0x1f;
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_UNKNOWN);
    assert_int_equal(z.inner_type, 13);

    /* Type 30, P2P: RTP at +20. */
    mt_init(&b);
    mt_u8(&b, 30);
    mt_zeros(&b, 19);
    rtp_hdr(&b, true);
    assert_int_equal(parse(&b, false, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_SCREEN);
    assert_int_equal(z.rtp_off, 20);
    assert_true(z.has_media_seq);
    /* The same bytes on a server port: 0x1e is not an outer type. */
    assert_int_equal(parse(&b, true, &z), KP_RES_NOT_MINE);
}

static void test_zoom_video_layouts(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_zoom_pkt z;
    /* Byte 20 != 2: RTP at +20. */
    outer(&b, 1, 0x00);
    mt_u8(&b, 16);
    mt_zeros(&b, 8);
    mt_u16(&b, 0x4242); /* inner sequence */
    mt_u32(&b, 90000);  /* inner timestamp */
    mt_zeros(&b, 20 - 15);
    rtp_hdr(&b, false);
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_VIDEO);
    assert_int_equal(z.rtp_rel, 20);
    assert_false(z.rtp_alt);
    assert_true(z.has_media_seq);
    assert_int_equal(z.media_seq, 0x4242);
    assert_int_equal(z.media_ts, 90000);
    assert_int_equal(z.dir, KP_ZOOM_DIR_TO_ZOOM);

    /* Byte 20 == 2 but the RTP header at +20 (a changed layout): accepted
     * as an alternative only with an RFC 8285 extension. */
    outer(&b, 1, 0x01);
    mt_u8(&b, 16);
    mt_zeros(&b, 19);
    rtp_hdr(&b, true);
    b.b[8 + 20] = 0x02; /* overwrite: the flag byte is the RTP header's first byte */
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_UNKNOWN); /* 0x02 is not RTP version 2 */
    outer(&b, 1, 0x01);
    mt_u8(&b, 16);
    mt_zeros(&b, 19);
    mt_zeros(&b, 4); /* +20..23, byte 20 = 0x02 set below */
    rtp_hdr(&b, true);
    b.b[8 + 20] = 0x02;
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_VIDEO);
    assert_int_equal(z.rtp_rel, 24);
    assert_false(z.rtp_alt);
    /* No flag, yet the RTP header at +24 (a layout change): the other
     * offset matches as an alternative, given an RFC 8285 extension. */
    for (int ext = 0; ext < 2; ext++) {
        outer(&b, 1, 0x05);
        mt_u8(&b, 16);
        mt_zeros(&b, 23);
        rtp_hdr(&b, ext != 0);
        assert_int_equal(parse(&b, true, &z), KP_RES_OK);
        assert_int_equal(z.dir, KP_ZOOM_DIR_FROM_ZOOM);
        if (ext) {
            assert_int_equal(z.kind, KP_ZOOM_VIDEO);
            assert_int_equal(z.rtp_rel, 24);
            assert_true(z.rtp_alt);
        } else {
            assert_int_equal(z.kind, KP_ZOOM_UNKNOWN);
        }
    }

    /* Type-7 wrapper: everything 7 bytes later. */
    outer(&b, 9, 0x04);
    mt_u8(&b, 7);
    mt_zeros(&b, 6);
    mt_u8(&b, 15);
    mt_zeros(&b, 18);
    rtp_hdr(&b, true);
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_AUDIO);
    assert_true(z.wrapped);
    assert_true(z.rtp_alt);
    assert_int_equal(z.inner_off, 15);
    assert_int_equal(z.rtp_off, 15 + 19);
    /* Without the extension the wrapped match is too weak: unknown. */
    outer(&b, 9, 0x04);
    mt_u8(&b, 7);
    mt_zeros(&b, 6);
    mt_u8(&b, 15);
    mt_zeros(&b, 18);
    rtp_hdr(&b, false);
    assert_int_equal(parse(&b, true, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_UNKNOWN);
}

static void test_zoom_outer(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_zoom_pkt z;
    static const struct {
        uint8_t bytes[3];
        size_t len;
        enum kp_res res;
    } cases[] = {
        {{0x01, 0x00, 0x02}, 3, KP_RES_OK},        {{0x02, 0x00, 0x03}, 3, KP_RES_OK},
        {{0x02, 0x00, 0x01}, 3, KP_RES_OK},        {{0x01, 0x00, 0x04}, 3, KP_RES_NOT_MINE},
        {{0x01, 0x00, 0x00}, 3, KP_RES_NOT_MINE},  {{0x01, 0x01, 0x02}, 3, KP_RES_NOT_MINE},
        {{0x01, 0x00, 0x00}, 2, KP_RES_TRUNCATED}, {{0x01, 0x00, 0x00}, 1, KP_RES_TRUNCATED},
        {{0x05, 0x00, 0x00}, 3, KP_RES_TRUNCATED}, {{0x06, 0x00, 0x00}, 3, KP_RES_NOT_MINE},
        {{0x03, 0x00, 0x00}, 3, KP_RES_TRUNCATED}, {{0x80, 0x00, 0x00}, 3, KP_RES_NOT_MINE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_init(&b);
        mt_bytes(&b, cases[i].bytes, cases[i].len);
        assert_int_equal(parse(&b, true, &z), cases[i].res);
        if (cases[i].res == KP_RES_OK) {
            assert_int_equal(z.kind, KP_ZOOM_CONTROL);
            assert_int_equal(z.dir, cases[i].bytes[0] == 1 ? KP_ZOOM_DIR_TO_ZOOM
                                                           : KP_ZOOM_DIR_FROM_ZOOM);
            assert_int_equal(z.hello_version, cases[i].bytes[2]);
        }
    }
    /* 05 framing around an inner type nobody knows; direction byte values.
     * Without an inner byte at all the packet is cut short. */
    outer(&b, 0xbeef, 0);
    assert_int_equal(parse(&b, true, &z), KP_RES_TRUNCATED);
    static const uint8_t dirs[][2] = {{0x00, KP_ZOOM_DIR_TO_ZOOM}, {0x01, KP_ZOOM_DIR_TO_ZOOM},
                                      {0x04, KP_ZOOM_DIR_FROM_ZOOM}, {0x05, KP_ZOOM_DIR_FROM_ZOOM},
                                      {0x09, KP_ZOOM_DIR_UNKNOWN}};
    for (size_t i = 0; i < 5; i++) {
        outer(&b, 0xbeef, dirs[i][0]);
        mt_u8(&b, 0x63);
        assert_int_equal(parse(&b, true, &z), KP_RES_OK);
        assert_int_equal(z.kind, KP_ZOOM_UNKNOWN);
        assert_int_equal(z.dir, dirs[i][1]);
        assert_int_equal(z.outer_seq, 0xbeef);
        assert_true(z.has_inner);
        assert_int_equal(z.inner_type, 0x63);
    }
    /* Audio whose RTP is cut: TRUNCATED, not unknown. */
    outer(&b, 1, 0);
    mt_u8(&b, 15);
    mt_zeros(&b, 18);
    mt_u8(&b, 0x80);
    assert_int_equal(parse(&b, true, &z), KP_RES_TRUNCATED);
    assert_true(kp_zoom_is_server_port(8801));
    assert_true(kp_zoom_is_server_port(8810));
    assert_false(kp_zoom_is_server_port(8811));
    assert_false(kp_zoom_is_server_port(3478));
    assert_string_equal(kp_zoom_kind_name((enum kp_zoom_kind)99), "unknown");
}

static void test_zoom_p2p(void **state)
{
    (void)state;
    static struct mt_bld b;
    struct kp_zoom_pkt z;
    /* Hello with the list somewhere else than offset 24: found by scanning. */
    mt_init(&b);
    mt_u8(&b, 0x1f);
    mt_u8(&b, 0x02);
    mt_u8(&b, 0x01);
    mt_zeros(&b, 9);
    mt_u32(&b, 8);
    mt_str_add(&b, "10.0.0.1");
    mt_u32(&b, 3);
    mt_str_add(&b, "abc");
    mt_u32(&b, 0);
    assert_int_equal(parse(&b, false, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_P2P_HELLO);
    assert_true(z.p2p_list_ok);
    assert_int_equal(z.p2p_list_off, 12);
    mt_assert_view(z.p2p_item[0], "10.0.0.1", "item 0");
    /* The list starting at the earliest offset wins (12, not the "abc" at 24). */
    assert_int_equal(z.p2p_items_total, 2);
    /* No terminator: no list, still a hello. */
    b.b[b.len - 1] = 0x01;
    assert_int_equal(parse(&b, false, &z), KP_RES_OK);
    assert_int_equal(z.kind, KP_ZOOM_P2P_HELLO);
    assert_false(z.p2p_list_ok);
    assert_int_equal(z.n_p2p_items, 0);
    /* Prefixes of the magic. */
    for (size_t n = 0; n < 3; n++) {
        assert_int_equal(kp_zoom_parse(&z, kp_rd_make(b.b, n), false), KP_RES_TRUNCATED);
    }
    b.b[2] = 0x02;
    assert_int_equal(parse(&b, false, &z), KP_RES_NOT_MINE);
    /* Random P2P payloads: never OK unless an RTP header validates. */
    uint32_t x = 99;
    uint8_t buf[200];
    for (int i = 0; i < 20000; i++) {
        for (size_t k = 0; k < sizeof buf; k++) {
            x = x * 1664525u + 1013904223u;
            buf[k] = (uint8_t)(x >> 24);
        }
        enum kp_res res = kp_zoom_parse(&z, kp_rd_make(buf, sizeof buf), i % 2 == 0);
        if (res == KP_RES_OK) {
            views_inside(&z, buf, sizeof buf);
            if (i % 2 != 0) {
                assert_true(z.kind == KP_ZOOM_P2P_HELLO || z.has_rtp || z.has_rtcp);
            }
        }
    }
}

/* ---- Whole captures ------------------------------------------------------------------ */

struct walk {
    size_t n, ok, kinds[8];
    struct kp_rtp_track to, from;
};

static void on_packet(const uint8_t *p, size_t n, uint16_t sport, uint16_t dport, uint8_t proto,
                      void *user)
{
    struct walk *w = user;
    if (proto != 17) {
        return;
    }
    bool server = kp_zoom_is_server_port(sport) || kp_zoom_is_server_port(dport);
    struct kp_zoom_pkt z;
    enum kp_res res = kp_zoom_parse(&z, kp_rd_make(p, n), server);
    if (!server) {
        return;
    }
    w->n++;
    if (res == KP_RES_OK) {
        w->ok++;
        w->kinds[z.kind]++;
        views_inside(&z, p, n);
        if (z.has_rtp) {
            (void)kp_rtp_track_rtp(kp_zoom_is_server_port(dport) ? &w->to : &w->from, &z.rtp);
        }
    }
}

/* kp-samplegen's citizenlab-2020 sample: every packet of the flow to
 * 170.114.128.50:8801 is Zoom media or set-up, RTP streams both ways. */
static void test_zoom_sample_capture(void **state)
{
    (void)state;
    static struct walk w;
    memset(&w, 0, sizeof w);
    mt_walk("samples/citizenlab-2020.pcap", false, on_packet, &w);
    assert_true(w.n > 100);
    assert_int_equal(w.ok, w.n);
    assert_int_equal(w.kinds[KP_ZOOM_CONTROL], 2);
    assert_int_equal(w.kinds[KP_ZOOM_UNKNOWN], 0);
    assert_true(w.kinds[KP_ZOOM_AUDIO] > 0 && w.kinds[KP_ZOOM_VIDEO] > 0);
    assert_true(w.to.is_rtp && w.from.is_rtp);
    assert_int_equal(w.to.inconsistent + w.from.inconsistent, 0);
}

/* nDPI's Zoom capture: all of it Zoom-shaped. */
static void test_zoom_capture(void **state)
{
    (void)state;
    static struct walk w;
    memset(&w, 0, sizeof w);
    mt_walk("zoom_ndpi.pcap", true, on_packet, &w);
    assert_true(w.n > 200);
    assert_int_equal(w.ok, w.n);
    assert_int_equal(w.kinds[KP_ZOOM_RTCP], 1);
    assert_true(w.kinds[KP_ZOOM_CONTROL] >= 9);
}

/* P2P capture: the flow between the two peers. */
struct p2p_walk {
    size_t media, hello, other;
    struct kp_rtp_track t;
};

static void on_p2p(const uint8_t *p, size_t n, uint16_t sport, uint16_t dport, uint8_t proto,
                   void *user)
{
    struct p2p_walk *w = user;
    if (proto != 17 || !((sport == 39065 && dport == 46757) || (sport == 46757 && dport == 39065) ||
                         dport == 41036)) {
        return;
    }
    struct kp_zoom_pkt z;
    enum kp_res res = kp_zoom_parse(&z, kp_rd_make(p, n), false);
    if (res != KP_RES_OK) {
        w->other++;
        return;
    }
    views_inside(&z, p, n);
    if (z.kind == KP_ZOOM_P2P_HELLO) {
        w->hello++;
        assert_true(z.p2p_list_ok);
    } else {
        w->media++;
        if (z.has_rtp && z.kind == KP_ZOOM_VIDEO && sport == 46757) {
            (void)kp_rtp_track_rtp(&w->t, &z.rtp);
        }
    }
}

static void test_zoom_p2p_capture(void **state)
{
    (void)state;
    static struct p2p_walk w;
    memset(&w, 0, sizeof w);
    mt_walk("zoom_p2p_ndpi.pcapng", true, on_p2p, &w);
    assert_true(w.hello >= 10);
    assert_true(w.media > 200);
    assert_true(w.t.is_rtp);
    /* The rest is the type-21 filler the paper leaves undescribed. */
    assert_true(w.other < w.media / 3);
}

/* Mutated real packets, both port kinds: no crash, views inside. */
static void check_mutations(bool samples)
{
    struct mt_vec v;
    uint32_t seed = 31337;
    load(&v, samples);
    for (size_t i = 0; i < v.n; i++) {
        for (int k = 0; k < 2000; k++) {
            uint8_t *p = mt_copy(v.rec[i].data, v.rec[i].len);
            mt_mutate(p, v.rec[i].len, &seed);
            struct kp_zoom_pkt z;
            if (kp_zoom_parse(&z, kp_rd_make(p, v.rec[i].len), k % 2 == 0) == KP_RES_OK) {
                views_inside(&z, p, v.rec[i].len);
            }
            free(p);
        }
    }
    mt_free(&v);
}

static void test_zoom_sample_mutations(void **state)
{
    (void)state;
    check_mutations(true);
}

static void test_zoom_mutations(void **state)
{
    (void)state;
    check_mutations(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoom_sample_vectors),
        cmocka_unit_test(test_zoom_vectors),
        cmocka_unit_test(test_zoom_sample_truncated),
        cmocka_unit_test(test_zoom_truncated),
        cmocka_unit_test(test_zoom_screen_share),
        cmocka_unit_test(test_zoom_video_layouts),
        cmocka_unit_test(test_zoom_outer),
        cmocka_unit_test(test_zoom_p2p),
        cmocka_unit_test(test_zoom_sample_capture),
        cmocka_unit_test(test_zoom_capture),
        cmocka_unit_test(test_zoom_p2p_capture),
        cmocka_unit_test(test_zoom_sample_mutations),
        cmocka_unit_test(test_zoom_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

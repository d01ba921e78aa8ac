/* Unit tests of the MaxMind DB writer (geo/mmdb_write.c).  Every database
 * written here is read back with libmaxminddb, the reference reader. */
#include <arpa/inet.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <maxminddb.h>

#include "mmdb_write.h"

/* ------------------------------------------------------------- helpers */

struct fx {
    char dir[256];
    unsigned seq;
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *t = getenv("TMPDIR");
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/kp-mmdbw-test.XXXXXX", t != NULL && *t ? t : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (getenv("KP_KEEP_TMP") != NULL) { /* debugging: keep the files */
        fprintf(stderr, "kept %s\n", f->dir);
        free(f);
        return 0;
    }
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void tmp_path(struct fx *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s/t%u.mmdb", f->dir, f->seq++);
}

static void ip16(const char *s, uint8_t out[16])
{
    assert_int_equal(kp_mmdbw_parse_ip(s, strlen(s), out, NULL), KP_OK);
}

static void net16(const char *s, uint8_t out[16], unsigned *plen)
{
    const char *why = NULL;
    int rc = kp_mmdbw_parse_net(s, strlen(s), out, plen, &why);
    if (rc != KP_OK) {
        fail_msg("parse_net(%s): %s", s, why);
    }
}

static void insert_str(struct kp_mmdbw *w, struct kp_mmdbw_rec *r, const char *net,
                       const char *key, const char *val)
{
    uint8_t a[16];
    unsigned plen;
    net16(net, a, &plen);
    kp_mmdbw_rec_clear(r);
    assert_int_equal(kp_mmdbw_rec_set_str(r, key, val, strlen(val)), KP_OK);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);
}

static void write_db(struct fx *f, const struct kp_mmdbw *w, const struct kp_mmdbw_meta *meta,
                     char *path, size_t plen, struct kp_mmdbw_info *info)
{
    char err[512] = "";
    struct kp_mmdbw_meta m;
    memset(&m, 0, sizeof(m));
    m.database_type = "kp-test";
    m.build_epoch = 1781654400; /* 2026-06-17 */
    tmp_path(f, path, plen);
    int rc = kp_mmdbw_write_file(w, meta != NULL ? meta : &m, path, info, err, sizeof(err));
    if (rc != KP_OK) {
        fail_msg("write %s: %s", path, err);
    }
}

static void open_db(const char *path, MMDB_s *db)
{
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
    if (rc != MMDB_SUCCESS) {
        fail_msg("MMDB_open(%s): %s", path, MMDB_strerror(rc));
    }
}

/* Value at path for ip as a string ("" if none, "<u32:N>" for integers),
 * and the prefix length libmaxminddb reports (via *netmask, may be NULL). */
static const char *get(MMDB_s *db, const char *ip, const char *key, char *buf, size_t len,
                       unsigned *netmask)
{
    int gai = 0;
    int err = 0;
    MMDB_lookup_result_s r = MMDB_lookup_string(db, ip, &gai, &err);
    assert_int_equal(gai, 0);
    assert_int_equal(err, MMDB_SUCCESS);
    buf[0] = '\0';
    if (netmask != NULL) {
        *netmask = r.netmask;
    }
    if (!r.found_entry) {
        return buf;
    }
    /* split the dotted key into a path */
    char k[128];
    const char *path[16];
    size_t np = 0;
    snprintf(k, sizeof(k), "%s", key);
    for (char *s = strtok(k, "."); s != NULL && np < 15; s = strtok(NULL, ".")) {
        path[np++] = s;
    }
    path[np] = NULL;
    MMDB_entry_data_s d;
    if (MMDB_aget_value(&r.entry, &d, path) != MMDB_SUCCESS || !d.has_data) {
        snprintf(buf, len, "<nokey>");
        return buf;
    }
    switch (d.type) {
    case MMDB_DATA_TYPE_UTF8_STRING:
        snprintf(buf, len, "%.*s", (int)d.data_size, d.utf8_string);
        break;
    case MMDB_DATA_TYPE_UINT32:
        snprintf(buf, len, "<u32:%u>", d.uint32);
        break;
    case MMDB_DATA_TYPE_UINT16:
        snprintf(buf, len, "<u16:%u>", d.uint16);
        break;
    case MMDB_DATA_TYPE_MAP:
        snprintf(buf, len, "<map:%u>", d.data_size);
        break;
    default:
        snprintf(buf, len, "<type %u>", d.type);
        break;
    }
    return buf;
}

#define GET(db, ip, key) get((db), (ip), (key), vbuf, sizeof(vbuf), NULL)

/* --------------------------------------------------------------- tests */

static void test_exact_v4_v6_mapped(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    char vbuf[256];
    MMDB_s db;
    unsigned nm;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    insert_str(w, r, "10.0.0.0/8", "cc", "AA");
    insert_str(w, r, "2001:db8::/32", "cc", "BB");
    insert_str(w, r, "192.0.2.7", "cc", "CC"); /* a bare address is a /32 */
    insert_str(w, r, "::ffff:198.51.100.0/120", "cc", "DD"); /* mapped text = IPv4 */
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_int_equal(db.metadata.ip_version, 6);

    assert_string_equal(get(&db, "10.1.2.3", "cc", vbuf, sizeof(vbuf), &nm), "AA");
    assert_int_equal(nm, 104); /* libmaxminddb counts from the IPv6 root */
    assert_string_equal(GET(&db, "11.0.0.1", "cc"), "");
    assert_string_equal(GET(&db, "2001:db8::1", "cc"), "BB");
    assert_string_equal(GET(&db, "2001:db9::1", "cc"), "");
    assert_string_equal(GET(&db, "192.0.2.7", "cc"), "CC");
    assert_string_equal(GET(&db, "192.0.2.8", "cc"), "");
    assert_string_equal(GET(&db, "198.51.100.200", "cc"), "DD");
    /* IPv4-mapped through the ::ffff:0:0/96 alias, with the mapped prefix */
    assert_string_equal(get(&db, "::ffff:10.1.2.3", "cc", vbuf, sizeof(vbuf), &nm), "AA");
    assert_int_equal(nm, 104);
    assert_string_equal(GET(&db, "::ffff:192.0.2.7", "cc"), "CC");
    /* IPv4-compatible ::a.b.c.d is the IPv4 subtree itself */
    assert_string_equal(GET(&db, "::10.1.2.3", "cc"), "AA");
    /* nothing leaks into the rest of the IPv6 space */
    assert_string_equal(GET(&db, "::1", "cc"), "");
    assert_string_equal(GET(&db, "::fffe:10.1.2.3", "cc"), "");
    MMDB_close(&db);

    /* Without the alias the mapped space is empty (ip-location-db style). */
    struct kp_mmdbw_meta m;
    memset(&m, 0, sizeof(m));
    m.build_epoch = 1781654400;
    m.no_ipv4_alias = 1;
    write_db(f, w, &m, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "10.1.2.3", "cc"), "AA");
    assert_string_equal(GET(&db, "::ffff:10.1.2.3", "cc"), "");
    MMDB_close(&db);

    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void nested_db(struct fx *f, int order, char *path, size_t plen)
{
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    if (order == 0) {
        insert_str(w, r, "10.0.0.0/8", "v", "big");
        insert_str(w, r, "10.1.0.0/16", "v", "mid");
        insert_str(w, r, "10.1.2.0/24", "v", "small");
        insert_str(w, r, "10.1.2.3/32", "v", "host");
    } else {
        insert_str(w, r, "10.1.2.3/32", "v", "host");
        insert_str(w, r, "10.1.2.0/24", "v", "small");
        insert_str(w, r, "10.1.0.0/16", "v", "mid");
        insert_str(w, r, "10.0.0.0/8", "v", "big");
    }
    write_db(f, w, NULL, path, plen, NULL);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_nested_prefixes(void **state)
{
    struct fx *f = *state;
    char p1[512];
    char p2[512];
    char vbuf[256];
    MMDB_s db;

    /* The longest prefix wins whatever the insertion order. */
    for (int order = 0; order < 2; order++) {
        nested_db(f, order, order == 0 ? p1 : p2, sizeof(p1));
        open_db(order == 0 ? p1 : p2, &db);
        assert_string_equal(GET(&db, "10.200.0.1", "v"), "big");
        assert_string_equal(GET(&db, "10.1.200.1", "v"), "mid");
        assert_string_equal(GET(&db, "10.1.2.200", "v"), "small");
        assert_string_equal(GET(&db, "10.1.2.3", "v"), "host");
        assert_string_equal(GET(&db, "10.1.2.2", "v"), "small");
        assert_string_equal(GET(&db, "10.1.2.4", "v"), "small");
        assert_string_equal(GET(&db, "10.1.3.0", "v"), "mid");
        assert_string_equal(GET(&db, "11.0.0.0", "v"), "");
        MMDB_close(&db);
    }

    /* The same network twice: the later insert wins; and a shorter network
     * inserted last does not overwrite the longer ones inside it. */
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    insert_str(w, r, "2001:db8::/32", "v", "first");
    insert_str(w, r, "2001:db8:1::/48", "v", "inner");
    insert_str(w, r, "2001:db8::/32", "v", "second");
    insert_str(w, r, "::/0", "v", "default");
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "2001:db8:2::1", "v"), "second");
    assert_string_equal(GET(&db, "2001:db8:1::1", "v"), "inner");
    assert_string_equal(GET(&db, "2001:db9::1", "v"), "default");
    /* ::/0 covers the IPv4 subtree too, and so the mapped alias */
    assert_string_equal(GET(&db, "1.2.3.4", "v"), "default");
    assert_string_equal(GET(&db, "::ffff:1.2.3.4", "v"), "default");
    MMDB_close(&db);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_whole_ipv4_space(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    char vbuf[256];
    MMDB_s db;
    unsigned nm;

    /* 0.0.0.0/0 makes ::/96 a leaf: the alias must then copy the leaf. */
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    insert_str(w, r, "0.0.0.0/0", "v", "v4");
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(get(&db, "1.2.3.4", "v", vbuf, sizeof(vbuf), &nm), "v4");
    assert_int_equal(nm, 96);
    assert_string_equal(GET(&db, "255.255.255.255", "v"), "v4");
    assert_string_equal(GET(&db, "::ffff:1.2.3.4", "v"), "v4");
    assert_string_equal(GET(&db, "2001::1", "v"), "");
    MMDB_close(&db);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_empty_db(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    char path[512];
    char vbuf[256];
    struct kp_mmdbw_info info;
    MMDB_s db;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    write_db(f, w, NULL, path, sizeof(path), &info);
    assert_int_equal(info.node_count, 1); /* the root, with two empty records */
    assert_int_equal(info.data_bytes, 0);
    open_db(path, &db);
    assert_string_equal(GET(&db, "1.2.3.4", "v"), "");
    assert_string_equal(GET(&db, "2001::1", "v"), "");
    MMDB_close(&db);
    kp_mmdbw_free(w);
}

static void test_pick_record_size(void **state)
{
    (void)state;
    assert_int_equal(kp_mmdbw_pick_record_size(1, 0), 24);
    assert_int_equal(kp_mmdbw_pick_record_size(1000, 100), 24);
    assert_int_equal(kp_mmdbw_pick_record_size((1u << 24) - 16, 0), 24);
    assert_int_equal(kp_mmdbw_pick_record_size((1u << 24) - 16, 1), 28);
    assert_int_equal(kp_mmdbw_pick_record_size(1000, 1u << 24), 28);
    assert_int_equal(kp_mmdbw_pick_record_size((1u << 28) - 16, 0), 28);
    assert_int_equal(kp_mmdbw_pick_record_size(1u << 28, 0), 32);
    assert_int_equal(kp_mmdbw_pick_record_size(UINT32_MAX - 100, 84), 32);
    assert_int_equal(kp_mmdbw_pick_record_size(UINT32_MAX - 100, 85), 32);
    assert_int_equal(kp_mmdbw_pick_record_size(UINT32_MAX - 100, 86), 0);
    assert_int_equal(kp_mmdbw_pick_record_size(UINT64_MAX, 0), 0);
}

/* A data section past 16 MiB makes record values need more than 24 bits,
 * which exercises the 28-bit nibble packing for real. */
static void test_record_sizes(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    char vbuf[256];
    struct kp_mmdbw_info info;
    MMDB_s db;
    const size_t pad_len = 60000;
    char *pad = malloc(pad_len);
    assert_non_null(pad);

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    /* 301 records: the last one, 10.1.44.0/24, has an empty sibling, so its
     * node holds one record above 2^24 and one below (a swapped nibble
     * would show). */
    for (unsigned i = 0; i < 301; i++) {
        uint8_t a[16];
        char net[32];
        snprintf(net, sizeof(net), "10.%u.%u.0", i / 256, i % 256);
        ip16(net, a);
        /* distinct strings, so the pointer dedup cannot shrink them */
        memset(pad, 'a' + (int)(i % 26), pad_len);
        snprintf(pad, 16, "%05u", i);
        pad[5] = '-';
        kp_mmdbw_rec_clear(r);
        assert_int_equal(kp_mmdbw_rec_set_u32(r, "i", i), KP_OK);
        assert_int_equal(kp_mmdbw_rec_set_str(r, "pad", pad, pad_len), KP_OK);
        /* a string shared by 5 records, first written ever further in: later
         * copies become 2-, 3- and 4-byte pointers (spec §"Pointers") */
        char grp[32];
        snprintf(grp, sizeof(grp), "group-name-%05u", i / 5);
        assert_int_equal(kp_mmdbw_rec_set_str(r, "grp", grp, strlen(grp)), KP_OK);
        assert_int_equal(kp_mmdbw_insert(w, a, 96 + 24, r), KP_OK);
    }
    free(pad);

    static const unsigned sizes[] = {0, 28, 32};
    for (size_t s = 0; s < 3; s++) {
        struct kp_mmdbw_meta m;
        memset(&m, 0, sizeof(m));
        m.build_epoch = 1781654400;
        m.record_size = sizes[s];
        write_db(f, w, &m, path, sizeof(path), &info);
        assert_int_equal(info.record_size, sizes[s] == 0 ? 28 : sizes[s]);
        assert_true(info.data_bytes > (1u << 24));
        open_db(path, &db);
        assert_int_equal(db.metadata.record_size, info.record_size);
        assert_int_equal(db.metadata.node_count, info.node_count);
        for (unsigned i = 0; i < 301; i += 3) {
            char ip[32];
            char want[32];
            snprintf(ip, sizeof(ip), "10.%u.%u.9", i / 256, i % 256);
            snprintf(want, sizeof(want), "<u32:%u>", i);
            assert_string_equal(GET(&db, ip, "i"), want);
            snprintf(want, sizeof(want), "group-name-%05u", i / 5);
            assert_string_equal(GET(&db, ip, "grp"), want);
            snprintf(want, sizeof(want), "<u32:%u>", i);
            snprintf(ip, sizeof(ip), "::ffff:10.%u.%u.9", i / 256, i % 256);
            assert_string_equal(GET(&db, ip, "i"), want);
        }
        assert_string_equal(GET(&db, "10.1.43.1", "i"), "<u32:299>");
        assert_string_equal(GET(&db, "10.1.44.1", "i"), "<u32:300>");
        assert_string_equal(GET(&db, "10.1.45.1", "i"), "");
        MMDB_close(&db);
    }
    /* 24 bits cannot hold it: refused, not truncated */
    struct kp_mmdbw_meta m24;
    memset(&m24, 0, sizeof(m24));
    m24.build_epoch = 1781654400;
    m24.record_size = 24;
    char err[256];
    tmp_path(f, path, sizeof(path));
    assert_int_equal(kp_mmdbw_write_file(w, &m24, path, NULL, err, sizeof(err)), KP_EINVAL);
    assert_non_null(strstr(err, path));
    assert_int_equal(access(path, F_OK), -1);

    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_small_forced_sizes(void **state)
{
    struct fx *f = *state;
    char vbuf[256];
    static const unsigned sizes[] = {24, 28, 32};
    for (size_t s = 0; s < 3; s++) {
        struct kp_mmdbw *w;
        struct kp_mmdbw_rec *r;
        struct kp_mmdbw_meta m;
        struct kp_mmdbw_info info;
        char path[512];
        MMDB_s db;
        assert_int_equal(kp_mmdbw_new(&w), KP_OK);
        assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
        insert_str(w, r, "10.0.0.0/8", "v", "a");
        insert_str(w, r, "2001:db8::/32", "v", "b");
        memset(&m, 0, sizeof(m));
        m.build_epoch = 1781654400;
        m.record_size = sizes[s];
        write_db(f, w, &m, path, sizeof(path), &info);
        assert_int_equal(info.tree_bytes, (uint64_t)info.node_count * sizes[s] / 4);
        open_db(path, &db);
        assert_int_equal(db.metadata.record_size, sizes[s]);
        assert_string_equal(GET(&db, "10.9.9.9", "v"), "a");
        assert_string_equal(GET(&db, "::ffff:10.9.9.9", "v"), "a");
        assert_string_equal(GET(&db, "2001:db8::5", "v"), "b");
        assert_string_equal(GET(&db, "2001:db9::5", "v"), "");
        MMDB_close(&db);
        kp_mmdbw_rec_free(r);
        kp_mmdbw_free(w);
    }
}

static void test_dedup(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    struct kp_mmdbw_counts cnt;
    struct kp_mmdbw_info info;
    char path[512];
    char vbuf[256];
    MMDB_s db;
    static const char org[] = "A Rather Long Organisation Name, Incorporated";

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    /* 500 networks, one record: stored once; key order does not matter */
    for (unsigned i = 0; i < 500; i++) {
        uint8_t a[16];
        char net[32];
        snprintf(net, sizeof(net), "10.%u.%u.0", i / 256, i % 256);
        ip16(net, a);
        kp_mmdbw_rec_clear(r);
        if (i % 2 == 0) {
            assert_int_equal(kp_mmdbw_rec_set_u32(r, "n", 7), KP_OK);
            assert_int_equal(kp_mmdbw_rec_set_str(r, "o", org, strlen(org)), KP_OK);
        } else {
            assert_int_equal(kp_mmdbw_rec_set_str(r, "o", org, strlen(org)), KP_OK);
            assert_int_equal(kp_mmdbw_rec_set_u32(r, "n", 7), KP_OK);
        }
        assert_int_equal(kp_mmdbw_insert(w, a, 120, r), KP_OK);
    }
    kp_mmdbw_counts(w, &cnt);
    assert_int_equal(cnt.records, 1);
    assert_int_equal(cnt.networks, 500);
    /* 200 records that differ only by number share the keys and the
     * organisation through pointers. */
    for (unsigned i = 0; i < 200; i++) {
        uint8_t a[16];
        char net[32];
        snprintf(net, sizeof(net), "2001:db8:%x::", i);
        ip16(net, a);
        kp_mmdbw_rec_clear(r);
        assert_int_equal(kp_mmdbw_rec_set_u32(r, "autonomous_system_number", 1000 + i), KP_OK);
        assert_int_equal(
            kp_mmdbw_rec_set_str(r, "autonomous_system_organization", org, strlen(org)), KP_OK);
        assert_int_equal(kp_mmdbw_insert(w, a, 48, r), KP_OK);
    }
    kp_mmdbw_counts(w, &cnt);
    assert_int_equal(cnt.records, 201);
    write_db(f, w, NULL, path, sizeof(path), &info);
    /* In full each would take 1 + 25 + 3 + 31 + 46 = 106 bytes. */
    assert_true(info.data_bytes < 200 * 20 + 200);
    open_db(path, &db);
    assert_string_equal(GET(&db, "10.1.1.1", "o"), org);
    assert_string_equal(GET(&db, "10.0.0.1", "n"), "<u32:7>");
    for (unsigned i = 0; i < 200; i += 13) {
        char ip[64];
        char want[32];
        snprintf(ip, sizeof(ip), "2001:db8:%x::1", i);
        snprintf(want, sizeof(want), "<u32:%u>", 1000 + i);
        assert_string_equal(GET(&db, ip, "autonomous_system_number"), want);
        assert_string_equal(GET(&db, ip, "autonomous_system_organization"), org);
    }
    MMDB_close(&db);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_merge_adjacent(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    struct kp_mmdbw_info a;
    struct kp_mmdbw_info b;
    char path[512];
    char vbuf[256];
    MMDB_s db;
    unsigned nm;

    /* Two halves with the same record become one network in the tree. */
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    insert_str(w, r, "10.0.0.0/9", "v", "x");
    write_db(f, w, NULL, path, sizeof(path), &a);
    insert_str(w, r, "10.128.0.0/9", "v", "x");
    write_db(f, w, NULL, path, sizeof(path), &b);
    assert_true(b.node_count < a.node_count); /* the /8 node became a leaf */
    open_db(path, &db);
    assert_string_equal(get(&db, "10.200.0.1", "v", vbuf, sizeof(vbuf), &nm), "x");
    assert_int_equal(nm, 104);
    MMDB_close(&db);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_nested_maps_and_types(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    char vbuf[256];
    uint8_t a[16];
    unsigned plen;
    MMDB_s db;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "country.iso_code", "US", 2), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "country.names.en", "United States", 13), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "country.geoname_id", 6252001), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_u16(r, "small", 65535), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "zero", 0), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "empty", "", 0), KP_OK);
    static const char utf8[] = "Réseau \xe2\x82\xac \xf0\x9f\x8c\x8d";
    assert_int_equal(kp_mmdbw_rec_set_str(r, "utf8", utf8, strlen(utf8)), KP_OK);
    /* a long string needs the 29/30/31 size forms (spec §"Payload Size") */
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, 'z', 70000);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "s300", big, 300), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "s29", big, 29), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "s284", big, 284), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "s285", big, 285), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "s60000", big, 60000), KP_OK);
    net16("192.0.2.0/24", a, &plen);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);
    /* a second record, long enough to need the 31 size form */
    struct kp_mmdbw_rec *r2;
    assert_int_equal(kp_mmdbw_rec_new(&r2), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r2, "s65821", big, 70000), KP_OK);
    free(big);
    net16("192.0.3.0/24", a, &plen);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r2), KP_OK);
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "192.0.2.1", "country.iso_code"), "US");
    assert_string_equal(GET(&db, "192.0.2.1", "country.names.en"), "United States");
    assert_string_equal(GET(&db, "192.0.2.1", "country.geoname_id"), "<u32:6252001>");
    assert_string_equal(GET(&db, "192.0.2.1", "country"), "<map:3>");
    assert_string_equal(GET(&db, "192.0.2.1", "small"), "<u16:65535>");
    assert_string_equal(GET(&db, "192.0.2.1", "zero"), "<u32:0>");
    assert_string_equal(GET(&db, "192.0.2.1", "empty"), "");
    assert_string_equal(GET(&db, "192.0.2.1", "utf8"), "Réseau \xe2\x82\xac \xf0\x9f\x8c\x8d");
    assert_string_equal(GET(&db, "192.0.2.1", "nothere"), "<nokey>");
    static const char *const keys[] = {"s29", "s284", "s285", "s300", "s60000"};
    static const unsigned lens[] = {29, 284, 285, 300, 60000};
    for (size_t i = 0; i < 5; i++) {
        int gai;
        int err;
        MMDB_entry_data_s d;
        const char *p[2] = {keys[i], NULL};
        MMDB_lookup_result_s res = MMDB_lookup_string(&db, "192.0.2.1", &gai, &err);
        assert_true(res.found_entry);
        assert_int_equal(MMDB_aget_value(&res.entry, &d, p), MMDB_SUCCESS);
        assert_int_equal(d.data_size, lens[i]);
    }
    {
        int gai;
        int err;
        MMDB_entry_data_s d;
        const char *p[2] = {"s65821", NULL};
        MMDB_lookup_result_s res = MMDB_lookup_string(&db, "192.0.3.1", &gai, &err);
        assert_true(res.found_entry);
        assert_int_equal(MMDB_aget_value(&res.entry, &d, p), MMDB_SUCCESS);
        assert_int_equal(d.data_size, 70000);
    }
    MMDB_close(&db);
    kp_mmdbw_rec_free(r2);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_rec_errors(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    char path[512];
    char vbuf[256];
    uint8_t a[16];
    unsigned plen;
    MMDB_s db;

    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "p.q", "v", 1), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "p.q", "w", 1), KP_EINVAL);     /* duplicate */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "p.q.r", 1), KP_EINVAL);        /* through a value */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "p", 1), KP_EINVAL);            /* p is a map */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "", 1), KP_EINVAL);             /* empty key */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "a..b", 1), KP_EINVAL);         /* empty segment */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "x.", 1), KP_EINVAL);
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "k\xff", 1), KP_EINVAL);        /* bad UTF-8 key */
    assert_int_equal(kp_mmdbw_rec_set_str(r, "n.m.k", "\xc0\xaf", 2), KP_EINVAL); /* overlong */
    /* a surrogate */
    assert_int_equal(kp_mmdbw_rec_set_str(r, "n.m.k", "\xed\xa0\x80", 3), KP_EINVAL);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "n.m.k", "\xf4\x90\x80\x80", 4), KP_EINVAL);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "n.m.k", "\xe2\x82", 2), KP_EINVAL); /* truncated */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "a.b.c.d.e.f.g.h", 1), KP_OK);  /* depth 8 */
    assert_int_equal(kp_mmdbw_rec_set_u32(r, "a.b.c.d.e.f.g.i.j", 1), KP_EINVAL); /* depth 9 */
    char longkey[300];
    memset(longkey, 'k', sizeof(longkey));
    longkey[256] = '\0';
    assert_int_equal(kp_mmdbw_rec_set_u32(r, longkey, 1), KP_EINVAL);
    longkey[255] = '\0';
    assert_int_equal(kp_mmdbw_rec_set_u32(r, longkey, 1), KP_OK);
    /* too many entries in one record */
    struct kp_mmdbw_rec *r2;
    assert_int_equal(kp_mmdbw_rec_new(&r2), KP_OK);
    int rc = KP_OK;
    unsigned i;
    for (i = 0; i < 1000 && rc == KP_OK; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%u", i);
        rc = kp_mmdbw_rec_set_u32(r2, k, i);
    }
    assert_int_equal(rc, KP_EINVAL);
    assert_int_equal(i - 1, KP_MMDBW_REC_MAX_ENTRIES);
    kp_mmdbw_rec_free(r2);

    /* Failed calls left no half-built maps: "n" and "a.b.c.d.e.f.g.i" are absent. */
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    net16("10.0.0.0/8", a, &plen);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, r), KP_OK);
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "10.0.0.1", "p.q"), "v");
    assert_string_equal(GET(&db, "10.0.0.1", "n"), "<nokey>");
    assert_string_equal(GET(&db, "10.0.0.1", "a.b.c.d.e.f.g"), "<map:1>");
    assert_string_equal(GET(&db, "10.0.0.1", "a.b.c.d.e.f.g.h"), "<u32:1>");
    MMDB_close(&db);

    /* bad inserts */
    net16("10.0.0.0/8", a, &plen);
    assert_int_equal(kp_mmdbw_insert(w, a, 129, r), KP_EINVAL);
    assert_int_equal(kp_mmdbw_insert(w, a, 96 + 4, r), KP_EINVAL); /* host bits set */
    assert_int_equal(kp_mmdbw_insert(NULL, a, plen, r), KP_EINVAL);
    assert_int_equal(kp_mmdbw_insert(w, a, plen, NULL), KP_EINVAL);
    uint8_t lo[16];
    uint8_t hi[16];
    ip16("10.0.0.9", lo);
    ip16("10.0.0.1", hi);
    assert_int_equal(kp_mmdbw_insert_range(w, lo, hi, r), KP_EINVAL);
    ip16("2001:db8::", hi);
    assert_int_equal(kp_mmdbw_insert_range(w, lo, hi, r), KP_EINVAL); /* mixed families */
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
    kp_mmdbw_free(NULL);
    kp_mmdbw_rec_free(NULL);
}

static void test_metadata_and_reproducible(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    struct kp_mmdbw_meta m;
    char p1[512];
    char p2[512];
    MMDB_s db;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    insert_str(w, r, "10.0.0.0/8", "v", "x");
    memset(&m, 0, sizeof(m));
    m.database_type = "kp-Test-Type";
    m.description_en = "keyprov writer test, Ünïcode";
    m.build_epoch = 1781722800;
    write_db(f, w, &m, p1, sizeof(p1), NULL);
    write_db(f, w, &m, p2, sizeof(p2), NULL);
    open_db(p1, &db);
    assert_string_equal(db.metadata.database_type, "kp-Test-Type");
    assert_int_equal(db.metadata.build_epoch, 1781722800);
    assert_int_equal(db.metadata.binary_format_major_version, 2);
    assert_int_equal(db.metadata.binary_format_minor_version, 0);
    assert_int_equal(db.metadata.ip_version, 6);
    assert_int_equal(db.metadata.languages.count, 0);
    assert_int_equal(db.metadata.description.count, 1);
    assert_string_equal(db.metadata.description.descriptions[0]->language, "en");
    assert_string_equal(db.metadata.description.descriptions[0]->description,
                        "keyprov writer test, Ünïcode");
    MMDB_close(&db);

    /* same inserts, same bytes */
    FILE *a = fopen(p1, "rb");
    FILE *b = fopen(p2, "rb");
    assert_non_null(a);
    assert_non_null(b);
    int ca;
    int cb;
    do {
        ca = fgetc(a);
        cb = fgetc(b);
        assert_int_equal(ca, cb);
    } while (ca != EOF);
    fclose(a);
    fclose(b);

    /* bad metadata */
    m.database_type = "bad \xff";
    char err[256];
    tmp_path(f, p1, sizeof(p1));
    assert_int_equal(kp_mmdbw_write_file(w, &m, p1, NULL, err, sizeof(err)), KP_EINVAL);
    m.database_type = "ok";
    m.record_size = 26;
    assert_int_equal(kp_mmdbw_write_file(w, &m, p1, NULL, err, sizeof(err)), KP_EINVAL);
    /* libmaxminddb refuses build_epoch 0 ("could not find build_epoch") */
    m.record_size = 0;
    m.build_epoch = 0;
    assert_int_equal(kp_mmdbw_write_file(w, &m, p1, NULL, err, sizeof(err)), KP_EINVAL);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_write_errors(void **state)
{
    (void)state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_meta m;
    char err[512];
    memset(&m, 0, sizeof(m));
    m.build_epoch = 1;
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    err[0] = '\0';
    assert_int_equal(kp_mmdbw_write_file(w, &m, "/nonexistent-dir/x.mmdb", NULL, err, sizeof(err)),
                     KP_EIO);
    assert_non_null(strstr(err, "/nonexistent-dir/x.mmdb"));
    FILE *full = fopen("/dev/full", "wb");
    if (full != NULL) {
        assert_int_equal(kp_mmdbw_write(w, &m, full, NULL), KP_EIO);
        fclose(full);
    }
    kp_mmdbw_free(w);
}

/* ----------------------------------------------------- range to CIDR */

struct blocks {
    char s[200][96];
    size_t n;
    int stop_after;
};

static int collect(const uint8_t net[16], unsigned plen, void *ctx)
{
    struct blocks *b = ctx;
    char txt[96];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(net, mapped, 12) == 0 && plen >= 96) {
        snprintf(txt, sizeof(txt), "%u.%u.%u.%u/%u", net[12], net[13], net[14], net[15],
                 plen - 96);
    } else {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, net, a, sizeof(a));
        snprintf(txt, sizeof(txt), "%s/%u", a, plen);
    }
    if (b->n < 200) {
        snprintf(b->s[b->n], sizeof(b->s[b->n]), "%s", txt);
    }
    b->n++;
    if (b->stop_after != 0 && (int)b->n == b->stop_after) {
        return 42;
    }
    return 0;
}

static struct blocks *cidrs(const char *lo, const char *hi, int expect_rc)
{
    static struct blocks b;
    uint8_t l[16];
    uint8_t h[16];
    memset(&b, 0, sizeof(b));
    ip16(lo, l);
    ip16(hi, h);
    assert_int_equal(kp_mmdbw_range_cidrs(l, h, collect, &b), expect_rc);
    return &b;
}

static void test_range_cidrs(void **state)
{
    (void)state;
    struct blocks *b;

    b = cidrs("1.2.3.4", "1.2.3.4", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "1.2.3.4/32");

    b = cidrs("0.0.0.0", "255.255.255.255", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "0.0.0.0/0");

    b = cidrs("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "::/0");

    b = cidrs("1.2.3.5", "1.2.3.20", KP_OK);
    assert_int_equal(b->n, 5);
    assert_string_equal(b->s[0], "1.2.3.5/32");
    assert_string_equal(b->s[1], "1.2.3.6/31");
    assert_string_equal(b->s[2], "1.2.3.8/29");
    assert_string_equal(b->s[3], "1.2.3.16/30");
    assert_string_equal(b->s[4], "1.2.3.20/32");

    b = cidrs("10.0.0.0", "10.0.1.255", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "10.0.0.0/23");

    /* the data's overlapping pair: 214.95.0.0-215.0.255.255 */
    b = cidrs("214.95.0.0", "215.0.255.255", KP_OK);
    assert_int_equal(b->n, 4);
    assert_string_equal(b->s[0], "214.95.0.0/16");
    assert_string_equal(b->s[1], "214.96.0.0/11");
    assert_string_equal(b->s[2], "214.128.0.0/9");
    assert_string_equal(b->s[3], "215.0.0.0/16");

    b = cidrs("255.255.255.254", "255.255.255.255", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "255.255.255.254/31");

    b = cidrs("0.0.0.1", "255.255.255.255", KP_OK);
    assert_int_equal(b->n, 32);
    assert_string_equal(b->s[0], "0.0.0.1/32");
    assert_string_equal(b->s[31], "128.0.0.0/1");

    /* carry across the 64-bit halves */
    b = cidrs("2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::", KP_OK);
    assert_int_equal(b->n, 2);
    assert_string_equal(b->s[0], "2001:db8::ffff:ffff:ffff:ffff/128");
    assert_string_equal(b->s[1], "2001:db8:0:1::/128");

    b = cidrs("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", KP_OK);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->s[0], "2001:db8::/32");

    b = cidrs("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", KP_OK);
    assert_int_equal(b->n, 128);
    assert_string_equal(b->s[0], "::1/128");
    assert_string_equal(b->s[127], "8000::/1");

    b = cidrs("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", KP_OK);
    assert_int_equal(b->n, 128);
    assert_string_equal(b->s[0], "::/1");
    assert_string_equal(b->s[127], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128");

    b = cidrs("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
              KP_OK);
    assert_int_equal(b->n, 1);

    (void)cidrs("1.2.3.5", "1.2.3.4", KP_EINVAL);

    /* the callback can stop the walk */
    static struct blocks s;
    uint8_t l[16];
    uint8_t h[16];
    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    ip16("1.2.3.5", l);
    ip16("1.2.3.20", h);
    assert_int_equal(kp_mmdbw_range_cidrs(l, h, collect, &s), 42);
    assert_int_equal(s.n, 2);
}

static void test_insert_range_readback(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    struct kp_mmdbw_rec *r;
    struct kp_mmdbw_counts cnt;
    char path[512];
    char vbuf[256];
    uint8_t lo[16];
    uint8_t hi[16];
    MMDB_s db;

    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(kp_mmdbw_rec_new(&r), KP_OK);
    assert_int_equal(kp_mmdbw_rec_set_str(r, "v", "r", 1), KP_OK);
    ip16("1.2.3.5", lo);
    ip16("1.2.3.20", hi);
    assert_int_equal(kp_mmdbw_insert_range(w, lo, hi, r), KP_OK);
    kp_mmdbw_counts(w, &cnt);
    assert_int_equal(cnt.networks, 5);
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    for (unsigned i = 0; i < 30; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "1.2.3.%u", i);
        assert_string_equal(GET(&db, ip, "v"), (i >= 5 && i <= 20) ? "r" : "");
    }
    MMDB_close(&db);
    kp_mmdbw_rec_free(r);
    kp_mmdbw_free(w);
}

static void test_parse_net(void **state)
{
    (void)state;
    uint8_t a[16];
    unsigned plen;
    const char *why;
    static const struct {
        const char *s;
        unsigned plen;
    } good[] = {{"10.0.0.0/8", 104},     {"0.0.0.0/0", 96},      {"1.2.3.4", 128},
                {"1.2.3.4/32", 128},     {"2001:db8::/32", 32},  {"::/0", 0},
                {"::ffff:1.2.3.0/120", 120}, {"2001:db8::1", 128}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(kp_mmdbw_parse_net(good[i].s, strlen(good[i].s), a, &plen, &why), KP_OK);
        assert_int_equal(plen, good[i].plen);
    }
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {{"10.0.0.1/8", "host bits"},   {"10.0.0.0/33", "out of range"},
               {"1.2.3/24", "not an IPv4"},   {"/8", "not an IPv4"},
               {"10.0.0.0/", "prefix length"}, {"10.0.0.0/8x", "prefix length"},
               {"2001:db8::/129", "out of range"}, {"", "not an IPv4"},
               {"10.0.0.0/0008", "prefix length"}, {"2001:db8::1/64", "host bits"},
               {"1.2.3.4 ", "not an IPv4"},   {"example.com", "not an IPv4"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(kp_mmdbw_parse_net(bad[i].s, strlen(bad[i].s), a, &plen, &why),
                         KP_EINVAL);
        assert_non_null(why);
        if (strstr(why, bad[i].why) == NULL) {
            fail_msg("%s: why '%s', expected '%s'", bad[i].s, why, bad[i].why);
        }
    }
    /* NUL inside the given length is not an address */
    assert_int_equal(kp_mmdbw_parse_ip("1.2.3.4\0", 8, a, NULL), KP_EINVAL);
}

/* ------------------------------------------------------------- inputs */

static void test_csv_split(void **state)
{
    (void)state;
    struct kp_mmdbw_field fl[8];
    size_t n;
    const char *why;
    char rec[256];

    snprintf(rec, sizeof(rec), "%s", "a,\"b,c\",\"d \"\"e\"\"\",");
    assert_int_equal(kp_mmdbw_csv_split(rec, strlen(rec), fl, 8, &n, &why), KP_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(fl[0].p, "a", 1);
    assert_int_equal(fl[1].len, 3);
    assert_memory_equal(fl[1].p, "b,c", 3);
    assert_int_equal(fl[2].len, 5);
    assert_memory_equal(fl[2].p, "d \"e\"", 5);
    assert_int_equal(fl[3].len, 0);

    snprintf(rec, sizeof(rec), "%s", "  1.0.0.0 ,\t1.0.0.255, 13335 , \"Cloudflare, Inc.\" ");
    assert_int_equal(kp_mmdbw_csv_split(rec, strlen(rec), fl, 8, &n, &why), KP_OK);
    assert_int_equal(n, 4);
    assert_int_equal(fl[0].len, 7);
    assert_int_equal(fl[2].len, 5);
    assert_int_equal(fl[3].len, 16);
    assert_memory_equal(fl[3].p, "Cloudflare, Inc.", 16);

    snprintf(rec, sizeof(rec), "%s", "\"\"\"\"");
    assert_int_equal(kp_mmdbw_csv_split(rec, strlen(rec), fl, 8, &n, &why), KP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(fl[0].len, 1);
    assert_memory_equal(fl[0].p, "\"", 1);

    snprintf(rec, sizeof(rec), "%s", "\"multi\nline\",x");
    assert_int_equal(kp_mmdbw_csv_split(rec, strlen(rec), fl, 8, &n, &why), KP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(fl[0].len, 10);

    assert_int_equal(kp_mmdbw_csv_split(rec, 0, fl, 8, &n, &why), KP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(fl[0].len, 0);

    static const struct {
        const char *s;
        const char *why;
    } bad[] = {{"\"abc", "unterminated"},
               {"a,\"b\"c,d", "after a closing quote"},
               {"a\"b", "quote inside"},
               {"1,2,3,4,5,6,7,8,9", "too many"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(rec, sizeof(rec), "%s", bad[i].s);
        why = NULL;
        assert_int_equal(kp_mmdbw_csv_split(rec, strlen(rec), fl, 8, &n, &why), KP_EINVAL);
        assert_non_null(strstr(why, bad[i].why));
    }
}

static int load_spec_text(struct kp_mmdbw *w, const char *text, size_t len, char *err,
                          size_t errlen)
{
    FILE *fp = fmemopen((void *)(uintptr_t)text, len, "r");
    assert_non_null(fp);
    int rc = kp_mmdbw_load_spec(w, fp, "t.spec", err, errlen);
    fclose(fp);
    return rc;
}

static void spec_error(const char *text, size_t len, const char *want)
{
    struct kp_mmdbw *w;
    char err[512] = "";
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(load_spec_text(w, text, len, err, sizeof(err)), KP_EINVAL);
    if (strncmp(err, want, strlen(want)) != 0) {
        fail_msg("spec error '%s', expected it to start with '%s'", err, want);
    }
    assert_null(strchr(err, '\n'));
    kp_mmdbw_free(w);
}

#define SPEC_ERR(text, want) spec_error((text), sizeof(text) - 1, (want))

static void test_spec_errors(void **state)
{
    (void)state;
    SPEC_ERR("10.0.0.0/8 cc=US\n\n# c\n10.0.0.1/8 cc=US\n",
             "t.spec:4: bad network '10.0.0.1/8': host bits set");
    SPEC_ERR("10.0.0.0/8 cc US\n", "t.spec:1: expected key=value, found 'cc'");
    SPEC_ERR("# x\n10.0.0.0/8 name=\"abc\n", "t.spec:2: unterminated quoted value of key 'name'");
    SPEC_ERR("10.0.0.0/8 a=1 a=2\n", "t.spec:1: key 'a': duplicate key");
    SPEC_ERR("10.0.0.0/8 country=US country.iso_code=US\n",
             "t.spec:1: key 'country.iso_code': key path runs through a value");
    SPEC_ERR("10.0.0.0/8 n=4294967296\n", "t.spec:1: integer value of key 'n' is above");
    SPEC_ERR("10.0.0.0/8\n", "t.spec:1: no key=value after the network");
    SPEC_ERR("10.0.0.0/8 # only a comment\n", "t.spec:1: no key=value");
    SPEC_ERR("10.0.0.0/8 a=\"x\\y\"\n", "t.spec:1: bad escape in value of key 'a'");
    SPEC_ERR("10.0.0.0/8 a=\"x\"y\n", "t.spec:1: text after the closing quote of key 'a'");
    SPEC_ERR("10.0.0.0/8 a=\n", "t.spec:1: empty value of key 'a'");
    SPEC_ERR("10.0.0.0/8 a=x\"y\n", "t.spec:1: quote inside the unquoted value");
    SPEC_ERR("10.0.0.0/8 =x\n", "t.spec:1: empty key");
    SPEC_ERR("10.0.0.0/8 a$b=x\n", "t.spec:1: bad character '$' in key");
    SPEC_ERR("10.0.0.0/8 a..b=x\n", "t.spec:1: key 'a..b': empty key");
    SPEC_ERR("10.0.0.0/8 a=\"\xff\"\n", "t.spec:1: key 'a': value is not valid UTF-8");
    SPEC_ERR("10.0.0.0/8 a=1\n10.0.0.0/8 b=\0\n", "t.spec:2: NUL byte in line");
    SPEC_ERR("\x1b[31m/8 a=1\n", "t.spec:1: bad network '?[31m/8'");
    SPEC_ERR("1.2.3.4/33 a=1\r\n", "t.spec:1: bad network '1.2.3.4/33': prefix length out");

    /* a line over the bound */
    size_t big = KP_MMDBW_MAX_LINE + 100;
    char *t = malloc(big + 32);
    assert_non_null(t);
    memcpy(t, "10.0.0.0/8 a=1\n10.0.0.0/8 s=", 28);
    memset(t + 28, 'x', big);
    memcpy(t + 28 + big, "\n", 1);
    spec_error(t, 28 + big + 1, "t.spec:2: line longer than");
    free(t);
}

static void test_spec_values(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    char err[512] = "";
    char path[512];
    char vbuf[256];
    MMDB_s db;
    static const char text[] =
        "# comment line\n"
        "\n"
        "   \t\n"
        "10.0.0.0/8\tas_org=\"Amazon.com, Inc.\" n=123 s=\"123\" q=\"say \\\"hi\\\" \\\\ ok\"\n"
        "2001:db8::/32 country.iso_code=US country.names.en=\"United States\"  # trailing\n"
        "192.0.2.1 x=y#no space before the comment\r\n"
        "198.51.100.0/24 e=\"\" zero=0 max=4294967295 lead=007 utf8=Réseau";
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(load_spec_text(w, text, sizeof(text) - 1, err, sizeof(err)), KP_OK);
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "10.1.1.1", "as_org"), "Amazon.com, Inc.");
    assert_string_equal(GET(&db, "10.1.1.1", "n"), "<u32:123>");
    assert_string_equal(GET(&db, "10.1.1.1", "s"), "123");
    assert_string_equal(GET(&db, "10.1.1.1", "q"), "say \"hi\" \\ ok");
    assert_string_equal(GET(&db, "2001:db8::1", "country.iso_code"), "US");
    assert_string_equal(GET(&db, "2001:db8::1", "country.names.en"), "United States");
    assert_string_equal(GET(&db, "192.0.2.1", "x"), "y");
    assert_string_equal(GET(&db, "192.0.2.2", "x"), "");
    assert_string_equal(GET(&db, "198.51.100.1", "e"), "");
    assert_string_equal(GET(&db, "198.51.100.1", "zero"), "<u32:0>");
    assert_string_equal(GET(&db, "198.51.100.1", "max"), "<u32:4294967295>");
    assert_string_equal(GET(&db, "198.51.100.1", "lead"), "<u32:7>");
    assert_string_equal(GET(&db, "198.51.100.1", "utf8"), "Réseau");
    MMDB_close(&db);
    kp_mmdbw_free(w);
}

static int load_csv_text(struct kp_mmdbw *w, const char *text, size_t len, uint64_t *rows,
                         char *err, size_t errlen)
{
    FILE *fp = fmemopen((void *)(uintptr_t)text, len, "r");
    assert_non_null(fp);
    int rc = kp_mmdbw_load_asn_csv(w, fp, "t.csv", rows, err, errlen);
    fclose(fp);
    return rc;
}

static void test_asn_csv(void **state)
{
    struct fx *f = *state;
    struct kp_mmdbw *w;
    char err[512] = "";
    char path[512];
    char vbuf[256];
    uint64_t rows = 0;
    MMDB_s db;
    static const char text[] =
        "ip_range_start, ip_range_end, autonomous_system_number, autonomous_system_organization\n"
        "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n"
        "2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\r\n"
        "\n"
        "3.0.0.0,3.0.0.9,AS16509,\"Two\n"
        "lines\"\n"
        "4.0.0.0,4.0.0.255,64512,\n"
        "45.70.144.0,45.70.147.255,267568,R. C. F. \xc2\xad TELECOM LTDA\n"
        "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n"
        "214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)\n"
        "215.0.0.0,215.1.3.255,721,DoD Network Information Center";
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    int rc = load_csv_text(w, text, sizeof(text) - 1, &rows, err, sizeof(err));
    if (rc != KP_OK) {
        fail_msg("%s", err);
    }
    assert_int_equal(rows, 8);
    write_db(f, w, NULL, path, sizeof(path), NULL);
    open_db(path, &db);
    assert_string_equal(GET(&db, "1.0.0.1", "autonomous_system_number"), "<u32:13335>");
    assert_string_equal(GET(&db, "1.0.0.1", "autonomous_system_organization"), "Cloudflare, Inc.");
    assert_string_equal(GET(&db, "1.0.1.1", "autonomous_system_number"), "");
    assert_string_equal(GET(&db, "2.26.215.255", "autonomous_system_organization"),
                        "LLC \"SPUTNIK\"");
    assert_string_equal(GET(&db, "3.0.0.9", "autonomous_system_organization"), "Two\nlines");
    assert_string_equal(GET(&db, "3.0.0.9", "autonomous_system_number"), "<u32:16509>");
    assert_string_equal(GET(&db, "3.0.0.10", "autonomous_system_number"), "");
    assert_string_equal(GET(&db, "4.0.0.4", "autonomous_system_organization"), "<nokey>");
    assert_string_equal(GET(&db, "45.70.146.1", "autonomous_system_organization"),
                        "R. C. F. \xc2\xad TELECOM LTDA");
    assert_string_equal(GET(&db, "2001:4860:4864:5::1", "autonomous_system_number"),
                        "<u32:15169>");
    /* overlapping rows: 215.0.0.0/16 is in both; the later row wins it */
    assert_string_equal(GET(&db, "214.95.1.1", "autonomous_system_number"), "<u32:749>");
    assert_string_equal(GET(&db, "215.0.1.1", "autonomous_system_number"), "<u32:721>");
    assert_string_equal(GET(&db, "215.1.3.1", "autonomous_system_number"), "<u32:721>");
    MMDB_close(&db);
    kp_mmdbw_free(w);
}

static void csv_error(const char *text, size_t len, const char *want)
{
    struct kp_mmdbw *w;
    char err[512] = "";
    assert_int_equal(kp_mmdbw_new(&w), KP_OK);
    assert_int_equal(load_csv_text(w, text, len, NULL, err, sizeof(err)), KP_EINVAL);
    if (strncmp(err, want, strlen(want)) != 0) {
        fail_msg("csv error '%s', expected it to start with '%s'", err, want);
    }
    kp_mmdbw_free(w);
}

#define CSV_ERR(text, want) csv_error((text), sizeof(text) - 1, (want))

static void test_asn_csv_errors(void **state)
{
    (void)state;
    CSV_ERR("1.0.0.0,1.0.0.255,1,a\n1.0.0.5,1.0.0.1,1,x\n", "t.csv:2: end address is below");
    CSV_ERR("1.0.0.0,::1,1,x\n", "t.csv:1: start and end addresses are of different families");
    CSV_ERR("1.0.0.0,1.0.0.255,abc,x\n", "t.csv:1: bad AS number 'abc'");
    CSV_ERR("1.0.0.0,1.0.0.255,4294967296,x\n", "t.csv:1: bad AS number");
    CSV_ERR("1.0.0.0,1.0.0.255,AS,x\n", "t.csv:1: bad AS number");
    CSV_ERR("1.0.0.0,1.0.0.255,1\n",
            "t.csv:1: expected 4 fields (start,end,asn,organisation), found 3");
    CSV_ERR("1.0.0.0,1.0.0.255,1,a,b\n", "t.csv:1: expected 4 fields");
    CSV_ERR("1.0.0.x,1.0.0.255,1,a\n", "t.csv:1: bad start address '1.0.0.x'");
    CSV_ERR("1.0.0.0,1.0.0.256,1,a\n", "t.csv:1: bad end address");
    CSV_ERR("1.0.0.0,1.0.0.255,1,a\n\n2.0.0.0,2.0.0.255,2,\"open\nstill\n",
            "t.csv:3: unterminated");
    CSV_ERR("1.0.0.0,1.0.0.255,1,\"a\"b\n", "t.csv:1: text after a closing quote");
    CSV_ERR("1.0.0.0,1.0.0.255,1,\xe9t\xe9\n", "t.csv:1: organisation is not valid UTF-8");
    CSV_ERR("1.0.0.0,1.0.0.255,1,a\x00\n", "t.csv:1: NUL byte");
    /* the header is only skipped on line 1 */
    CSV_ERR("1.0.0.0,1.0.0.255,1,a\nip_range_start,ip_range_end,asn,org\n",
            "t.csv:2: bad start address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_v4_v6_mapped),
        cmocka_unit_test(test_nested_prefixes),
        cmocka_unit_test(test_whole_ipv4_space),
        cmocka_unit_test(test_empty_db),
        cmocka_unit_test(test_pick_record_size),
        cmocka_unit_test(test_record_sizes),
        cmocka_unit_test(test_small_forced_sizes),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_merge_adjacent),
        cmocka_unit_test(test_nested_maps_and_types),
        cmocka_unit_test(test_rec_errors),
        cmocka_unit_test(test_metadata_and_reproducible),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_range_cidrs),
        cmocka_unit_test(test_insert_range_readback),
        cmocka_unit_test(test_parse_net),
        cmocka_unit_test(test_csv_split),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_spec_values),
        cmocka_unit_test(test_asn_csv),
        cmocka_unit_test(test_asn_csv_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

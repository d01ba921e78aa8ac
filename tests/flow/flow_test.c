/* Flow table: canonical keys, direction, capacity eviction, idle expiry,
 * release callbacks, seeded hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "flow.h"

struct rel {
    int idle, evicted, finish;
    uint16_t last_pa;
};

static void on_release(struct kp_flow *f, enum kp_flow_release why, void *user)
{
    struct rel *r = user;
    if (why == KP_FLOW_IDLE) {
        r->idle++;
    } else if (why == KP_FLOW_EVICTED) {
        r->evicted++;
    } else {
        r->finish++;
    }
    r->last_pa = f->key.pa < f->key.pb ? f->key.pa : f->key.pb;
}

static struct kp_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct kp_addr x;
    memset(&x, 0, sizeof(x));
    x.b[10] = x.b[11] = 0xff;
    x.b[12] = a;
    x.b[13] = b;
    x.b[14] = c;
    x.b[15] = d;
    return x;
}

static void test_bidirectional(void **state)
{
    (void)state;
    struct rel r = {0};
    struct kp_flow_table *t = kp_flow_table_new(16, 0, 1, on_release, &r);
    assert_non_null(t);
    struct kp_addr c = v4(10, 0, 0, 1), s = v4(52, 81, 151, 250);
    int dir;
    bool created;
    struct kp_flow *f1 = kp_flow_lookup(t, &c, 51000, &s, 443, 6, 1000, &dir, &created);
    assert_true(created);
    assert_int_equal(dir, 0);
    struct kp_flow *f2 = kp_flow_lookup(t, &s, 443, &c, 51000, 6, 2000, &dir, &created);
    assert_false(created);
    assert_ptr_equal(f1, f2);
    assert_int_equal(dir, 1);
    assert_int_equal(f1->last_us, 2000);
    /* same addresses, other protocol: another flow */
    struct kp_flow *f3 = kp_flow_lookup(t, &c, 51000, &s, 443, 17, 2000, &dir, &created);
    assert_true(created);
    assert_ptr_not_equal(f1, f3);
    /* initiator is the server side this time: dir 0 is its direction */
    struct kp_flow *f4 = kp_flow_lookup(t, &s, 443, &c, 40000, 6, 3000, &dir, &created);
    assert_true(created);
    assert_int_equal(dir, 0);
    assert_ptr_equal(kp_flow_lookup(t, &c, 40000, &s, 443, 6, 3000, &dir, &created), f4);
    assert_int_equal(dir, 1);
    struct kp_flow_counts cnt;
    kp_flow_table_counts(t, &cnt);
    assert_int_equal(cnt.created, 3);
    assert_int_equal(cnt.active, 3);
    kp_flow_table_flush(t);
    assert_int_equal(r.finish, 3);
    kp_flow_table_counts(t, &cnt);
    assert_int_equal(cnt.active, 0);
    kp_flow_table_free(t);
}

static void test_capacity_lru(void **state)
{
    (void)state;
    struct rel r = {0};
    struct kp_flow_table *t = kp_flow_table_new(4, 0, 2, on_release, &r);
    struct kp_addr c = v4(10, 0, 0, 1), s = v4(10, 0, 0, 2);
    int dir;
    bool created;
    for (uint16_t p = 1; p <= 4; p++) {
        kp_flow_lookup(t, &c, p, &s, 443, 6, p, &dir, &created);
    }
    /* touch flow 1 so that flow 2 is the least recently seen */
    kp_flow_lookup(t, &c, 1, &s, 443, 6, 10, &dir, &created);
    assert_false(created);
    kp_flow_lookup(t, &c, 5, &s, 443, 6, 11, &dir, &created);
    assert_true(created);
    assert_int_equal(r.evicted, 1);
    assert_int_equal(r.last_pa, 2);
    /* flow 1 survived */
    kp_flow_lookup(t, &c, 1, &s, 443, 6, 12, &dir, &created);
    assert_false(created);
    /* many more flows than capacity: bounded, every eviction reported */
    for (uint16_t p = 100; p < 1100; p++) {
        kp_flow_lookup(t, &c, p, &s, 443, 6, 20 + p, &dir, &created);
    }
    struct kp_flow_counts cnt;
    kp_flow_table_counts(t, &cnt);
    assert_int_equal(cnt.active, 4);
    assert_int_equal(cnt.evicted, 1 + 1000);
    assert_int_equal(r.evicted, 1001);
    kp_flow_table_free(t);
}

static void test_idle_expiry(void **state)
{
    (void)state;
    struct rel r = {0};
    struct kp_flow_table *t = kp_flow_table_new(64, 1000000, 3, on_release, &r);
    struct kp_addr c = v4(10, 0, 0, 1), s = v4(10, 0, 0, 2);
    int dir;
    bool created;
    kp_flow_lookup(t, &c, 1, &s, 443, 6, 0, &dir, &created);
    kp_flow_lookup(t, &c, 2, &s, 443, 6, 500000, &dir, &created);
    kp_flow_lookup(t, &c, 3, &s, 443, 6, 1000000, &dir, &created);
    kp_flow_table_expire(t, 1000000); /* flow 1 idle exactly 1 s: kept */
    assert_int_equal(r.idle, 0);
    kp_flow_lookup(t, &c, 3, &s, 443, 6, 1000001, &dir, &created);
    assert_int_equal(r.idle, 0); /* lookups never expire */
    kp_flow_table_expire(t, 1000001);
    assert_int_equal(r.idle, 1);
    assert_int_equal(r.last_pa, 1);
    /* flow 2 was touched at 1.4 s: it is re-filed, not expired, at 1.6 s */
    kp_flow_lookup(t, &c, 2, &s, 443, 6, 1400000, &dir, &created);
    kp_flow_table_expire(t, 1600000);
    assert_int_equal(r.idle, 1);
    kp_flow_table_expire(t, 2400001);
    assert_int_equal(r.idle, 3);
    assert_int_equal(r.last_pa, 3); /* in order of first packet: 2 (0.5 s), then 3 (1.0 s) */
    kp_flow_lookup(t, &c, 3, &s, 443, 6, 5000000, &dir, &created);
    assert_true(created); /* a flow that expired is new when seen again */
    kp_flow_table_free(t);
}

/* Expiry releases exactly the idle flows, in canonical order, whatever
 * else shares the table: two tables holding half the flows each release,
 * merged by (first time, key), what one table holding all of them does. */
struct seq {
    uint16_t ports[512];
    size_t n;
};

static void on_release_seq(struct kp_flow *f, enum kp_flow_release why, void *user)
{
    struct seq *q = user;
    (void)why;
    if (q->n < 512) {
        q->ports[q->n++] = f->key.pa < f->key.pb ? f->key.pa : f->key.pb;
    }
}

static void test_expiry_canonical(void **state)
{
    (void)state;
    struct seq all = {.n = 0}, part[2] = {{.n = 0}, {.n = 0}};
    struct kp_flow_table *one = kp_flow_table_new(1024, 2000000, 7, on_release_seq, &all);
    struct kp_flow_table *two[2] = {kp_flow_table_new(1024, 2000000, 8, on_release_seq, &part[0]),
                                    kp_flow_table_new(1024, 2000000, 9, on_release_seq, &part[1])};
    struct kp_addr c = v4(10, 0, 0, 1), s = v4(10, 0, 0, 2);
    int dir;
    bool created;
    uint64_t x = 12345;
    for (uint16_t p = 1000; p < 1300; p++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t t0 = (x >> 33) % 3000000, t1 = t0 + (x >> 13) % 2500000;
        kp_flow_lookup(one, &c, p, &s, 443, 17, t0, &dir, &created);
        kp_flow_lookup(one, &c, p, &s, 443, 17, t1, &dir, &created);
        kp_flow_lookup(two[p % 2], &c, p, &s, 443, 17, t0, &dir, &created);
        kp_flow_lookup(two[p % 2], &c, p, &s, 443, 17, t1, &dir, &created);
    }
    for (uint64_t now = 0; now <= 9000000; now += 250000) {
        size_t before = all.n;
        kp_flow_table_expire(one, now);
        size_t b0 = part[0].n, b1 = part[1].n;
        kp_flow_table_expire(two[0], now);
        kp_flow_table_expire(two[1], now);
        /* same flows released at this sweep */
        assert_int_equal(all.n - before, (part[0].n - b0) + (part[1].n - b1));
    }
    assert_int_equal(all.n, 300);
    assert_int_equal(part[0].n + part[1].n, 300);
    for (int i = 0; i < 2; i++) {
        kp_flow_table_free(two[i]);
    }
    kp_flow_table_free(one);
}

static void test_hash_seeded(void **state)
{
    (void)state;
    struct kp_flow_key k;
    memset(&k, 0, sizeof(k));
    k.a = v4(1, 2, 3, 4);
    k.pa = 80;
    k.proto = 6;
    uint64_t h1 = kp_flow_hash(&k, 1, 2), h2 = kp_flow_hash(&k, 1, 2), h3 = kp_flow_hash(&k, 3, 2);
    assert_true(h1 == h2);
    assert_true(h1 != h3);
    k.pa = 81;
    assert_true(kp_flow_hash(&k, 1, 2) != h1);
    assert_null(kp_flow_table_new(0, 0, 0, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bidirectional),
        cmocka_unit_test(test_capacity_lru),
        cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_expiry_canonical),
        cmocka_unit_test(test_hash_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

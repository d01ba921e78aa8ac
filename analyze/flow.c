/* Flow table, see flow.h. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

struct kp_flow_table {
    struct kp_flow *flows; /* capacity entries, 64-byte aligned */
    void *flows_mem;       /* what calloc returned */
    uint32_t fresh;        /* entries never used yet start here (index) */
    uint32_t *buckets;   /* index + 1 of the first flow in the chain */
    uint32_t nbuckets;   /* power of two */
    uint32_t capacity;
    uint32_t used;
    uint32_t free_head;  /* free list through hnext (index + 1) */
    uint32_t lru_head, lru_tail; /* oldest, newest (index + 1) */
    uint64_t idle_us;
    uint32_t grain;      /* KP_FLOW_LRU_GRAIN_US in lru_time() units */
    uint64_t k0, k1;
    kp_flow_release_fn release;
    void *user;
    struct kp_flow_counts counts;
};

/* SipHash-1-3 (Aumasson & Bernstein): keyed so that an attacker who cannot
 * see the seed cannot aim many flows at one bucket.  Written from the paper's
 * description; 1 compression and 3 finalisation rounds are enough for hash
 * tables (the choice of Rust's and Python's hash tables). */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                 \
    do {                                                                         \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                   \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                   \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                \
    } while (0)

static uint64_t load64le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* one unaligned load */
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
#endif
}

uint64_t kp_siphash13(const uint8_t *in, size_t len, uint64_t k0, uint64_t k1)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load64le(in + i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = full; i < len; i++) {
        b |= (uint64_t)in[i] << (8 * (i - full));
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t kp_flow_hash(const struct kp_flow_key *k, uint64_t k0, uint64_t k1)
{
    return kp_siphash13((const uint8_t *)k, sizeof(*k), k0, k1);
}

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finaliser: derive the second SipHash key word from the seed */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void kp_flow_table_keys(const struct kp_flow_table *t, uint64_t *k0, uint64_t *k1)
{
    *k0 = t->k0;
    *k1 = t->k1;
}

struct kp_flow_table *kp_flow_table_new(uint32_t capacity, uint64_t idle_us, uint64_t seed,
                                        kp_flow_release_fn release, void *user)
{
    if (capacity == 0 || capacity > (UINT32_MAX >> 2)) {
        return NULL;
    }
    struct kp_flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    uint32_t nb = 16;
    while (nb < capacity) {
        nb <<= 1;
    }
    /* calloc, not malloc + memset: the kernel hands out zeroed pages as
     * they are first touched, so a large table costs nothing until used. */
    t->flows_mem = calloc((size_t)capacity + 1, sizeof(*t->flows));
    t->buckets = calloc(nb, sizeof(*t->buckets));
    if (t->flows_mem == NULL || t->buckets == NULL) {
        free(t->flows_mem);
        free(t->buckets);
        free(t);
        return NULL;
    }
    uintptr_t a = ((uintptr_t)t->flows_mem + 63) & ~(uintptr_t)63;
    t->flows = (struct kp_flow *)a;
    t->nbuckets = nb;
    t->capacity = capacity;
    t->free_head = 0; /* the free list holds released entries; fresh ones come from t->fresh */
    t->idle_us = idle_us;
    uint64_t grain_us = KP_FLOW_LRU_GRAIN_US;
    if (idle_us != 0 && idle_us / 8 < grain_us) {
        grain_us = idle_us / 8;
    }
    t->grain = (uint32_t)(grain_us >> 10);
    t->k0 = mix64(seed);
    t->k1 = mix64(seed ^ 0x5bd1e9955bd1e995ULL);
    t->release = release;
    t->user = user;
    return t;
}

void kp_flow_table_free(struct kp_flow_table *t)
{
    if (t == NULL) {
        return;
    }
    free(t->flows_mem);
    free(t->buckets);
    free(t);
}

static int addr_port_cmp(const struct kp_addr *a, uint16_t pa, const struct kp_addr *b,
                         uint16_t pb)
{
    int c = memcmp(a->b, b->b, sizeof(a->b));
    if (c != 0) {
        return c;
    }
    return (pa > pb) - (pa < pb);
}

bool kp_flow_key_make(struct kp_flow_key *k, const struct kp_addr *src, uint16_t sport,
                      const struct kp_addr *dst, uint16_t dport, uint8_t proto)
{
    memset(k, 0, sizeof(*k)); /* padding too: keys are hashed and compared as bytes */
    bool src_is_a = addr_port_cmp(src, sport, dst, dport) <= 0;
    k->a = src_is_a ? *src : *dst;
    k->pa = src_is_a ? sport : dport;
    k->b = src_is_a ? *dst : *src;
    k->pb = src_is_a ? dport : sport;
    k->proto = proto;
    return src_is_a;
}

static void lru_unlink(struct kp_flow_table *t, struct kp_flow *f)
{
    if (f->lru_prev != 0) {
        t->flows[f->lru_prev - 1].lru_next = f->lru_next;
    } else {
        t->lru_head = f->lru_next;
    }
    if (f->lru_next != 0) {
        t->flows[f->lru_next - 1].lru_prev = f->lru_prev;
    } else {
        t->lru_tail = f->lru_prev;
    }
    f->lru_prev = f->lru_next = 0;
}

static uint32_t lru_time(uint64_t us) { return (uint32_t)(us >> 10); }

static void lru_push_newest(struct kp_flow_table *t, struct kp_flow *f, uint32_t idx1,
                            uint64_t now_us)
{
    f->lru_ms = lru_time(now_us);
    f->touched = 0;
    f->lru_prev = t->lru_tail;
    f->lru_next = 0;
    if (t->lru_tail != 0) {
        t->flows[t->lru_tail - 1].lru_next = idx1;
    } else {
        t->lru_head = idx1;
    }
    t->lru_tail = idx1;
}

static void remove_flow(struct kp_flow_table *t, uint32_t idx1, enum kp_flow_release why)
{
    struct kp_flow *f = &t->flows[idx1 - 1];
    if (t->release != NULL) {
        t->release(f, why, t->user);
    }
    uint32_t b = f->hash & (t->nbuckets - 1);
    uint32_t *pp = &t->buckets[b];
    while (*pp != 0 && *pp != idx1) {
        pp = &t->flows[*pp - 1].hnext;
    }
    if (*pp == idx1) {
        *pp = f->hnext;
    }
    lru_unlink(t, f);
    memset(f, 0, sizeof(*f));
    f->hnext = t->free_head;
    t->free_head = idx1;
    t->used--;
    if (why == KP_FLOW_IDLE) {
        t->counts.idle++;
    } else if (why == KP_FLOW_EVICTED) {
        t->counts.evicted++;
    }
}

struct kp_flow *kp_flow_lookup(struct kp_flow_table *t, const struct kp_addr *src,
                               uint16_t sport, const struct kp_addr *dst, uint16_t dport,
                               uint8_t proto, uint64_t now_us, int *dir, bool *created)
{
    struct kp_flow_key k;
    bool src_is_a = kp_flow_key_make(&k, src, sport, dst, dport, proto);

    /* Expire idle flows, oldest first; captures may go back in time a
     * little (merged files), so only strictly older flows expire.  The
     * list is in order of the last move, not of the last packet: stop at
     * the first flow that is still active (those behind it were moved at
     * most one grain later than it, so they expire at most one grain
     * late). */
    while (t->idle_us != 0 && t->lru_head != 0) {
        struct kp_flow *old = &t->flows[t->lru_head - 1];
        if (old->last_us + t->idle_us >= now_us) {
            break;
        }
        remove_flow(t, t->lru_head, KP_FLOW_IDLE);
    }

    uint32_t h = (uint32_t)kp_flow_hash(&k, t->k0, t->k1);
    uint32_t b = h & (t->nbuckets - 1);
    for (uint32_t i = t->buckets[b]; i != 0; i = t->flows[i - 1].hnext) {
        struct kp_flow *f = &t->flows[i - 1];
        if (f->hash == h && memcmp(&f->key, &k, sizeof(k)) == 0) {
            *dir = (src_is_a == (f->init_is_a != 0)) ? 0 : 1;
            *created = false;
            if (now_us > f->last_us) {
                f->last_us = now_us;
                if (lru_time(now_us) - f->lru_ms >= t->grain && t->lru_tail != i) {
                    lru_unlink(t, f);
                    lru_push_newest(t, f, i, now_us);
                } else {
                    f->touched = 1;
                }
            }
            return f;
        }
    }

    if (t->free_head == 0 && t->fresh == t->capacity) {
        /* Full: evict the least recently seen flow.  Flows at the head that
         * saw packets since they were last moved get a second chance (moved
         * to the end); then look a few entries further for one with no
         * analysis pending, so that a flood of new flows does not push out
         * a handshake waiting for its server. */
        for (int n = 0; n < 64 && t->lru_head != t->lru_tail; n++) {
            uint32_t hd = t->lru_head;
            struct kp_flow *c = &t->flows[hd - 1];
            if (!c->touched) {
                break;
            }
            lru_unlink(t, c);
            lru_push_newest(t, c, hd, c->last_us > now_us ? c->last_us : now_us);
        }
        uint32_t victim = t->lru_head;
        uint32_t i = t->lru_head;
        for (int n = 0; i != 0 && n < 32; n++, i = t->flows[i - 1].lru_next) {
            const struct kp_flow *c = &t->flows[i - 1];
            if (c->app == NULL || c->bypass) {
                victim = i;
                break;
            }
        }
        remove_flow(t, victim, KP_FLOW_EVICTED);
    }
    uint32_t idx1;
    if (t->free_head != 0) {
        idx1 = t->free_head;
        t->free_head = t->flows[idx1 - 1].hnext;
    } else {
        idx1 = ++t->fresh;
    }
    struct kp_flow *f = &t->flows[idx1 - 1];
    memset(f, 0, sizeof(*f));
    f->key = k;
    f->hash = h;
    f->in_use = 1;
    f->init_is_a = src_is_a ? 1 : 0;
    f->first_us = f->last_us = now_us;
    f->hnext = t->buckets[b];
    t->buckets[b] = idx1;
    lru_push_newest(t, f, idx1, now_us);
    t->used++;
    t->counts.created++;
    *dir = 0;
    *created = true;
    return f;
}

void kp_flow_table_foreach(struct kp_flow_table *t, void (*fn)(const struct kp_flow *f, void *user),
                           void *user)
{
    for (uint32_t i = t->lru_head; i != 0; i = t->flows[i - 1].lru_next) {
        fn(&t->flows[i - 1], user);
    }
}

void kp_flow_table_flush(struct kp_flow_table *t)
{
    while (t->lru_head != 0) {
        remove_flow(t, t->lru_head, KP_FLOW_FINISH);
    }
}

void kp_flow_table_counts(const struct kp_flow_table *t, struct kp_flow_counts *c)
{
    *c = t->counts;
    c->active = t->used;
}
